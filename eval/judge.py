"""The LLM-judge client used by the judge-scored benchmarks (MathVista, MathVerse, MM-Vet, LLaVA-W).

One `Judge` answers `chat(messages, **params)` with a `JudgeResult(text, error)`. Two kinds exist:

- `OpenAIJudge`: any OpenAI-compatible endpoint (OpenAI, vLLM, LMDeploy, llama.cpp) by base URL; the key is read
  from an environment variable and never logged or written.
- `ReplayJudge`: answers from a file of recorded calls (the fixtures' `judge/replies.jsonl`: `id`, `stage`,
  `attempt`, `request`, `reply` | `error`), in order per (id, stage); an `error` entry acts like the named API error.

Both share: an in-memory memo and an optional on-disk cache keyed by the full request plus the protocol attempt
(MathVista and MathVerse re-send byte-identical requests after a malformed reply, so the attempt must be part of
the key; spec eval-open.md section 9), bounded retries with exponential backoff on transport errors, a
concurrency limit for `map_items`, and a recorded identity (`identity()`) that scorers put into their results.
Errors are never cached, so a rerun asks again exactly for what is still missing.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# Transport errors worth retrying; everything else (bad request, auth, not found) fails at once.
RETRYABLE_ERRORS = frozenset(
    {"RateLimitError", "APIError", "APIConnectionError", "APITimeoutError", "InternalServerError", "Timeout",
     "ConnectionError", "ServiceUnavailableError"}
)


@dataclass
class JudgeResult:
    """One judge answer: `text` (the raw `choices[0].message.content`) or `error` ("Kind: message")."""

    text: str | None = None
    error: str | None = None
    model: str | None = None  # the model name the server reported
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def error_kind(self) -> str | None:
        return None if self.error is None else self.error.split(":", 1)[0]


class JudgeCallError(Exception):
    """A failed judge request; `kind` is the API error class name (RateLimitError, BadRequestError, ...)."""

    def __init__(self, kind: str, message: str = "") -> None:
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind = kind


def request_key(request: dict[str, Any], attempt: int) -> str:
    """sha256 of the canonical request (model, messages, sampling params) plus the protocol attempt."""
    canonical = json.dumps({"request": request, "attempt": attempt}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class JudgeCache:
    """On-disk cache of successful judge replies: one JSON file per key under `root` (safe with threads and reruns)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            log.warning("judge cache entry %s is corrupt; it is ignored and will be rewritten", path)
            return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{threading.get_ident()}")
        tmp.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)


class Judge:
    """Base judge: memo + cache + retries around `_send`, which subclasses implement."""

    kind = "base"

    def __init__(self, model: str | None = None, cache_dir: Path | None = None, max_tries: int = 6,
                 backoff_s: float = 1.0, backoff_cap_s: float = 30.0, concurrency: int = 4,
                 max_reasks: int = 5) -> None:
        self.model = model  # None: each benchmark's default grader model (the authors' choice)
        self.cache = JudgeCache(cache_dir) if cache_dir else None
        self.max_tries = max(1, int(max_tries))
        self.backoff_s = backoff_s
        self.backoff_cap_s = backoff_cap_s
        self.concurrency = max(1, int(concurrency))
        # Bound on protocol re-asks where the official code loops forever on a malformed reply.
        self.max_reasks = max(1, int(max_reasks))
        self._memo: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.models_returned: set[str] = set()
        self.requests_sent = 0
        self.cache_hits = 0

    # -- the public call --------------------------------------------------------------------------------------
    def chat(self, messages: list[dict[str, Any]], *, item: str | None = None, stage: str | None = None,
             attempt: int = 1, **params: Any) -> JudgeResult:
        """Ask once (with transport retries). `item`/`stage`/`attempt` identify the call within a benchmark's
        protocol; they are not sent. `params` are the request fields (`model`, `temperature`, `max_tokens`, `n`)."""
        request = {"messages": messages, **params}
        if self.model:
            request["model"] = self.model
        key = request_key(request, attempt)
        with self._lock:
            hit = self._memo.get(key)
        if hit is None and self.cache is not None:
            hit = self.cache.get(key)
        if hit is not None:
            with self._lock:
                self._memo[key] = hit
                self.cache_hits += 1
            return JudgeResult(text=hit["text"], model=hit.get("model"), cached=True)
        last: JudgeCallError | None = None
        for tries in range(1, self.max_tries + 1):
            try:
                text, model = self._send(request, item=item, stage=stage)
            except JudgeCallError as err:
                last = err
                retry = err.kind in RETRYABLE_ERRORS and tries < self.max_tries
                log.info("judge call %s/%s attempt %d failed (%s)%s", item, stage, attempt, err.kind,
                         "; retrying" if retry else "")
                if not retry:
                    break
                self._sleep(tries)
                continue
            entry = {"text": text, "model": model}
            with self._lock:
                self._memo[key] = entry
                if model:
                    self.models_returned.add(model)
            if self.cache is not None:
                self.cache.put(key, entry)
            return JudgeResult(text=text, model=model)
        assert last is not None
        suffix = f" (gave up after {self.max_tries} tries)" if last.kind in RETRYABLE_ERRORS else ""
        return JudgeResult(error=f"{last}{suffix}")

    def _sleep(self, tries: int) -> None:
        delay = min(self.backoff_cap_s, self.backoff_s * (2 ** (tries - 1)))
        if delay > 0:
            time.sleep(delay)

    def _send(self, request: dict[str, Any], *, item: str | None, stage: str | None) -> tuple[str, str | None]:
        raise NotImplementedError

    # -- helpers for scorers ----------------------------------------------------------------------------------
    def map_items(self, fn: Callable[[T], R], items: Sequence[T], desc: str = "judging") -> list[R]:
        """`[fn(x) for x in items]` on at most `concurrency` threads, order kept, with a progress bar."""
        from tqdm import tqdm

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(tqdm(pool.map(fn, items), total=len(items), desc=desc, leave=False,
                             disable=len(items) < 2))

    def identity(self) -> dict[str, Any]:
        """What judged the run (recorded in every judged result); never contains the key."""
        return {"kind": self.kind, "model_override": self.model, "models_returned": sorted(self.models_returned),
                "requests_sent": self.requests_sent, "cache_hits": self.cache_hits,
                "cache_dir": str(self.cache.root) if self.cache else None}


