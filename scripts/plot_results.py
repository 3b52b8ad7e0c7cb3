"""Benchmark results of `eval.py`: a bar chart, a Markdown table and the quickstart's summary line.

    python scripts/plot_results.py runs/quickstart/trol-phantom/eval runs/quickstart/plain/eval \
        --label "TroL + Phantom" --label "plain" --out figures/results_tiny.png --table docs/table.md

Each positional argument is an eval.py output directory (its `results.json`: `benchmarks.<name>.metrics`), a
result file, or a directory of metrics files; metrics are the scorer's dict (the keys of the eval fixture's
`official` block), also accepted at the top level or under "results"/"scores". Each benchmark is reduced to
one headline number, as a fraction 0..1:

* pope: `mean_over_splits.accuracy` (else the mean of the split accuracies; RUCAIBox/POPE fractions);
* mmbench-*: the per-question accuracy `vanilla_all_rows` (percent in VLMEvalKit -> /100; chance 25 % for four
  options) and, reported beside it, the strict circular `circular.Overall`;
* anything else: the first of accuracy / Overall / overall / score / Total found, percent values /100.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

CONTAINER_KEYS = ("results", "scores", "metrics", "benchmarks")
GENERIC_KEYS = ("accuracy", "Overall", "overall", "score", "Total", "total", "acc")


def _find(metrics: Any, keys: tuple[str, ...]) -> float | None:
    """Breadth-first: the first numeric value under one of `keys` (outer levels win)."""
    level = [metrics]
    while level:
        for key in keys:
            for node in level:
                if isinstance(node, dict) and isinstance(node.get(key), (int, float)):
                    return float(node[key])
        level = [v for node in level if isinstance(node, dict) for v in node.values() if isinstance(v, dict)]
    return None


def _fraction(value: float | None, percent: bool) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value / 100 if percent else value


def headline(benchmark: str, metrics: dict[str, Any]) -> dict[str, float]:
    """The numbers shown for one benchmark, fractions in [0, 1]; the first key is the headline."""
    if benchmark.startswith("pope"):
        mean = metrics.get("mean_over_splits")
        if isinstance(mean, dict) and isinstance(mean.get("accuracy"), (int, float)):
            return {"accuracy": float(mean["accuracy"])}
        splits = [v["accuracy"] for v in metrics.values() if isinstance(v, dict) and "accuracy" in v]
        if splits:
            return {"accuracy": sum(splits) / len(splits)}
        value = _find(metrics, ("accuracy",))
        return {"accuracy": value} if value is not None else {}
    if benchmark.startswith("mmbench"):
        out = {}
        vanilla = metrics.get("vanilla_all_rows")
        if isinstance(vanilla, (int, float)):
            out["accuracy"] = _fraction(float(vanilla), percent=float(vanilla) > 1)
        circular = _find(metrics.get("circular", {}), ("Overall",))
        if circular is not None:
            out["circular"] = _fraction(circular, percent=circular > 1)
        if not out and (value := _find(metrics, GENERIC_KEYS)) is not None:
            out["accuracy"] = _fraction(value, percent=value > 1)
        return out
    value = _find(metrics, GENERIC_KEYS)
    return {"score": _fraction(value, percent=value > 1)} if value is not None else {}


def result_files(path: Path) -> list[Path]:
    if path.is_dir() and (path / "results.json").is_file():  # eval.py --output-dir DIR writes DIR/results.json
        return [path / "results.json"]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if not p.name.startswith("predictions"))
        if not files:
            raise SystemExit(f"plot_results: no *.json result file under {path}; run eval.py with this output dir")
        return files
    if not path.is_file():
        raise SystemExit(f"plot_results: {path} not found; pass an eval.py result file or its directory")
    return [path]


def read_results(path: Path) -> dict[str, dict[str, float]]:
    """benchmark -> headline numbers, merged over the result files under `path`."""
    from eval.registry import BENCHMARKS, all_benchmarks

    all_benchmarks()  # fill the registry: its names tell benchmark entries from bookkeeping keys
    known = set(BENCHMARKS)
    merged: dict[str, dict[str, float]] = {}
    for file in result_files(path):
        try:
            data = json.loads(file.read_text())
        except json.JSONDecodeError as exc:
            raise SystemExit(f"plot_results: {file} is not JSON ({exc}); pass eval.py's result files") from exc
        for key in CONTAINER_KEYS:
            if isinstance(data.get(key), dict):
                data = data[key]
                break
        if isinstance(data.get("benchmark"), str) and isinstance(data.get("metrics") or data.get("scores"), dict):
            data = {data["benchmark"]: data.get("metrics") or data.get("scores")}
        for name, metrics in data.items():
            if name in known and isinstance(metrics, dict):
                if isinstance(metrics.get("metrics"), dict):  # eval.py: benchmarks.<name>.metrics
                    metrics = metrics["metrics"]
                numbers = headline(name, metrics)
                if numbers:
                    merged[name] = numbers
    if not merged:
        raise SystemExit(f"plot_results: no benchmark metrics found in {path}; expected a JSON object mapping "
                         f"benchmark names (e.g. pope, mmbench-dev-en) to their metrics")
    return merged


def markdown_table(runs: list[tuple[str, dict[str, dict[str, float]]]]) -> str:
    """One row per run, one column per (benchmark, number), values in percent."""
    columns = []
    for _, results in runs:
        for bench, numbers in results.items():
            columns.extend((bench, key) for key in numbers if (bench, key) not in columns)
    header = "| model | " + " | ".join(f"{b} {k}" for b, k in columns) + " |"
    lines = [header, "|" + " --- |" * (len(columns) + 1)]
    for label, results in runs:
        cells = [f"{100 * results[b][k]:.1f}" if k in results.get(b, {}) else "–" for b, k in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def quickstart_line(results: dict[str, dict[str, float]]) -> str:
    """`quickstart: pope_accuracy=<0..1> mmbench_accuracy=<0..1>` (scripts/quickstart.sh's last line)."""
    pope = results.get("pope", {}).get("accuracy")
    mmb = next((v["accuracy"] for k, v in results.items() if k.startswith("mmbench") and "accuracy" in v), None)
    if pope is None or mmb is None:
        raise SystemExit(f"plot_results: need pope and mmbench accuracies for the quickstart line, got {results}")
    return f"quickstart: pope_accuracy={pope:.4f} mmbench_accuracy={mmb:.4f}"


def plot(runs: list[tuple[str, dict[str, dict[str, float]]]], out: Path, title: str | None = None) -> Path:
    """Grouped bars: one group per (benchmark, number), one bar per run, with the values written on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = []
    for _, results in runs:
        for bench, numbers in results.items():
            columns.extend((bench, key) for key in numbers if (bench, key) not in columns)
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(max(7, 1.8 * len(columns) * max(1, len(runs) / 2)), 4))
    for index, (label, results) in enumerate(runs):
        xs = [c + (index - (len(runs) - 1) / 2) * width for c in range(len(columns))]
        values = [100 * results.get(b, {}).get(k, math.nan) for b, k in columns]
        bars = ax.bar(xs, values, width=width * 0.95, label=label, color=f"C{index}")
        ax.bar_label(bars, labels=[f"{v:.1f}" if math.isfinite(v) else "" for v in values], fontsize=8, padding=2)
    ax.set_xticks(range(len(columns)), [f"{b}\n{k}" for b, k in columns], fontsize=9)
    ax.set_ylim(0, 108)
    ax.set_ylabel("percent")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(title or "benchmark results")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path, help="eval.py result files or directories, one per run")
    parser.add_argument("--label", action="append", default=[], help="legend label per run (in order)")
    parser.add_argument("--out", type=Path, help="figure path (PNG/SVG/PDF)")
    parser.add_argument("--table", type=Path, help="also write the Markdown table here")
    parser.add_argument("--quickstart-line", action="store_true",
                        help="print the quickstart summary line of the first run")
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    if args.label and len(args.label) != len(args.results):
        parser.error(f"{len(args.label)} --label values for {len(args.results)} result paths")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `eval` package from the repository root
    labels = args.label or [p.parent.name if p.name in ("eval", "results") else p.stem for p in args.results]
    runs = [(label, read_results(path)) for label, path in zip(labels, args.results)]
    if args.out:
        print(f"plot_results: wrote {plot(runs, args.out, args.title)}")
    table = markdown_table(runs)
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(table)
    if args.quickstart_line:
        print(quickstart_line(runs[0][1]))
    else:
        print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
