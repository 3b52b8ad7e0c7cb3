"""`eval.py score` reproduces every number of the closed-benchmark fixtures' expected.json (official and
authors blocks, within 1e-6), and the shared parsers agree with the fixtures' per-item diagnostics."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from eval.cli import main
from eval.parsing import choices_dict, llava_sqa_letter, vlmeval_can_infer, vlmeval_yes_no
from eval.registry import get_benchmark
from tests.conftest import FIXTURES, ROOT

CLOSED = ["sqa-img", "ai2d", "chartqa", "seed-img", "seed-bench-2-plus", "pope", "hallusionbench", "mme",
          "mmbench-dev-en", "mmbench-dev-cn", "mmstar", "blink", "cv-bench", "q-bench"]


def numeric_leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from numeric_leaves(value, path + (key,))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path, node


def lookup(node, path):
    for key in path:
        assert isinstance(node, dict) and key in node, f"missing key {'/'.join(path)}"
        node = node[key]
    return node


def run_score(name: str, scoring: str, out: Path) -> dict:
    fixture = FIXTURES / "eval" / name
    rc = main(["score", "--benchmark", name, "--data-root", str(fixture / "data"),
               "--predictions", str(fixture / "predictions.jsonl"), "--out", str(out), "--scoring", scoring])
    assert rc == 0
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.parametrize("scoring", ["official", "authors"])
@pytest.mark.parametrize("name", CLOSED)
def test_score_reproduces_expected(name: str, scoring: str, tmp_path: Path) -> None:
    expected = json.loads((FIXTURES / "eval" / name / "expected.json").read_text(encoding="utf-8"))[scoring]
    got = run_score(name, scoring, tmp_path / "metrics.json")
    leaves = list(numeric_leaves(expected))
    assert leaves, "fixture block without numbers"
    for path, value in leaves:
        assert math.isclose(lookup(got, path), value, rel_tol=0, abs_tol=1e-6), (path, lookup(got, path), value)
    # Non-numeric documentation entries that are data (the authors' crash reports) must agree too.
    for key in ("raises", "crashing_ids"):
        if key in expected:
            assert got[key] == expected[key]


def test_score_script_runs_as_a_subprocess(tmp_path: Path) -> None:
    fixture = FIXTURES / "eval" / "mmbench-dev-en"
    out = tmp_path / "m.json"
    proc = subprocess.run([sys.executable, "eval.py", "score", "--benchmark", "mmbench-dev-en", "--data-root",
                           str(fixture / "data"), "--predictions", str(fixture / "predictions.jsonl"), "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["circular"]["Overall"] == pytest.approx(50.0, abs=1e-9)
    assert "circular.Overall" in proc.stdout


def _per_item(name: str) -> dict:
    return json.loads((FIXTURES / "eval" / name / "expected.json").read_text(encoding="utf-8"))["per_item"]


@pytest.mark.parametrize("name", ["ai2d"])
def test_can_infer_matches_vlmevalkit_per_item(name: str) -> None:
    items = {it.id: it for it in get_benchmark(name).read(FIXTURES / "eval" / name / "data")}
    for key, row in _per_item(name).items():
        assert vlmeval_can_infer(row["prediction"], choices_dict(items[key].options)) == row["vlmevalkit_extracted"], key


def test_llava_sqa_parser_matches_per_item() -> None:
    for key, row in _per_item("sqa-img").items():
        parsed = llava_sqa_letter(row["prediction"])
        assert (parsed or "FAILED") == row["official_parsed"], key


def test_yes_no_extraction_matches_per_item() -> None:
    for key, row in _per_item("hallusionbench").items():
        assert vlmeval_yes_no(row["prediction"]) == row["vlmevalkit_extracted"], key


def test_blink_analyze_answer_matches_per_item() -> None:
    from eval.benchmarks.blink import analyze_answer

    items = {it.id: it for it in get_benchmark("blink").read(FIXTURES / "eval" / "blink" / "data")}
    for key, row in _per_item("blink").items():
        assert analyze_answer(row["prediction"], len(items[key].options)) == row["official_extracted"], key
