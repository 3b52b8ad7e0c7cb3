"""The judge client: cache keyed by request + attempt, bounded retries with backoff, error classes, replay
files, command-line flags, and that the API key never leaks (loopback stub server on 127.0.0.1)."""
from __future__ import annotations

import argparse
import json
import logging

import pytest

from eval.judge import (OpenAIJudge, ReplayJudge, add_judge_arguments, judge_from_args, judge_summary,
                        request_key)
from tests.test_open_support import StubOpenAI

MESSAGES = [{"role": "user", "content": "Grade this."}]
PARAMS = {"model": "gpt-4-0613", "temperature": 0.0, "max_tokens": 3}


def _judge(stub: StubOpenAI, tmp_path, **kwargs) -> OpenAIJudge:
    kwargs.setdefault("cache_dir", tmp_path / "cache")
    return OpenAIJudge(base_url=stub.base_url, backoff_s=0.01, backoff_cap_s=0.02, timeout_s=5.0, **kwargs)


def test_request_key_depends_on_request_and_attempt() -> None:
    request = {"messages": MESSAGES, **PARAMS}
    assert request_key(request, 1) == request_key(json.loads(json.dumps(request)), 1)
    assert request_key(request, 1) != request_key(request, 2)
    assert request_key(request, 1) != request_key({**request, "temperature": 0.5}, 1)


