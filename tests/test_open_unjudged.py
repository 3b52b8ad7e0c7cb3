"""Judge failures: without a judge the judged metrics are missing (never 0); a dead or timing-out endpoint
leaves items unjudged with the reason while the run completes; a rerun against the cache judges only what is
missing; the official infinite re-ask loops are bounded. All endpoints are loopback stubs on 127.0.0.1."""
from __future__ import annotations

from eval.judge import OpenAIJudge
from eval.judge_prompts import MATHVERSE_SCORE_DEMO
from eval.registry import get_benchmark
from tests.test_open_support import (StubOpenAI, differences, expected_block, fixture_dir, load_predictions,
                                     replay_responder)


def _items(name: str):
    benchmark = get_benchmark(name)
    return benchmark, benchmark.read(fixture_dir(name) / "data")


def _stub_judge(stub: StubOpenAI, cache, **kwargs) -> OpenAIJudge:
    kwargs.setdefault("max_tries", 2)
    return OpenAIJudge(base_url=stub.base_url, cache_dir=cache, backoff_s=0.01, backoff_cap_s=0.02, timeout_s=5.0,
                       concurrency=2, **kwargs)


def test_without_a_judge_judged_metrics_are_missing_and_rule_based_ones_remain() -> None:
    benchmark, items = _items("mathvista")
    result = benchmark.score(items, load_predictions("mathvista"), judge=None)
    assert result["average"] == {"accuracy": None, "correct": None, "total": 24}
    # FigureQA has one problem, settled by the rules ("Yes" is a choice): still scored
    assert result["by_key"]["source"]["FigureQA"] == {"accuracy": 1.0, "correct": 1, "total": 1}
    unjudged = result["judging"]["unjudged"]
    assert set(unjudged) == {"3", "4", "5", "8", "11", "12", "13", "14", "15", "19", "20", "21", "23", "24"}
    assert set(unjudged.values()) == {"no judge configured"}
    assert result["judging"]["complete"] is False and result["judging"]["judge"] is None
    # pids 12/23/24 are settled by the regex in the quick-extract variant, the rest still need the judge
    assert set(result["judging"]["unjudged_quick_extract"]) == set(unjudged) - {"12", "23", "24"}

    for name, headline in (("mm-vet", "total"), ("mm-vet-v2", "total"), ("llava-bench-wilder", "summary")):
        benchmark, items = _items(name)
        result = benchmark.score(items, load_predictions(name), judge=None)
        value = result[headline] if headline == "total" else result["summary"]["all"]["relative_score"]
        assert value is None, name
        assert len(result["judging"]["unjudged"]) == len(items)


def test_dead_api_leaves_items_unjudged_and_a_rerun_judges_only_those(tmp_path) -> None:
    name = "llava-bench-in-the-wild"
    benchmark, items = _items(name)
    predictions = load_predictions(name)
    down = {"3", "7"}
    cache = tmp_path / "cache"
    with StubOpenAI(replay_responder(name, fail=lambda rec, req: str(rec["id"]) in down)) as stub:
        first = benchmark.score(items, predictions, judge=_stub_judge(stub, cache))
    assert set(first["judging"]["unjudged"]) == down
    assert all("InternalServerError" in r and "gave up after 2 tries" in r
               for r in first["judging"]["unjudged"].values())
    # conv (id 3) and detail (id 7) and `all` are missing; complex is complete and already right
    assert first["summary"]["all"]["relative_score"] is None
    assert first["summary"]["llava_bench_conv"]["relative_score"] is None
    assert first["summary"]["llava_bench_complex"] == expected_block(name, "official")["summary"]["llava_bench_complex"]

    with StubOpenAI(replay_responder(name)) as stub:
        judge = _stub_judge(stub, cache)
        second = benchmark.score(items, predictions, judge=judge)
    asked = sorted(m["content"].split("[Question]\n")[1].split("\n")[0] for r in stub.requests for m in r["messages"]
                   if m["role"] == "user")
    assert asked == sorted(i.question for i in items if i.id in down)
    assert len(stub.requests) == 2 and judge.cache_hits == len(items) - 2
    assert second["judging"]["complete"]
    assert second["judging"]["judge"]["models_returned"] == ["stub-judge-1"]
    assert differences(expected_block(name, "official"), second) == []