class OpenAIJudge(Judge):
    """A judge behind any OpenAI-compatible `/v1/chat/completions` endpoint."""

    kind = "openai"

    def __init__(self, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY", timeout_s: float = 60.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from openai import OpenAI  # imported here: scoring without a judge must not need the client

        self.base_url = base_url
        self.api_key_env = api_key_env
        key = os.environ.get(api_key_env)
        if not key:
            # Local servers (vLLM, llama.cpp) accept any key; the official API will answer 401 (not retried).
            log.warning("judge: environment variable %s is not set; sending a placeholder key", api_key_env)
            key = "no-key"
        # max_retries=0: our own bounded backoff decides; the client's would multiply it.
        self._client = OpenAI(base_url=base_url, api_key=key, timeout=timeout_s, max_retries=0)

    def _send(self, request: dict[str, Any], *, item: str | None, stage: str | None) -> tuple[str, str | None]:
        import openai

        if not request.get("model"):
            raise JudgeCallError("BadRequestError", "no judge model given (use --judge-model)")
        with self._lock:
            self.requests_sent += 1
        try:
            response = self._client.chat.completions.create(**request)
        except openai.APIStatusError as err:
            kind = type(err).__name__ if type(err).__name__ != "APIStatusError" else (
                "InternalServerError" if err.status_code >= 500 else "BadRequestError")
            raise JudgeCallError(kind, f"HTTP {err.status_code}") from err
        except openai.APIError as err:  # connection errors and timeouts
            raise JudgeCallError(type(err).__name__, str(err)[:200]) from err
        content = response.choices[0].message.content if response.choices else None
        return content or "", getattr(response, "model", None)

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "base_url": self.base_url, "api_key_env": self.api_key_env}


class ReplayJudge(Judge):
    """Replays recorded judge calls; each (id, stage) has its own queue consumed in file order."""

    kind = "replay"

    def __init__(self, path: Path, strict: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("backoff_s", 0.0)
        super().__init__(**kwargs)
        self.path = Path(path)
        self.strict = strict
        if not self.path.is_file():
            raise FileNotFoundError(f"--judge-replay file {self.path} does not exist; pass a judge/replies.jsonl "
                                    "file with one recorded call per line")
        self._queues: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
        self._unkeyed: list[tuple[int, dict[str, Any]]] = []
        for lineno, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{self.path}:{lineno}: not JSON ({err}); each line must be one recorded call "
                                 "{{id, stage, attempt, request, reply|error}}") from err
            if "request" not in record or ("reply" not in record and "error" not in record):
                raise ValueError(f"{self.path}:{lineno}: a recorded call needs `request` and `reply` or `error`")
            key = (str(record.get("id")), str(record.get("stage")))
            self._queues.setdefault(key, []).append((lineno, record))
            self._unkeyed.append((lineno, record))

    def _take(self, request: dict[str, Any], item: str | None, stage: str | None) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if item is not None and stage is not None:
                queue = self._queues.get((str(item), str(stage)))
                if not queue:
                    raise JudgeCallError("ReplayExhausted", f"no recorded call left for id {item!r} stage {stage!r} "
                                         f"in {self.path}")
                lineno, record = queue.pop(0)
                self._unkeyed.remove((lineno, record))
                return lineno, record
            for pos, (lineno, record) in enumerate(self._unkeyed):
                if _same_request(record["request"], request):
                    self._unkeyed.pop(pos)
                    self._queues[(str(record.get("id")), str(record.get("stage")))].remove((lineno, record))
                    return lineno, record
        raise JudgeCallError("ReplayExhausted", f"no recorded call in {self.path} matches this request")

    def _send(self, request: dict[str, Any], *, item: str | None, stage: str | None) -> tuple[str, str | None]:
        lineno, record = self._take(request, item, stage)
        with self._lock:
            self.requests_sent += 1
        if self.strict and not _same_request(record["request"], request):
            raise ValueError(f"{self.path}:{lineno}: the recorded request for id {item!r} stage {stage!r} differs "
                             f"from the one the scorer built ({_first_difference(record['request'], request)}); "
                             "the scorer or the replay file is out of date (or pass strict=False)")
        if record.get("error"):
            raise JudgeCallError(str(record["error"]), f"recorded at {self.path.name}:{lineno}")
        return str(record.get("reply") or ""), record["request"].get("model")

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "replay_file": str(self.path)}


