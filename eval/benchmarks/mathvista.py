"""MathVista testmini: rule-based answer extraction, the GPT extractor only where the official code falls back
to it, normalisation by answer type and precision, accuracy overall and per metadata key.

Rules follow lupantech/MathVista `evaluation/extract_answer.py` and `calculate_score.py` (spec eval-open.md
section 2; TroL/Phantom ship the same files). Deliberate deviations: the extractor's empty-reply loop is bounded
(`judge.max_reasks`), and a problem whose extraction needed the judge but could not get it is marked unjudged
(its accuracy is missing) instead of being mapped to the closest choice.
"""
from __future__ import annotations

import re
from typing import Any

from eval.judge import Judge, judge_summary
from eval.judge_prompts import MATHVISTA_EXTRACT_DEMO
from eval.registry import Benchmark, register_benchmark
from loader.benchmarks.mathvista import LAYOUT, read
from loader.records import EvalItem

# The authors' get_chat_response defaults (the --llm_engine flag is parsed but never passed on; spec 2.3).
EXTRACT_REQUEST = {"model": "gpt-3.5-turbo", "temperature": 0, "max_tokens": 256, "n": 1}
BY_KEYS = ("question_type", "answer_type", "language", "source", "category", "task", "context", "grade", "skills")
QUICK_RE = re.compile(r'The answer is "(.*)"\.')


def prompt(item: EvalItem, family: str) -> str:
    """The parquet's `query` verbatim (hint, question, choices); no suffix for any family."""
    return item.question


def _extract(item: EvalItem, response: str, judge: Judge | None, quick: bool) -> tuple[str | None, str | None]:
    """(extraction, None) or (None, reason the judge could not settle it)."""
    meta = item.meta
    if response == "":
        return "", None
    if meta["question_type"] == "multi_choice" and item.options and response in item.options:
        return response, None
    if meta["answer_type"] == "integer":
        try:
            return str(int(response)), None
        except ValueError:
            pass
    if meta["answer_type"] == "float":
        try:
            return str(float(response)), None
        except ValueError:
            pass
    if quick:
        match = QUICK_RE.search(response)
        if match:
            return match.group(1), None
    if judge is None:
        return None, "no judge configured"
    content = MATHVISTA_EXTRACT_DEMO + "\n\n" + item.question + "\n\n" + response + "\n\nExtracted answer: "
    messages = [{"role": "user", "content": content}]
    for attempt in range(1, judge.max_reasks + 1):
        result = judge.chat(messages, item=item.id, stage="extract", attempt=attempt, **EXTRACT_REQUEST)
        if not result.ok:
            return None, result.error
        text = (result.text or "").strip()
        if text:  # the official loop re-asks on an empty reply
            return text, None
    return None, f"malformed: empty extraction reply {judge.max_reasks} times"


