"""Shared helpers of the open-benchmark tests: fixture loading, a tolerant comparison of result trees, and a
loopback OpenAI-compatible stub server (127.0.0.1 only, bounded request count, stops with the test)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

from tests.conftest import FIXTURES

OPEN_BENCHMARKS = ("mathvista", "mathverse", "visualwebbench", "mm-vet", "mm-vet-v2", "llava-bench-in-the-wild",
                   "llava-bench-wilder")


def fixture_dir(name: str) -> Path:
    return FIXTURES / "eval" / name


def load_predictions(name: str) -> dict[str, str]:
    rows = [json.loads(line) for line in (fixture_dir(name) / "predictions.jsonl").read_text().splitlines() if line]
    return {str(r["id"]): r["prediction"] for r in rows}


def expected_block(name: str, scoring: str) -> dict[str, Any]:
    expected = json.loads((fixture_dir(name) / "expected.json").read_text())
    # LLaVA-Bench-Wilder has no official scorer (official: null); Phantom's setup is the only one.
    return expected[scoring] if expected.get(scoring) is not None else expected["authors"]


def differences(expected: Any, got: Any, path: str = "", skip: Callable[[str], bool] = lambda p: False) -> list[str]:
    """Every place where `got` differs from `expected` (floats within 1e-6; extra keys in `got` allowed)."""
    if skip(path):
        return []
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return [f"{path}: expected a mapping, got {got!r}"]
        out = []
        for key, value in expected.items():
            if key not in got:
                out.append(f"{path}/{key}: missing")
            else:
                out += differences(value, got[key], f"{path}/{key}", skip)
        return out
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            return [f"{path}: expected {expected!r}, got {got!r}"]
        return [d for i, (e, g) in enumerate(zip(expected, got)) for d in differences(e, g, f"{path}[{i}]", skip)]
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return [] if expected == got else [f"{path}: expected {expected!r}, got {got!r}"]
    if isinstance(expected, (int, float)):
        if isinstance(got, bool) or not isinstance(got, (int, float)) or abs(float(expected) - float(got)) > 1e-6:
            return [f"{path}: expected {expected!r}, got {got!r}"]
        return []
    return [] if expected == got else [f"{path}: expected {expected!r}, got {got!r}"]


class StubOpenAI:
    """A tiny `/v1/chat/completions` server on 127.0.0.1. `respond(request) -> (status, content)` decides each
    answer (`content` None with status 200 means: sleep `hang_s` and then answer, to provoke a client timeout).
    Requests beyond `max_requests` get HTTP 500 so that a runaway loop still ends."""

    def __init__(self, respond: Callable[[dict[str, Any]], tuple[int, str | None]], max_requests: int = 200,
                 model: str = "stub-judge-1", hang_s: float = 2.0) -> None:
        self.respond = respond
        self.max_requests = max_requests
        self.model = model
        self.hang_s = hang_s
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with stub._lock:
                    stub.requests.append(body)
                    stub.headers.append({k.lower(): v for k, v in self.headers.items()})
                    over = len(stub.requests) > stub.max_requests
                status, content = (500, "request budget exhausted") if over else stub.respond(body)
                if status == 200 and content is None:
                    time.sleep(stub.hang_s)
                    content = "late"
                payload = ({"id": "cmpl-stub", "object": "chat.completion", "created": 0, "model": stub.model,
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": content}}]}
                           if status == 200 else {"error": {"message": content, "type": "stub", "code": status}})
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> "StubOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def replay_responder(name: str, fail: Callable[[dict[str, Any], dict[str, Any]], bool] = lambda rec, req: False):
    """A responder that answers like the fixture's recorded judge: the first unconsumed recorded call with the
    same messages and sampling params (recorded errors become HTTP 429 / 400 / 500). `fail(record, request)`
    True makes that call answer 503 without consuming the record (a dead API for chosen items)."""
    records = [json.loads(line) for line in (fixture_dir(name) / "judge" / "replies.jsonl").read_text().splitlines()
               if line]
    lock = threading.Lock()
    status_of = {"RateLimitError": 429, "BadRequestError": 400}

    def respond(request: dict[str, Any]) -> tuple[int, str | None]:
        with lock:
            for pos, rec in enumerate(records):
                recorded = rec["request"]
                if all(recorded.get(k) == request.get(k) for k in ("messages", "temperature", "max_tokens")):
                    if fail(rec, request):
                        return 503, "service unavailable (stub)"
                    records.pop(pos)
                    if rec.get("error"):
                        return status_of.get(rec["error"], 500), rec["error"]
                    return 200, rec["reply"]
        return 500, "no recorded call matches (stub)"

    return respond
