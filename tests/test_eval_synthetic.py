"""The readers read the synthetic task's POPE and MMBench splits (loader.synthetic), and gold answers score
perfectly through the same scorers; MMBench test TSVs (no answer column) read and count without scores."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from eval.registry import get_benchmark
from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from loader.synthetic import generate

    root = tmp_path_factory.mktemp("synthetic")
    generate(root, seed=3, n_train=2, n_eval=6, image_size=32)
    return root / "eval"


def test_pope_reads_synthetic_splits_and_gold_scores_one(synthetic_root: Path) -> None:
    bench = get_benchmark("pope")
    items = bench.read(synthetic_root)
    assert {it.meta["split"] for it in items} == {"random", "popular", "adversarial"}
    assert all(Path(it.images[0]).exists() for it in items)
    gold = {it.id: it.answer.capitalize() for it in items}
    metrics = bench.score(items, gold)
    for split in ("random", "popular", "adversarial"):
        assert metrics[split]["accuracy"] == 1.0 and metrics[split]["FP"] == 0 and metrics[split]["FN"] == 0
    flipped = {k: ("No" if v == "Yes" else "Yes") for k, v in gold.items()}
    assert bench.score(items, flipped)["mean_over_splits"]["accuracy"] == 0.0


def test_mmbench_reads_synthetic_split_with_circular_groups(synthetic_root: Path) -> None:
    bench = get_benchmark("mmbench-dev-en")
    items = bench.read(synthetic_root)
    groups = {it.meta["g_index"] for it in items}
    assert len(groups) == 6 and len(items) > len(groups)
    gold = {it.id: it.answer for it in items}
    assert bench.score(items, gold)["circular"]["Overall"] == 100.0
    # One wrong rotation fails its whole group under circular evaluation.
    rotated = next(it for it in items if int(it.id) >= 1_000_000)
    wrong = dict(gold, **{rotated.id: "A" if rotated.answer != "A" else "B"})
    metrics = bench.score(items, wrong)
    assert metrics["group_hits"][str(rotated.meta["g_index"])] == 0
    assert metrics["circular"]["Overall"] == pytest.approx(100.0 * 5 / 6)


def test_mmbench_test_split_without_answers(tmp_path: Path) -> None:
    source = FIXTURES / "eval" / "mmbench-dev-en" / "data" / "MMBench" / "mmbench_dev_20230712.tsv"
    with source.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    (tmp_path / "MMBench").mkdir()
    with (tmp_path / "MMBench" / "MMBench_TEST_EN_legacy.tsv").open("w", encoding="utf-8", newline="") as f:
        fields = [k for k in rows[0] if k != "answer"]
        writer = csv.DictWriter(f, fieldnames=fields, delimiter="\t", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    bench = get_benchmark("mmbench-test-en")
    items = bench.read(tmp_path)
    assert len(items) == 19 and all(it.answer is None for it in items)
    metrics = bench.score(items, {items[0].id: "A", items[1].id: "no idea"})
    assert metrics["n_items"] == 19 and metrics["n_extracted"] == 1