def levenshtein(a: str, b: str) -> int:
    """Unit-cost edit distance (what `Levenshtein.distance` computes)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def normalize(extraction: Any, item: EvalItem) -> str | None:
    """`normalize_extracted_answer` of calculate_score.py."""
    meta = item.meta
    if meta["question_type"] == "multi_choice":
        text = extraction.strip() if isinstance(extraction, str) else str(extraction)
        letters = re.findall(r"\(([a-zA-Z])\)", text)
        if letters:
            text = letters[0].upper()
        choices = item.options or []
        options = [chr(ord("A") + i) for i in range(len(choices))]
        if text in options:
            return choices[options.index(text)]
        distances = [levenshtein(text, c) for c in choices]
        return choices[distances.index(min(distances))] if choices else None  # first minimum wins
    if meta["answer_type"] == "integer":
        try:
            return str(int(float(extraction)))
        except (TypeError, ValueError, OverflowError):
            return None
    if meta["answer_type"] == "float":
        try:
            return str(round(float(extraction), int(meta["precision"])))
        except (TypeError, ValueError, OverflowError):
            return None
    if meta["answer_type"] == "list":
        return str(extraction)
    return extraction


def _values(item: EvalItem, key: str) -> list[str]:
    if key in ("question_type", "answer_type"):
        return [item.meta[key]]
    value = item.meta["metadata"].get(key)
    return list(value or []) if key == "skills" else [value]


def _group(correct: list[bool | None]) -> dict[str, Any]:
    total = len(correct)
    if any(c is None for c in correct):
        return {"accuracy": None, "correct": None, "total": total}
    hits = sum(bool(c) for c in correct)
    return {"accuracy": hits / total, "correct": hits, "total": total}


def _aggregate(items: list[EvalItem], correct: dict[str, bool | None], authors: bool) -> dict[str, Any]:
    def fmt(group: dict[str, Any], style: str) -> dict[str, Any]:
        if not authors or group["accuracy"] is None:
            return group
        pct = 100 * group["correct"] / group["total"]
        # authors: average str(round(x, 2)) ("75.0"), per key "{:.2f}" ("80.00"); spec 2.4
        return {**group, "accuracy": str(round(pct, 2)) if style == "average" else "{:.2f}".format(pct)}

    average = fmt(_group([correct[i.id] for i in items]), "average")
    by_key: dict[str, dict[str, Any]] = {}
    for key in BY_KEYS:
        values: dict[str, None] = {}
        for item in items:
            for v in _values(item, key):
                values.setdefault(v, None)
        groups = {v: _group([correct[i.id] for i in items if v in _values(i, key)]) for v in values}
        ordered = sorted(groups.items(), key=lambda kv: -(kv[1]["accuracy"] if kv[1]["accuracy"] is not None else -1))
        by_key[key] = {v: fmt(g, "key") for v, g in ordered}
    return {"average": average, "by_key": by_key}


def _run(items: list[EvalItem], predictions: dict[str, str], judge: Judge | None, quick: bool):
    def one(item: EvalItem) -> tuple[str, bool | None, str | None]:
        extraction, reason = _extract(item, predictions.get(item.id, ""), judge, quick)
        if extraction is None:
            return item.id, None, reason
        return item.id, normalize(extraction, item) == item.answer, None

    rows = judge.map_items(one, items, desc="mathvista extract") if judge else [one(i) for i in items]
    return {r[0]: r[1] for r in rows}, {r[0]: r[2] for r in rows if r[2] is not None}


def score(items: list[EvalItem], predictions: dict[str, str], judge: Judge | None = None,
          scoring: str = "official") -> dict[str, Any]:
    """Default-run accuracies (`average`, `by_key`) plus the `--quick_extract` variant's average."""
    predictions = {str(k): v for k, v in predictions.items()}
    correct, unjudged = _run(items, predictions, judge, quick=False)
    quick_correct, quick_unjudged = _run(items, predictions, judge, quick=True)
    if scoring == "authors":
        result = _authors_block(items, correct)
        result["quick_extract"] = _authors_block(items, quick_correct)
    else:
        result = _aggregate(items, correct, authors=False)
        result["quick_extract"] = {"average": _aggregate(items, quick_correct, authors=False)["average"]}
    result["judging"] = judge_summary(judge, unjudged, len(items))
    if quick_unjudged:
        result["judging"]["unjudged_quick_extract"] = quick_unjudged
    return result


def _authors_block(items: list[EvalItem], correct: dict[str, bool | None]) -> dict[str, Any]:
    """The authors' scores file (`average` next to the per-key blocks, percent strings) and the plain percent."""
    aggregate = _aggregate(items, correct, authors=True)
    average = _group([correct[i.id] for i in items])
    percent = None if average["correct"] is None else 100 * average["correct"] / average["total"]
    return {"scores_json": {"average": aggregate["average"], **aggregate["by_key"]}, "accuracy_percent": percent}


register_benchmark(Benchmark(name="mathvista", read=read, prompt=prompt, max_new_tokens=512, score=score,
                             needs_judge=True, layout=LAYOUT, scorings=("official", "authors"),
                             headline=("average", "accuracy")))
