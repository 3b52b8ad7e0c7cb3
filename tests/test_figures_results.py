"""scripts/plot_results.py: headline numbers from the scorers' metric dicts (the eval fixtures' `official`
blocks are the real shapes), the Markdown table, the quickstart line and the chart."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("plot_results", ROOT / "scripts" / "plot_results.py")
plot_results = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plot_results)


def official(benchmark: str) -> dict:
    return json.loads((FIXTURES / "eval" / benchmark / "expected.json").read_text())["official"]


def test_pope_headline_is_the_mean_accuracy_over_splits() -> None:
    metrics = official("pope")
    assert plot_results.headline("pope", metrics) == {"accuracy": pytest.approx(0.625)}
    without_mean = {k: v for k, v in metrics.items() if k != "mean_over_splits"}
    assert plot_results.headline("pope", without_mean)["accuracy"] == pytest.approx((0.875 + 0.5 + 0.5) / 3)


def test_mmbench_headline_is_per_question_accuracy_with_circular_beside() -> None:
    numbers = plot_results.headline("mmbench-dev-en", official("mmbench-dev-en"))
    assert numbers["accuracy"] == pytest.approx(0.8421052631578947)
    assert numbers["circular"] == pytest.approx(0.5)


def test_generic_headline_converts_percent() -> None:
    assert plot_results.headline("sqa-img", {"accuracy": 75.0}) == {"score": 0.75}
    assert plot_results.headline("x", {"per_split": {"Overall": 0.4}}) == {"score": 0.4}


def write_results(path: Path, pope: float, mmb_percent: float) -> Path:
    path.mkdir(parents=True)
    pope_metrics = {"random": {"accuracy": pope}, "mean_over_splits": {"accuracy": pope, "f1": 0.5}}
    mmb_metrics = {"circular": {"Overall": mmb_percent - 10}, "vanilla_all_rows": mmb_percent}
    # the layout eval.py writes: results.json with benchmarks.<name>.metrics, plus <name>/metrics.json
    data = {"model": "runs/x/final", "settings": {"batch_size": 8}, "benchmarks": {
        "pope": {"metrics": pope_metrics, "n_items": 240}, "mmbench-dev-en": {"metrics": mmb_metrics, "n_items": 80}}}
    (path / "results.json").write_text(json.dumps(data))
    (path / "pope").mkdir()
    (path / "pope" / "metrics.json").write_text(json.dumps({"random": {"accuracy": 0.0}}))
    (path / "predictions-pope.json").write_text("{}")  # a predictions file is not a result file
    return path


def test_quickstart_line_and_table(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a = write_results(tmp_path / "trol-phantom" / "eval", 0.9512, 88.0)
    b = write_results(tmp_path / "plain" / "eval", 0.71, 40.0)
    plot_results.main([str(a), "--quickstart-line"])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"quickstart: pope_accuracy=0\.9512 mmbench_accuracy=0\.8800", line)
    table_file = tmp_path / "table.md"
    plot_results.main([str(a), str(b), "--table", str(table_file)])
    table = table_file.read_text().splitlines()
    assert table[0] == "| model | pope accuracy | mmbench-dev-en accuracy | mmbench-dev-en circular |"
    assert table[2] == "| trol-phantom | 95.1 | 88.0 | 78.0 |"
    assert table[3] == "| plain | 71.0 | 40.0 | 30.0 |"


def test_chart_is_drawn(tmp_path: Path) -> None:
    a = write_results(tmp_path / "a", 0.95, 88.0)
    b = write_results(tmp_path / "b", 0.6, 35.0)
    out = tmp_path / "results.png"
    plot_results.main([str(a), str(b), "--label", "TroL+Phantom", "--label", "plain", "--out", str(out)])
    image = np.asarray(Image.open(out).convert("L"), dtype=float)
    assert image.std() > 10


def test_flat_result_file_and_metrics_directory(tmp_path: Path) -> None:
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"pope": official("pope"), "model": "x"}))
    assert plot_results.read_results(flat) == {"pope": {"accuracy": pytest.approx(0.625)}}
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps({"mmbench-dev-en": official("mmbench-dev-en")}))
    assert set(plot_results.read_results(folder)) == {"mmbench-dev-en"}


def test_errors_name_the_path(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SystemExit, match="bad.json is not JSON"):
        plot_results.read_results(tmp_path / "bad.json")
    (tmp_path / "empty.json").write_text('{"model": "x"}')
    with pytest.raises(SystemExit, match="no benchmark metrics"):
        plot_results.read_results(tmp_path / "empty.json")
    with pytest.raises(SystemExit, match="need pope and mmbench"):
        plot_results.quickstart_line({"pope": {"accuracy": 0.9}})