def test_timeouts_mark_items_unjudged_and_the_run_completes(tmp_path) -> None:
    name = "mm-vet"
    benchmark, items = _items(name)
    items = items[:3]
    with StubOpenAI(lambda req: (200, None), hang_s=1.0) as stub:
        judge = OpenAIJudge(base_url=stub.base_url, cache_dir=tmp_path / "c", timeout_s=0.2, max_tries=2,
                            backoff_s=0.0, concurrency=3)
        result = benchmark.score(items, load_predictions(name), judge=judge)
    assert result["total"] is None and result["csv_rows_as_written"] is None
    assert set(result["judging"]["unjudged"]) == {i.id for i in items}
    assert all(r.startswith("APITimeoutError") for r in result["judging"]["unjudged"].values())
    assert len(stub.requests) == 2 * len(items)


def test_mathverse_malformed_judgement_loop_is_bounded(tmp_path) -> None:
    benchmark, items = _items("mathverse")
    items = items[:2]

    def respond(request):
        content = request["messages"][0]["content"]
        return 200, ("1." if content.startswith(MATHVERSE_SCORE_DEMO[:60]) else "D")

    with StubOpenAI(respond) as stub:
        result = benchmark.score(items, load_predictions("mathverse"), judge=_stub_judge(stub, tmp_path / "c",
                                                                                         max_reasks=3))
    unjudged = result["judging"]["unjudged"]
    assert set(unjudged) == {i.id for i in items}
    assert all(r == "malformed: no acceptable score reply in 3 asks" for r in unjudged.values())
    assert result["testmini"]["overall_5_versions"]["acc"] is None
    # per item: one extraction request, then exactly 3 score asks
    assert len(stub.requests) == 2 * (1 + 3)


def test_mathvista_empty_extraction_replies_are_bounded_and_never_mapped_to_a_choice(tmp_path) -> None:
    benchmark, items = _items("mathvista")
    items = [i for i in items if i.id == "8"]  # "I think it is b": needs the extractor
    with StubOpenAI(lambda req: (200, "")) as stub:
        result = benchmark.score(items, load_predictions("mathvista"), judge=_stub_judge(stub, tmp_path / "c",
                                                                                         max_reasks=4))
    assert result["average"]["accuracy"] is None
    assert result["judging"]["unjudged"] == {"8": "malformed: empty extraction reply 4 times"}
    assert len(stub.requests) == 4  # default run; the quick-extract run is answered by the cache


def test_bad_request_scores_zero_in_mmvet_v2_but_is_unjudged_in_v1(tmp_path) -> None:
    for name, expect_score in (("mm-vet-v2", 0.0), ("mm-vet", None)):
        benchmark, items = _items(name)
        with StubOpenAI(lambda req: (400, "bad request")) as stub:
            result = benchmark.score(items[:1], load_predictions(name), judge=_stub_judge(stub, tmp_path / name))
        entry = result["judging"]["per_item"][items[0].id]
        assert entry["score"] == expect_score, name
        assert len(stub.requests) == 1, name
    assert entry["content"] is None and result["judging"]["unjudged"][items[0].id].startswith("BadRequestError")


def test_replay_judge_rerun_answers_only_the_missing_calls(tmp_path) -> None:
    import json

    from eval.judge import ReplayJudge

    name = "llava-bench-in-the-wild"
    benchmark, items = _items(name)
    predictions = load_predictions(name)
    full = fixture_dir(name) / "judge" / "replies.jsonl"
    partial = tmp_path / "partial.jsonl"
    partial.write_text("".join(line + "\n" for line in full.read_text().splitlines()
                               if json.loads(line)["id"] not in (2, 9)))
    cache = tmp_path / "cache"
    first = benchmark.score(items, predictions, judge=ReplayJudge(partial, cache_dir=cache))
    assert set(first["judging"]["unjudged"]) == {"2", "9"}
    assert all(r.startswith("ReplayExhausted") for r in first["judging"]["unjudged"].values())
    judge = ReplayJudge(full, cache_dir=cache)
    second = benchmark.score(items, predictions, judge=judge)
    assert judge.requests_sent == 2 and judge.cache_hits == len(items) - 2
    assert differences(expected_block(name, "official"), second) == []