def test_reply_is_cached_on_disk_and_reused_by_a_new_judge(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123")
    with StubOpenAI(lambda req: (200, "0.7")) as stub:
        first = _judge(stub, tmp_path).chat(MESSAGES, item="a", stage="grade", **PARAMS)
        assert (first.text, first.cached, first.model) == ("0.7", False, "stub-judge-1")
        again = _judge(stub, tmp_path)
        second = again.chat(MESSAGES, item="a", stage="grade", **PARAMS)
        assert second.text == "0.7" and second.cached
        # a different protocol attempt is a different cache entry (re-asks send identical requests)
        third = again.chat(MESSAGES, item="a", stage="grade", attempt=2, **PARAMS)
        assert not third.cached
    assert len(stub.requests) == 2
    assert stub.requests[0] == {"messages": MESSAGES, **PARAMS}
    assert stub.headers[0]["authorization"] == "Bearer sk-test-secret-123"
    assert again.identity()["models_returned"] == ["stub-judge-1"]


def test_transient_errors_are_retried_with_backoff_then_succeed(tmp_path) -> None:
    answers = iter([(429, "slow down"), (500, "oops"), (200, "1.0")])
    with StubOpenAI(lambda req: next(answers)) as stub:
        result = _judge(stub, tmp_path, max_tries=4).chat(MESSAGES, **PARAMS)
    assert result.ok and result.text == "1.0"
    assert len(stub.requests) == 3


def test_a_dead_endpoint_gives_a_bounded_error_that_is_not_cached(tmp_path) -> None:
    with StubOpenAI(lambda req: (503, "down")) as stub:
        judge = _judge(stub, tmp_path, max_tries=3)
        result = judge.chat(MESSAGES, **PARAMS)
        assert not result.ok and result.text is None
        assert result.error_kind == "InternalServerError" and "gave up after 3 tries" in result.error
        assert len(stub.requests) == 3
        judge.chat(MESSAGES, **PARAMS)  # errors are never cached: asked again
        assert len(stub.requests) == 6


def test_bad_request_is_not_retried(tmp_path) -> None:
    with StubOpenAI(lambda req: (400, "context too long")) as stub:
        result = _judge(stub, tmp_path, max_tries=5).chat(MESSAGES, **PARAMS)
    assert result.error_kind == "BadRequestError"
    assert len(stub.requests) == 1


def test_a_hanging_endpoint_times_out(tmp_path) -> None:
    with StubOpenAI(lambda req: (200, None), hang_s=1.5) as stub:
        judge = OpenAIJudge(base_url=stub.base_url, timeout_s=0.3, max_tries=2, backoff_s=0.0,
                            cache_dir=tmp_path / "c")
        result = judge.chat(MESSAGES, **PARAMS)
    assert result.error_kind == "APITimeoutError"
    assert len(stub.requests) == 2


def test_the_api_key_is_never_logged_or_recorded(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-very-secret-987")
    caplog.set_level(logging.DEBUG)
    with StubOpenAI(lambda req: (429, "limit")) as stub:
        parser = argparse.ArgumentParser()
        add_judge_arguments(parser)
        args = parser.parse_args(["--judge-base-url", stub.base_url, "--judge-api-key-env", "MY_JUDGE_KEY",
                                  "--judge-cache", str(tmp_path / "c"), "--judge-max-tries", "2"])
        judge = judge_from_args(args)
        judge.backoff_s = 0.0
        result = judge.chat(MESSAGES, **PARAMS)
    record = json.dumps(judge_summary(judge, {"x": result.error}, 1))
    assert "sk-very-secret-987" not in record + caplog.text + result.error
    assert json.loads(record)["judge"]["base_url"] == stub.base_url
    assert "sk-very-secret-987" not in "".join(p.read_text() for p in (tmp_path / "c").rglob("*") if p.is_file())


def test_judge_from_args_without_endpoint_is_none_and_replay_builds_a_replay_judge(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("JUDGE_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    parser = argparse.ArgumentParser()
    add_judge_arguments(parser)
    assert judge_from_args(parser.parse_args([])) is None
    replies = tmp_path / "replies.jsonl"
    replies.write_text(json.dumps({"id": "a", "stage": "grade", "attempt": 1, "request": {"messages": MESSAGES,
                                                                                         **PARAMS},
                                   "reply": "0.5"}) + "\n")
    judge = judge_from_args(parser.parse_args(["--judge-replay", str(replies)]))
    assert isinstance(judge, ReplayJudge)
    assert judge.chat(MESSAGES, item="a", stage="grade", **PARAMS).text == "0.5"
    exhausted = judge.chat(MESSAGES, item="a", stage="grade", attempt=2, **PARAMS)
    assert exhausted.error_kind == "ReplayExhausted"


def test_replay_errors_act_like_api_errors_and_mismatches_are_reported(tmp_path) -> None:
    replies = tmp_path / "replies.jsonl"
    lines = [{"id": "a", "stage": "grade", "attempt": 1, "request": {"messages": MESSAGES, **PARAMS},
              "error": "RateLimitError"},
             {"id": "a", "stage": "grade", "attempt": 2, "request": {"messages": MESSAGES, **PARAMS}, "reply": "1"},
             {"id": "b", "stage": "grade", "attempt": 1, "request": {"messages": MESSAGES, **PARAMS}, "reply": "0"}]
    replies.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    judge = ReplayJudge(replies)
    assert judge.chat(MESSAGES, item="a", stage="grade", **PARAMS).text == "1"  # retried past the 429
    with pytest.raises(ValueError, match=r"replies.jsonl:3: the recorded request for id 'b'"):
        judge.chat([{"role": "user", "content": "something else"}], item="b", stage="grade", **PARAMS)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ReplayJudge(tmp_path / "missing.jsonl")


def test_backoff_doubles_up_to_the_cap(tmp_path, monkeypatch) -> None:
    import eval.judge as judge_module

    delays: list[float] = []
    monkeypatch.setattr(judge_module.time, "sleep", delays.append)
    with StubOpenAI(lambda req: (429, "slow down")) as stub:
        judge = OpenAIJudge(base_url=stub.base_url, cache_dir=tmp_path / "c", max_tries=5, backoff_s=1.0,
                            backoff_cap_s=3.0)
        assert judge.chat(MESSAGES, **PARAMS).error_kind == "RateLimitError"
    assert delays == [1.0, 2.0, 3.0, 3.0]  # no sleep after the last try
    assert len(stub.requests) == 5


def test_concurrency_is_bounded(tmp_path) -> None:
    import threading
    import time

    lock, state = threading.Lock(), {"now": 0, "max": 0}

    def slow(request):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.4)
        with lock:
            state["now"] -= 1
        return 200, "1"

    with StubOpenAI(slow) as stub:
        judge = _judge(stub, tmp_path, concurrency=2)
        texts = judge.map_items(lambda k: judge.chat([{"role": "user", "content": str(k)}], **PARAMS).text, range(6))
    assert texts == ["1"] * 6 and len(stub.requests) == 6
    assert state["max"] == 2
