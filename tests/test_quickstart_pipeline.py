"""scripts/quickstart.sh end to end, shortened: synthetic task -> train.py -> eval.py -> demo.py -> summary line.

The shortened quickstart (the recipe's training, a smaller evaluation, no set-up or figures) must learn: the POPE
split scores clearly above chance (50 %; the margin is several binomial standard deviations).
The full recipe's measured numbers are in docs/quickstart.md. The `--plain` variant (TroL and Phantom off) is
checked to run through and to really build a model without them.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The shortened quickstart keeps the recipe's training (1,100 steps of 32 on the same 3,000 images, about 6 min on
# 2 cores) and shortens the rest: 40 evaluation images instead of 50, no set-up, no figures. A shorter schedule
# does not leave the plateau reliably (measured: 700 steps of captions then existence questions stayed at chance,
# docs/quickstart.md); QUICKSTART_TEST_STEPS overrides the steps for a quick local look.
SHORT_STEPS = int(os.environ.get("QUICKSTART_TEST_STEPS", 1100))
LINE = re.compile(r"^quickstart: pope_accuracy=(\d\.\d+) mmbench_accuracy=(\d\.\d+)$")


def run_quickstart(out: Path, *args: str, steps: int, n_train: int, n_eval: int, timeout: int,
                   extra: str = "") -> tuple[str, float, float]:
    env = dict(os.environ, QUICKSTART_OUT=str(out), QUICKSTART_STEPS=str(steps), QUICKSTART_N_TRAIN=str(n_train),
               QUICKSTART_N_EVAL=str(n_eval), QUICKSTART_SKIP_SETUP="1", QUICKSTART_FIGURES="",
               QUICKSTART_SET=extra, PYTHON=str(ROOT / ".venv" / "bin" / "python"))
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "quickstart.sh"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"quickstart failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    last = proc.stdout.strip().splitlines()[-1]
    match = LINE.match(last)
    assert match, f"the last line must be the summary, got {last!r}"
    pope, mmb = float(match.group(1)), float(match.group(2))
    assert 0 <= pope <= 1 and 0 <= mmb <= 1
    return proc.stdout, pope, mmb


def test_rejects_unknown_arguments() -> None:
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "quickstart.sh"), "--fast"], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "unknown argument" in proc.stderr


@pytest.fixture(scope="module")
def shortened_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, float, float]:
    """One shortened quickstart (default variant) shared by the tests below."""
    out = tmp_path_factory.mktemp("quickstart")
    stdout, pope, mmb = run_quickstart(out, steps=SHORT_STEPS, n_train=3000, n_eval=40, timeout=1100)
    return out, stdout, pope, mmb


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_shortened_quickstart_runs_through(shortened_run: tuple[Path, str, float, float]) -> None:
    out, stdout, _, _ = shortened_run
    assert "model> " in stdout, "demo.py answered a question"
    results = json.loads((out / "trol-phantom" / "eval" / "results.json").read_text())
    assert set(results["benchmarks"]) == {"pope", "mmbench-dev-en"}
    # 40 images x 2 yes x 2 x 3 splits = 480 POPE questions; 40 MMBench questions x 4 circular copies
    assert results["benchmarks"]["pope"]["n_items"] == 480
    assert results["benchmarks"]["mmbench-dev-en"]["n_items"] == 160
    config = json.loads((out / "trol-phantom" / "final" / "config.json").read_text())
    assert config["use_trol"] is True and config["use_phantom"] is True
    steps = [json.loads(line)["step"] for line in (out / "trol-phantom" / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == SHORT_STEPS
    assert (out / "comparison.md").read_text().startswith("| model |")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_shortened_quickstart_learns_above_chance(shortened_run: tuple[Path, str, float, float]) -> None:
    """POPE must be clearly above chance. MMBench is not asserted: the recipe's MMBench score is still at chance
    (docs/quickstart.md, "Measured: the current recipe")."""
    _, _, pope, _ = shortened_run
    # chance: 0.5 with sd 0.023 over 480 questions; 0.58 is > 3 sd above it
    assert pope >= 0.58, f"POPE accuracy {pope} is not clearly above chance 0.5"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_plain_variant_runs_without_trol_and_phantom(tmp_path: Path) -> None:
    run_quickstart(tmp_path, "--plain", steps=3, n_train=64, n_eval=4, timeout=580)
    config = json.loads((tmp_path / "plain" / "final" / "config.json").read_text())
    assert config["use_trol"] is False and config["use_phantom"] is False
    assert not (tmp_path / "trol-phantom").exists()
