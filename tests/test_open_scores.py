"""Every open-benchmark fixture: the registered scorer with the fixture's canned judge replies reproduces the
`official` (and `authors`) block of expected.json within 1e-6, sends exactly the recorded requests, and the
prompts are the official ones."""
from __future__ import annotations

import json

import pytest

from eval.judge import ReplayJudge
from eval.registry import get_benchmark
from tests.test_open_support import OPEN_BENCHMARKS, differences, expected_block, fixture_dir, load_predictions


def _score(name: str, scoring: str):
    benchmark = get_benchmark(name)
    items = benchmark.read(fixture_dir(name) / "data")
    replies = fixture_dir(name) / "judge" / "replies.jsonl"
    judge = ReplayJudge(replies) if replies.exists() else None  # strict: every request must equal the recorded one
    return benchmark, items, judge, benchmark.score(items, load_predictions(name), judge=judge, scoring=scoring)


def _csv_model_cell(path: str) -> bool:
    # The first CSV cell is the evaluator's model name (a file name in the fixture runs), not a score.
    return path.startswith("/csv_rows_as_written/") and path.endswith("/")


def _canonical_csv(rows: dict) -> dict:
    """CSV rows with integration column names sorted: the evaluator names them in Python set order."""
    return {row: {"_".join(sorted(k.split("_"))) if k not in ("", "total", "std", "runs") else k: v
                  for k, v in cells.items() if k != ""} for row, cells in rows.items()}


@pytest.mark.parametrize("name", OPEN_BENCHMARKS)
@pytest.mark.parametrize("scoring", ["official", "authors"])
def test_fixture_scores_match_expected(name: str, scoring: str) -> None:
    benchmark, items, judge, result = _score(name, scoring)
    expected = expected_block(name, scoring)
    assert benchmark.name == name and scoring in benchmark.scorings
    skip = (lambda p: p.startswith("/csv_rows_as_written")) if name.startswith("mm-vet") else (lambda p: False)
    assert differences(expected, result, skip=skip) == []
    if name.startswith("mm-vet"):
        assert _canonical_csv(result["csv_rows_as_written"]) == _canonical_csv(expected["csv_rows_as_written"])
    if judge is not None:
        assert result["judging"]["complete"] and result["judging"]["unjudged"] == {}
        assert result["judging"]["judge"]["kind"] == "replay"


@pytest.mark.parametrize("name", [n for n in OPEN_BENCHMARKS if n != "visualwebbench"])
def test_judge_calls_follow_the_recorded_protocol(name: str) -> None:
    """Each (id, stage) consumed its recorded calls in order: retries, re-asks and temperature steps included
    (identical requests of different items may be answered from the memo instead)."""
    _, _, judge, _ = _score(name, "official")
    left = {key: queue for key, queue in judge._queues.items() if queue}
    recorded = [json.loads(line) for line in (fixture_dir(name) / "judge" / "replies.jsonl").read_text().splitlines()]
    for (item, stage), queue in left.items():
        # whatever is left must be a duplicate request already answered for another item
        for _, record in queue:
            twins = [r for r in recorded if r["request"] == record["request"] and str(r["id"]) != item]
            assert twins, f"recorded call {item}/{stage} attempt {record['attempt']} was never made"
    assert judge.requests_sent + judge.cache_hits >= len(recorded) - sum(len(q) for q in left.values())


def test_mathvista_quick_extract_matches_the_authors_quick_extract_run() -> None:
    _, _, _, result = _score("mathvista", "authors")
    expected = json.loads((fixture_dir("mathvista") / "expected.json").read_text())["authors_quick_extract"]
    assert differences(expected, result["quick_extract"]) == []


def test_mathvista_per_item_extractions_and_normalisation() -> None:
    from eval.benchmarks.mathvista import _extract, normalize

    benchmark = get_benchmark("mathvista")
    items = {i.id: i for i in benchmark.read(fixture_dir("mathvista") / "data")}
    predictions = load_predictions("mathvista")
    expected = json.loads((fixture_dir("mathvista") / "expected.json").read_text())["per_item"]
    judge = ReplayJudge(fixture_dir("mathvista") / "judge" / "replies.jsonl")
    for pid, want in expected.items():
        extraction, reason = _extract(items[pid], predictions[pid], judge, quick=False)
        assert reason is None and extraction == want["extraction"], pid
        assert normalize(extraction, items[pid]) == want["prediction"], pid


def test_visualwebbench_prompts_are_the_official_ones() -> None:
    benchmark = get_benchmark("visualwebbench")
    prompts = json.loads((fixture_dir("visualwebbench") / "expected.json").read_text())["prompts"]["official"]
    items = benchmark.read(fixture_dir("visualwebbench") / "data")
    assert {i.id: benchmark.prompt(i, "qwen2") for i in items} == prompts


def test_open_benchmarks_declare_the_authors_generation_budget() -> None:
    budgets = {n: get_benchmark(n).max_new_tokens for n in OPEN_BENCHMARKS}
    assert budgets == {"mathvista": 512, "mathverse": 512, "visualwebbench": 512, "mm-vet": 1024, "mm-vet-v2": 1024,
                       "llava-bench-in-the-wild": 1024, "llava-bench-wilder": 1024}
    assert {n: get_benchmark(n).needs_judge for n in OPEN_BENCHMARKS} == {n: n != "visualwebbench"
                                                                        for n in OPEN_BENCHMARKS}


def test_mmvet_per_item_scores_and_recorded_content() -> None:
    for name in ("mm-vet", "mm-vet-v2"):
        _, _, _, result = _score(name, "official")
        expected = json.loads((fixture_dir(name) / "expected.json").read_text())["per_item"]
        got = result["judging"]["per_item"]
        assert {k: (v["score"], v["content_recorded"]) for k, v in expected.items()} == \
               {k: (v["score"], v["content"]) for k, v in got.items()}, name


def test_llava_per_item_tuples() -> None:
    for name in ("llava-bench-in-the-wild", "llava-bench-wilder"):
        _, _, _, result = _score(name, "official")
        expected = json.loads((fixture_dir(name) / "expected.json").read_text())["per_item"]
        assert {k: v["tuple"] for k, v in expected.items()} == \
               {k: v["tuple"] for k, v in result["judging"]["per_item"].items()}, name
