"""End to end through `eval.py` with a tiny random model on every open miniature benchmark, the judge being a
fake OpenAI-compatible endpoint on 127.0.0.1 (a random model's answers are not in the recorded replay files,
so the fake judge answers each grader's format); then `eval.py score` rescores the saved predictions.

The run is in-process (`eval.cli.main`) with the benchmarks' generation budget cut to 8 tokens: the authors'
512/1024 new tokens of an untrained model take many minutes on 2 CPU cores (the budgets themselves are
checked in test_open_scores)."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval.judge_prompts import MATHVERSE_SCORE_DEMO, MATHVISTA_EXTRACT_DEMO, MMVET_V1_PROMPT, MMVET_V2_PROMPT
from eval import registry
from eval.cli import main
from tests.conftest import ROOT
from tests.test_open_support import OPEN_BENCHMARKS, StubOpenAI, fixture_dir

pytestmark = pytest.mark.slow


def fake_judge(request: dict) -> tuple[int, str]:
    """A well-formed reply for each grader prompt."""
    content = request["messages"][-1]["content"]
    if content.startswith(MATHVISTA_EXTRACT_DEMO[:80]):
        return 200, "A"
    if content.startswith(MATHVERSE_SCORE_DEMO[:80]):
        return 200, "Judgement: 0"
    if content.startswith(MMVET_V1_PROMPT[:80]) or content.startswith(MMVET_V2_PROMPT[:80]):
        return 200, "0.3"
    if content.startswith("[Context]"):
        return 200, "8 2\nAssistant 2 is a random model."
    return 200, "Extracted Answer: 7"  # MathVerse extraction


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("open_root")
    for name in OPEN_BENCHMARKS:
        for child in (fixture_dir(name) / "data").iterdir():
            (root / child.name).symlink_to(child.resolve())
    return root


def test_tiny_model_runs_every_open_benchmark_and_rescoring_agrees(data_root: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from eval.tiny import save_tiny_model

    for name in OPEN_BENCHMARKS:
        bench = registry.get_benchmark(name)
        monkeypatch.setitem(registry.BENCHMARKS, name, dataclasses.replace(bench, max_new_tokens=8))
    for var in ("OPENAI_BASE_URL", "JUDGE_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_BASE_URL", "JUDGE_BASE_URL")}
    model = save_tiny_model(tmp_path / "model", preset="tiny")
    out = tmp_path / "out"
    with StubOpenAI(fake_judge, max_requests=400) as stub:
        judge_flags = ["--judge-base-url", stub.base_url, "--judge-cache", str(tmp_path / "cache")]
        assert main(["--model", str(model), "--benchmark", ",".join(OPEN_BENCHMARKS), "--data-root", str(data_root),
                     "--output-dir", str(out), "--limit", "1", "--batch-size", "1", *judge_flags]) == 0
        served = len(stub.requests)
        results = json.loads((out / "results.json").read_text())
        assert sorted(results["benchmarks"]) == sorted(OPEN_BENCHMARKS)
        for name in OPEN_BENCHMARKS:
            preds = [json.loads(x) for x in (out / name / "predictions.jsonl").read_text().splitlines() if x]
            assert len(preds) == 1 and all(isinstance(p["prediction"], str) for p in preds), name
            metrics = results["benchmarks"][name]["metrics"]
            if name != "visualwebbench":
                judging = metrics["judging"]
                assert judging["complete"] and judging["judge"]["models_returned"] in ([], ["stub-judge-1"]), name
        assert results["benchmarks"]["mm-vet"]["metrics"]["total"] == 30.0  # every answer graded 0.3
        assert results["benchmarks"]["mathverse"]["metrics"]["testmini"]["overall_5_versions"]["acc"] == 0.0
        assert results["benchmarks"]["llava-bench-wilder"]["metrics"]["summary"]["all"]["relative_score"] == 25.0
        assert served > 0

        # rescoring the saved predictions: every judge call now comes from the cache
        rescored = tmp_path / "rescored.json"
        proc = subprocess.run([sys.executable, "eval.py", "score", "--benchmark", "mm-vet", "--data-root",
                               str(data_root), "--predictions", str(out / "mm-vet" / "predictions.jsonl"),
                               "--limit", "1", "--out", str(rescored), *judge_flags], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert len(stub.requests) == served
    again = json.loads(rescored.read_text())
    first = results["benchmarks"]["mm-vet"]["metrics"]
    assert again["capability"] == first["capability"] and again["judging"]["judge"]["cache_hits"] >= 1
