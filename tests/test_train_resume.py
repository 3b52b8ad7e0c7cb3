"""Exact resume for real: `train.py --preset tiny` killed with SIGKILL after a checkpoint, resumed with
`--resume`, reproduces the per-step losses of an uninterrupted run to 1e-6 and consumes no sample twice."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

# A smaller tiny model and a small synthetic task, so that a step takes well under a second on 2 cores.
FAST = ["--set", "model.hidden_size=64", "--set", "model.intermediate_size=128", "--set", "model.num_layers=2",
        "--set", "model.vocab_size=300", "--set", "model.max_tiles=1", "--set", "data.max_length=96",
        "--set", "micro_batch_size=4", "--set", "warmup_steps=2", "--set", "log_sample_ids=true",
        "--set", 'data.synthetic_kwargs={"n_train": 48, "n_eval": 4, "qa_per_image": 2}']


def train_cmd(out: Path, data: Path, steps: int, save_every: int, *extra: str) -> list[str]:
    return [sys.executable, str(ROOT / "train.py"), "--preset", "tiny", "--output-dir", str(out), "--max-steps",
            str(steps), "--save-every", str(save_every), "--set", f"data.synthetic_dir={data}", *FAST, *extra]


def env() -> dict[str, str]:
    e = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    e.pop("WORLD_SIZE", None)
    return e


def metrics(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x.strip()]


@pytest.mark.slow
def test_sigkill_then_resume_reproduces_the_uninterrupted_run(tmp_path):
    data = tmp_path / "data"
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    subprocess.run(train_cmd(ref, data, 8, 3), check=True, env=env(), cwd=ROOT, timeout=600,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    reference = metrics(ref)
    assert [r["step"] for r in reference] == list(range(1, 9))

    proc = subprocess.Popen(train_cmd(killed, data, 8, 3), env=env(), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not (killed / "checkpoint-3" / "trainer_state" / "state.json").is_file():
        assert proc.poll() is None, "the run ended before its first checkpoint"
        assert time.time() < deadline, "no checkpoint-3 within 10 minutes"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (killed / "final").exists() and not (killed / "checkpoint-6").exists(), "killed too late"

    subprocess.run(train_cmd(killed, data, 8, 3, "--resume"), check=True, env=env(), cwd=ROOT, timeout=600,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    resumed = metrics(killed)
    assert [r["step"] for r in resumed] == list(range(1, 9))
    for a, b in zip(resumed, reference, strict=True):
        assert abs(a["loss"] - b["loss"]) <= 1e-6, (a["step"], a["loss"], b["loss"])
        assert a["sample_indices"] == b["sample_indices"]
    seen = [i for r in resumed for i in r["sample_indices"]]
    assert len(seen) == len(set(seen)) == 8 * 4  # 8 steps x 4 samples, within one epoch of 48: none twice
    assert (killed / "final" / "config.json").is_file()
    assert (killed / "final" / "tokenizer.json").is_file()
