"""scripts/plot_training.py: reads train.py's metrics.jsonl, smooths correctly, writes a real figure, and
names the file and line of a broken record."""
from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plot_training = load_script("plot_training")


def write_run(root: Path, losses: list[float], extra: dict[int, dict] | None = None) -> Path:
    root.mkdir(parents=True)
    with open(root / "metrics.jsonl", "w") as f:
        for step, loss in enumerate(losses, start=1):
            row = {"step": step, "loss": loss, "lr": 1e-3 * (1 - step / len(losses))}
            row.update((extra or {}).get(step, {}))
            f.write(json.dumps(row) + "\n")
    return root


def test_smoothing_is_a_bias_corrected_ema() -> None:
    assert plot_training.smooth([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])
    out = plot_training.smooth([1.0, 3.0], 0.5)
    # step 1: avg=0.5 -> /0.5 = 1; step 2: avg=0.25+1.5=1.75 -> /0.75
    assert out == pytest.approx([1.0, 1.75 / 0.75])
    assert plot_training.smooth([1.0, 5.0], 0.0) == [1.0, 5.0]


def test_reads_runs_sorted_and_skips_non_numeric(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 2, "loss": 1.0, "lr": 1}\n\n{"step": 1, "loss": "nan?", "lr": 2}\n')
    rows = plot_training.read_metrics(run)
    assert [r["step"] for r in rows] == [1, 2]
    assert plot_training.series(rows, "loss") == ([2], [1.0])
    assert plot_training.series([{"step": 1, "loss": math.nan}], "loss") == ([], [])


def test_broken_line_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "metrics.jsonl"
    bad.write_text('{"step": 1, "loss": 1.0, "lr": 1}\n{"step": 2, "loss"\n')
    with pytest.raises(SystemExit, match=r"metrics\.jsonl:2 is not JSON"):
        plot_training.read_metrics(bad)
    with pytest.raises(SystemExit, match="not found"):
        plot_training.read_metrics(tmp_path / "missing")


def test_writes_a_figure_with_two_runs(tmp_path: Path) -> None:
    a = write_run(tmp_path / "trol", [3.0 * 0.97**i for i in range(60)], extra={30: {"eval_loss": 0.9}})
    b = write_run(tmp_path / "plain", [3.0 * 0.99**i for i in range(60)])
    out = plot_training.main([str(a), str(b), "--label", "TroL", "--label", "plain",
                              "--out", str(tmp_path / "fig" / "training.png")])
    image = np.asarray(Image.open(out).convert("L"), dtype=float)
    assert image.shape == (720, 960)
    assert image.std() > 10, "the figure must contain drawn curves, not a blank canvas"


def test_label_count_must_match(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", [1.0, 0.5])
    with pytest.raises(SystemExit):
        plot_training.main([str(a), "--label", "x", "--label", "y"])
