"""scripts/quickstart.sh end to end, shortened: synthetic task -> train.py -> eval.py -> demo.py -> summary line.

The shortened quickstart (the recipe's training, a smaller evaluation, no set-up or figures) must learn: POPE well
above chance, including its adversarial split (the binding of colour to shape; margins of several binomial sd).
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
# The shortened quickstart keeps the recipe's training (its steps, training images and vision pretraining: about
# 7 min on 2 cores) and shortens the rest: 40 evaluation images instead of 50, no set-up, no figures. The binding
# of colour to shape comes late in the schedule (docs/quickstart.md, "Diagnosis" 5: 1,100 steps were not enough),
# so the steps are not cut; QUICKSTART_TEST_STEPS overrides them for a quick local look.
SHORT_STEPS = int(os.environ.get("QUICKSTART_TEST_STEPS", 1400))
LINE = re.compile(r"^quickstart: pope_accuracy=(\d\.\d+) mmbench_accuracy=(\d\.\d+)$")


def run_quickstart(out: Path, *args: str, steps: int, n_eval: int, timeout: int, n_train: int | None = None,
                   extra: str = "") -> tuple[str, float, float]:
    """Run the script; `n_train` None keeps the recipe's number of training images."""
    env = dict(os.environ, QUICKSTART_OUT=str(out), QUICKSTART_STEPS=str(steps), QUICKSTART_N_EVAL=str(n_eval),
               QUICKSTART_SKIP_SETUP="1", QUICKSTART_FIGURES="", QUICKSTART_SET=extra,
               PYTHON=str(ROOT / ".venv" / "bin" / "python"))
    if n_train is not None:
        env["QUICKSTART_N_TRAIN"] = str(n_train)
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


FAKE_PYTHON = """#!/usr/bin/env bash
# stands in for the interpreter: logs its call; the first call overwrites the quickstart script that is running
echo "$*" >> "$CALLS"
if [ ! -f "$CALLS.edited" ]; then touch "$CALLS.edited"; printf 'echo EDITED; exit 7\\n' > "$SCRIPT"; fi
case "$*" in *--table*) last="${@: -1}"; mkdir -p "$(dirname "$last")"; printf '| model |\\n' > "$last" ;; esac
printf 'image.jpg\\nIs there a red circle?\\nyes\\n'
"""


def test_editing_the_script_during_a_run_changes_nothing(tmp_path: Path) -> None:
    """bash reads a script as it runs it; the quickstart is one { ... } block, so it is read whole first and an
    edit made mid-run (here: the file replaced on the first interpreter call) neither breaks nor cuts it short."""
    (tmp_path / "scripts").mkdir()
    script = tmp_path / "scripts" / "quickstart.sh"
    script.write_text((ROOT / "scripts" / "quickstart.sh").read_text())
    fake = tmp_path / "fake_python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    calls = tmp_path / "calls.log"
    env = dict(os.environ, PYTHON=str(fake), CALLS=str(calls), SCRIPT=str(script), QUICKSTART_SKIP_SETUP="1",
               QUICKSTART_FIGURES="", QUICKSTART_OUT=str(tmp_path / "out"))
    proc = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert script.read_text().startswith("echo EDITED")  # the edit did happen, on the first call
    assert proc.returncode == 0 and "EDITED" not in proc.stdout, proc.stdout + proc.stderr
    logged = calls.read_text().splitlines()
    assert any(c.startswith("train.py") for c in logged) and logged[-1].endswith("--quickstart-line"), logged


@pytest.fixture(scope="module")
def shortened_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, float, float]:
    """One shortened quickstart (default variant) shared by the tests below."""
    out = tmp_path_factory.mktemp("quickstart")
    # a guard against hangs, not a speed target: about 8 min on the 2-core machine, measured up to 19 min when
    # the machine was slower (0.5-1.2 s per step instead of 0.32)
    stdout, pope, mmb = run_quickstart(out, steps=SHORT_STEPS, n_eval=40, timeout=2400)
    return out, stdout, pope, mmb


@pytest.mark.slow
@pytest.mark.timeout(2500)
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
@pytest.mark.timeout(2500)
def test_shortened_quickstart_learns_to_bind_colour_and_shape(shortened_run: tuple[Path, str, float, float]) -> None:
    """POPE well above chance, and above chance on its adversarial split, which only a model that binds the asked
    colour and shape to one object passes (the non-binding answer "colour present and shape present" scores 0.5
    there and about 0.83 over the three splits). MMBench is not asserted: it is still at chance
    (docs/quickstart.md, "Measured: the current recipe")."""
    out, stdout, pope, _ = shortened_run
    adversarial = json.loads((out / "trol-phantom" / "eval" / "results.json").read_text())[
        "benchmarks"]["pope"]["metrics"]["adversarial"]["accuracy"]
    # chance: 0.5 with sd 0.04 over the 160 adversarial questions (40 images); the measured full run: 0.905
    assert adversarial >= 0.65, f"POPE adversarial accuracy {adversarial}: colour and shape are not bound"
    assert pope >= 0.8, f"POPE accuracy {pope} is not clearly above chance 0.5"
    assert re.search(r"^model> (Yes|No)$", stdout, re.M), "the demo answers the POPE question with Yes or No"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_plain_variant_runs_without_trol_and_phantom(tmp_path: Path) -> None:
    run_quickstart(tmp_path, "--plain", steps=3, n_train=64, n_eval=4, timeout=580)
    config = json.loads((tmp_path / "plain" / "final" / "config.json").read_text())
    assert config["use_trol"] is False and config["use_phantom"] is False
    assert not (tmp_path / "trol-phantom").exists()
