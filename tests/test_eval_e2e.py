"""End to end through eval.py with a tiny random model on the miniature benchmarks (the fixtures' data):
every closed benchmark runs; batch size 8 gives the predictions of batch size 1; a SIGKILLed run resumes to
the same predictions file without generating an item twice; two processes give the one-process predictions."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eval.cli import main
from eval.registry import all_benchmarks
from tests.conftest import FIXTURES, ROOT
from tests.test_eval_fixtures import CLOSED



@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from eval.tiny import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model", preset="tiny-qwen2")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Evaluation_Dataset_Path with every miniature benchmark of the fixtures (closed and open)."""
    root = tmp_path_factory.mktemp("eval_root")
    for fixture in sorted((FIXTURES / "eval").iterdir()):
        if not (fixture / "data").is_dir():
            continue
        for child in (fixture / "data").iterdir():
            target = root / child.name
            if child.is_dir() and child.name == "MMBench":
                target.mkdir(exist_ok=True)
                for f in child.iterdir():
                    (target / f.name).symlink_to(f.resolve())
            elif not target.exists():
                target.symlink_to(child.resolve())
    return root


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def eval_args(model: Path, root: Path, out: Path, benchmarks: str, *extra: str) -> list[str]:
    return ["--model", str(model), "--benchmark", benchmarks, "--data-root", str(root), "--output-dir", str(out),
            *extra]


def test_every_miniature_benchmark_runs_end_to_end(tiny_model: Path, data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "eval.py", *eval_args(tiny_model, data_root, out, "all", "--limit", "3",
                                                                 "--batch-size", "3", "--max-new-tokens", "8")],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    registered = {b.name for b in all_benchmarks()}
    fixtures = {f.name for f in (FIXTURES / "eval").iterdir() if (f / "data").is_dir()} & registered
    assert set(CLOSED) <= fixtures
    assert fixtures <= set(results["benchmarks"]), fixtures - set(results["benchmarks"])
    for name in fixtures:
        preds = lines(out / name / "predictions.jsonl")
        assert len(preds) == 3 and len({p["id"] for p in preds}) == 3, name
        assert all(isinstance(p["prediction"], str) for p in preds)
        assert results["benchmarks"][name]["generated"] == 3
        assert json.loads((out / name / "metrics.json").read_text()) == results["benchmarks"][name]["metrics"]
    assert "mmstar" in proc.stdout and "final score" in proc.stdout  # the printed table
    assert "skipping mmbench-test-cn, mmbench-test-en" in proc.stderr  # `all` skips benchmarks without files


@pytest.mark.parametrize("benchmarks", ["pope,hallusionbench,blink"])
def test_batched_predictions_equal_batch_size_one(tiny_model: Path, data_root: Path, tmp_path: Path,
                                                  benchmarks: str) -> None:
    # pope: single images; hallusionbench: text-only rows among image rows; blink: several images per question.
    for batch in ("1", "8"):
        assert main(eval_args(tiny_model, data_root, tmp_path / batch, benchmarks, "--batch-size", batch,
                              "--limit", "8")) == 0
    for name in benchmarks.split(","):
        one, many = lines(tmp_path / "1" / name / "predictions.jsonl"), lines(tmp_path / "8" / name / "predictions.jsonl")
        assert len(one) == 8
        assert one == many, name


def test_sigkill_mid_benchmark_resumes_without_regenerating(tiny_model: Path, data_root: Path,
                                                            tmp_path: Path) -> None:
    args = eval_args(tiny_model, data_root, tmp_path / "ref", "mme", "--batch-size", "1", "--limit", "24")
    assert main(args) == 0
    reference = (tmp_path / "ref" / "mme" / "predictions.jsonl").read_text()

    out = tmp_path / "killed"
    partial = out / "mme" / "predictions.rank0.jsonl"
    proc = subprocess.Popen([sys.executable, "eval.py", *eval_args(tiny_model, data_root, out, "mme",
                                                                   "--batch-size", "1", "--limit", "24")],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if partial.exists() and len(partial.read_text().splitlines()) >= 5:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    before = [json.loads(x) for x in partial.read_text().splitlines() if x.strip().endswith("}")]
    assert 5 <= len(before) < 24
    assert not (out / "results.json").exists()

    assert main(eval_args(tiny_model, data_root, out, "mme", "--batch-size", "1", "--limit", "24")) == 0
    assert (out / "mme" / "predictions.jsonl").read_text() == reference
    run = json.loads((out / "results.json").read_text())["benchmarks"]["mme"]
    assert run["resumed"] == len(before)
    assert run["generated"] == 24 - len(before)  # every item generated once over the two runs
    assert not list((out / "mme").glob("predictions.rank*.jsonl"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_give_the_one_process_predictions(tiny_model: Path, data_root: Path, tmp_path: Path) -> None:
    benchmarks = "pope,blink"
    env = dict(os.environ, MODEL=str(tiny_model), DATA_ROOT=str(data_root), BENCHMARKS=benchmarks,
               PYTHON=sys.executable, PORT=str(_free_port()), BATCH_SIZE="4", OMP_NUM_THREADS="1")
    for nproc in ("1", "2"):
        run = subprocess.run(["bash", "scripts/eval_all.sh", "--limit", "9"], cwd=ROOT, capture_output=True,
                             text=True, timeout=900, env=dict(env, NPROC=nproc, OUT=str(tmp_path / nproc)))
        assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((tmp_path / "2" / "results.json").read_text())
    assert results["world_size"] == 2
    for name in benchmarks.split(","):
        one, two = lines(tmp_path / "1" / name / "predictions.jsonl"), lines(tmp_path / "2" / name / "predictions.jsonl")
        assert len(one) == 9 and one == two, name
        assert results["benchmarks"][name]["generated"] == 9
