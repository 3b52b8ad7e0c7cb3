"""Training curves from `train.py` runs: loss (raw and smoothed) and learning rate per optimizer step.

    python scripts/plot_training.py runs/quickstart/trol-phantom runs/quickstart/plain \
        --label "TroL + Phantom" --label "plain" --out figures/training_tiny.png

Each positional argument is a run directory (its `metrics.jsonl`) or a metrics file. Lines are one JSON
object per optimizer step with at least `step`, `loss`, `lr` (docs/CONTRACTS.md); other numeric keys
whose name starts with `eval` are drawn as points on the loss panel.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any


def metrics_file(path: Path) -> Path:
    """The metrics file of a run directory, or `path` itself when it is a file."""
    return path / "metrics.jsonl" if path.is_dir() else path


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl, sorted by step; a broken line fails with the file and line number."""
    file = metrics_file(path)
    if not file.is_file():
        raise SystemExit(f"plot_training: {file} not found; pass a run directory of train.py "
                         "(it writes OUT/metrics.jsonl) or the metrics file itself")
    rows = []
    for number, line in enumerate(file.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"plot_training: {file}:{number} is not JSON ({exc}); "
                             "each line must be one JSON object") from exc
        if "step" not in row:
            raise SystemExit(f"plot_training: {file}:{number} has no 'step' key; expected step, loss, lr")
        rows.append(row)
    if not rows:
        raise SystemExit(f"plot_training: {file} is empty; has the run made an optimizer step yet?")
    return sorted(rows, key=lambda r: r["step"])


def smooth(values: list[float], weight: float) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard-style smoothing, weight in [0, 1))."""
    out, avg = [], 0.0
    for i, value in enumerate(values, start=1):
        avg = weight * avg + (1 - weight) * value
        out.append(avg / (1 - weight**i) if weight > 0 else value)
    return out


def series(rows: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    pairs = [(r["step"], float(r[key])) for r in rows
             if isinstance(r.get(key), (int, float)) and math.isfinite(float(r[key]))]
    return [s for s, _ in pairs], [v for _, v in pairs]


def plot(runs: list[tuple[str, list[dict[str, Any]]]], out: Path, smoothing: float = 0.9,
         title: str | None = None) -> Path:
    """Draw loss (top) and learning rate (bottom) for each run into `out` (PNG, SVG or PDF)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_lr) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, height_ratios=[3, 1])
    for index, (label, rows) in enumerate(runs):
        color = f"C{index}"
        steps, loss = series(rows, "loss")
        if not steps:
            raise SystemExit(f"plot_training: run {label!r} has no numeric 'loss' values")
        ax_loss.plot(steps, loss, color=color, alpha=0.25, linewidth=0.8)
        ax_loss.plot(steps, smooth(loss, smoothing), color=color, linewidth=1.8,
                     label=f"{label} (last {loss[-1]:.3f})")
        for key in sorted({k for r in rows for k in r if k.startswith("eval")}):
            eval_steps, values = series(rows, key)
            if eval_steps:
                ax_loss.plot(eval_steps, values, "o", color=color, markersize=4, label=f"{label}: {key}")
        lr_steps, lr = series(rows, "lr")
        if lr_steps:
            ax_lr.plot(lr_steps, lr, color=color, linewidth=1.5, label=label)
    ax_loss.set_ylabel("training loss")
    ax_loss.set_yscale("log")
    ax_loss.grid(alpha=0.3, which="both")
    ax_loss.legend(fontsize=8)
    ax_loss.set_title(title or "training curves")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_xlabel("optimizer step")
    ax_lr.grid(alpha=0.3)
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories or metrics.jsonl files")
    parser.add_argument("--label", action="append", default=[], help="legend label per run (in order)")
    parser.add_argument("--out", type=Path, default=Path("figures/training.png"))
    parser.add_argument("--smoothing", type=float, default=0.9, help="EMA weight in [0, 1)")
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    if not 0 <= args.smoothing < 1:
        parser.error("--smoothing must be in [0, 1)")
    if args.label and len(args.label) != len(args.runs):
        parser.error(f"{len(args.label)} --label values for {len(args.runs)} runs")
    labels = args.label or [p.name if p.is_dir() else p.parent.name for p in args.runs]
    out = plot([(label, read_metrics(p)) for label, p in zip(labels, args.runs)], args.out, args.smoothing,
               args.title)
    print(f"plot_training: wrote {out}")
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