def _same_request(recorded: dict[str, Any], built: dict[str, Any]) -> bool:
    """Equal messages and sampling params (model only when both name one; floats compared numerically)."""
    keys = (set(recorded) | set(built)) - {"model"}
    return all(recorded.get(k) == built.get(k) for k in keys)


def _first_difference(recorded: dict[str, Any], built: dict[str, Any]) -> str:
    for k in sorted((set(recorded) | set(built)) - {"model"}):
        if recorded.get(k) != built.get(k):
            return f"field {k!r}: recorded {str(recorded.get(k))[-120:]!r} vs built {str(built.get(k))[-120:]!r}"
    return "no difference"


# -- command line --------------------------------------------------------------------------------------------

def add_judge_arguments(parser: argparse.ArgumentParser) -> None:
    """The judge flags of `eval.py` (predict and score)."""
    group = parser.add_argument_group("judge (MathVista, MathVerse, MM-Vet, MM-Vet-v2, LLaVA-W, LLaVA-Wilder)")
    env_url = os.environ.get("JUDGE_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
    group.add_argument("--judge-base-url", default=env_url,
                       help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 (env JUDGE_BASE_URL or "
                            "OPENAI_BASE_URL). Without it and without --judge-replay judged metrics are reported "
                            "as missing and `eval.py score` can be rerun later.")
    group.add_argument("--judge-model", default=os.environ.get("JUDGE_MODEL"),
                       help="judge model for every judged benchmark (default: the authors' per benchmark, "
                            "gpt-3.5-turbo for MathVista/MathVerse, gpt-4-0613 for MM-Vet and LLaVA)")
    group.add_argument("--judge-api-key-env", default="OPENAI_API_KEY",
                       help="name of the environment variable holding the API key (the key itself is never a flag)")
    group.add_argument("--judge-replay", type=Path, default=None,
                       help="answer judge calls from a recorded replies.jsonl (id, stage, attempt, request, "
                            "reply|error) instead of an endpoint")
    group.add_argument("--judge-cache", type=Path, default=None,
                       help="directory of the on-disk judge cache (default: JUDGE_CACHE_DIR or "
                            "~/.cache/trol-phantom/judge; replay runs use no disk cache unless given)")
    group.add_argument("--judge-concurrency", type=int, default=4, help="parallel judge requests")
    group.add_argument("--judge-max-tries", type=int, default=6,
                       help="tries per request on transport errors (429, 5xx, timeouts) with exponential backoff")
    group.add_argument("--judge-max-reasks", type=int, default=5,
                       help="bound on re-asks after malformed replies where the official code loops forever; "
                            "the item is then marked unjudged")
    group.add_argument("--judge-timeout", type=float, default=60.0, help="seconds per judge request")


def judge_from_args(args: argparse.Namespace) -> Judge | None:
    """The judge the flags describe, or None when neither an endpoint nor a replay file is given."""
    common = dict(model=getattr(args, "judge_model", None), concurrency=getattr(args, "judge_concurrency", 4),
                  max_tries=getattr(args, "judge_max_tries", 6), max_reasks=getattr(args, "judge_max_reasks", 5))
    replay = getattr(args, "judge_replay", None)
    if replay:
        return ReplayJudge(Path(replay), cache_dir=getattr(args, "judge_cache", None), **common)
    base_url = getattr(args, "judge_base_url", None)
    if not base_url:
        return None
    cache = getattr(args, "judge_cache", None) or Path(
        os.environ.get("JUDGE_CACHE_DIR", Path.home() / ".cache" / "trol-phantom" / "judge"))
    judge = OpenAIJudge(base_url=base_url, api_key_env=getattr(args, "judge_api_key_env", "OPENAI_API_KEY"),
                        timeout_s=getattr(args, "judge_timeout", 60.0), cache_dir=cache, **common)
    log.info("judge: %s model=%s cache=%s", base_url, judge.model or "(benchmark default)", cache)
    return judge


def judge_summary(judge: Judge | None, unjudged: dict[str, str], total: int) -> dict[str, Any]:
    """The `judging` block of a judged benchmark's results: identity, coverage and why items are unjudged."""
    return {
        "judge": judge.identity() if judge is not None else None,
        "items": total,
        "judged": total - len(unjudged),
        "complete": not unjudged,
        "unjudged": dict(sorted(unjudged.items(), key=lambda kv: _natural(kv[0]))),
    }


def _natural(key: str) -> tuple:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in key.replace("/", "_").split("_"))

