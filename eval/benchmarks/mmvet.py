"""MM-Vet and MM-Vet-v2: a GPT-4 grader gives each answer a 0-1 correctness score; scores are averaged per
capability, per exact capability combination ("integration") and in total (x100, one decimal).

Follows yuweihao/MM-Vet `mm-vet_evaluator.py` and `v2/mm-vet-v2_evaluator.py` (spec eval-open.md sections 5-6).
The 5-parse re-ask rule (then 0.0) is part of the metric and kept. Transport errors are retried with bounded
backoff by the judge (the official v1 script retries rate limits forever and crashes on anything else); an
item that still fails is unjudged. MM-Vet-v2 keeps its official rule that a BadRequestError scores 0.0.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from eval.judge import Judge, judge_summary
from eval.judge_prompts import MMVET_V1_PROMPT, MMVET_V2_PROMPT
from eval.registry import Benchmark, register_benchmark
from loader.benchmarks.mmvet import LAYOUT, LAYOUT_V2, read, read_v2
from loader.records import EvalItem

GRADER = {"model": "gpt-4-0613", "max_tokens": 3}
PARSED_TRIES = 5  # replies 1..5 are parsed; the 6th is fetched, recorded and scored 0.0 (official loop)
V2_IMAGE_ENDINGS = (".jpg", "jpeg", ".png")


def prompt(item: EvalItem, family: str) -> str:
    """The question verbatim (v2: with its image segments removed); no suffix."""
    return item.question


def grader_content(item: EvalItem, prediction: str, version: int) -> tuple[str, str]:
    """(first request text, re-ask text) of the official grader."""
    answer = item.answer.replace("<AND>", " <AND> ").replace("<OR>", " <OR> ")
    if version == 1:
        base = MMVET_V1_PROMPT + "\n" + " | ".join([item.meta.get("raw_question", item.question), answer,
                                                     prediction, ""])
        return base, base + "\nPredict the correctness of the answer (digit): "
    question = "".join("<image>" if seg.endswith(V2_IMAGE_ENDINGS) else seg
                       for seg in item.meta["raw_question"].split("<IMG>")).replace("\n", "<br>")
    base = MMVET_V2_PROMPT + "| " + " | ".join([question, answer.replace("\n", "<br>"),
                                                 prediction.replace("\n", "<br>"), ""])
    return base, base + "\n\nPredict the correctness of the answer (digit): "


def _parse(content: str | None) -> tuple[float | None, str]:
    """(score or None, the token the evaluator records): first space-separated token, a float in [0, 1]."""
    token = (content or "").split(" ")[0].strip()
    try:
        value = float(token)
    except ValueError:
        return None, token
    return (value if 0.0 <= value <= 1.0 else None), token


def grade(item: EvalItem, prediction: str, judge: Judge | None, version: int) -> dict[str, Any]:
    """{score, content, reason}; score None when unjudged."""
    if judge is None:
        return {"score": None, "content": None, "reason": "no judge configured"}
    base, reask = grader_content(item, prediction, version)
    temperature = 0.0
    attempt = 1
    result = judge.chat([{"role": "user", "content": base}], item=item.id, stage="grade", attempt=attempt,
                        temperature=temperature, **GRADER)
    tries = 1
    while True:
        if not result.ok:
            if version == 2 and result.error_kind == "BadRequestError":
                return {"score": 0.0, "content": "BadRequestError", "reason": None}  # official v2 rule
            return {"score": None, "content": None, "reason": result.error}
        value, token = _parse(result.text)
        if value is not None:
            return {"score": value, "content": token, "reason": None}
        attempt += 1
        result = judge.chat([{"role": "user", "content": reask}], item=item.id, stage="grade", attempt=attempt,
                            temperature=temperature, **GRADER)
        tries += 1
        temperature += 0.5
        if tries > PARSED_TRIES:
            if not result.ok and not (version == 2 and result.error_kind == "BadRequestError"):
                return {"score": None, "content": None, "reason": result.error}
            return {"score": 0.0, "content": result.text if result.ok else "BadRequestError", "reason": None}


def _round(value: float) -> float:
    return float(np.round(value, 1))  # the evaluator rounds numpy means (decimal_places 1)


def aggregate(items: list[EvalItem], scores: dict[str, float | None], model_name: str) -> dict[str, Any]:
    """Capability, integration and total scores of one run, plus the two CSV rows the evaluator writes."""
    counts = Counter(c for i in items for c in i.meta["capability"])
    capabilities = [c for c, _ in counts.most_common()]

    def mean100(subset: list[EvalItem]) -> float | None:
        values = [scores[i.id] for i in subset]
        if any(v is None for v in values):
            return None
        return _round(sum(values) / len(values) * 100)

    capability = {c: mean100([i for i in items if c in i.meta["capability"]]) for c in capabilities}
    total = mean100(items)
    capability["total"] = total
    integrations: dict[str, list[EvalItem]] = {}
    as_written: dict[str, list[EvalItem]] = {}
    for item in items:
        integrations.setdefault("_".join(sorted(set(item.meta["capability"]))), []).append(item)
        # The evaluator names columns "_".join(list(set(caps))): Python set order, PYTHONHASHSEED-dependent.
        as_written.setdefault("_".join(list(set(item.meta["capability"]))), []).append(item)
    result: dict[str, Any] = {"capability": capability,
                              "integration_sorted_names": {k: mean100(v) for k, v in integrations.items()},
                              "total": total}
    if total is None:
        result["csv_rows_as_written"] = None
        return result
    tail = {"total": str(total), "std": str(_round(float(np.std([total])))), "runs": str([total])}
    result["csv_rows_as_written"] = {
        "cap_score": {"": model_name, **{c: str(capability[c]) for c in capabilities}, **tail},
        "cap_int_score": {"": model_name, **{k: str(mean100(v)) for k, v in as_written.items()}, **tail},
    }
    return result


def _score(items: list[EvalItem], predictions: dict[str, str], judge: Judge | None, version: int,
           model_name: str) -> dict[str, Any]:
    predictions = {str(k): v for k, v in predictions.items()}

    def one(item: EvalItem) -> tuple[str, dict[str, Any]]:
        return item.id, grade(item, predictions.get(item.id, ""), judge, version)

    rows = dict(judge.map_items(one, items, desc=f"mm-vet v{version} grade") if judge else [one(i) for i in items])
    result = aggregate(items, {k: r["score"] for k, r in rows.items()}, model_name)
    result["judging"] = judge_summary(judge, {k: r["reason"] for k, r in rows.items() if r["reason"]}, len(items))
    result["judging"]["per_item"] = {k: {"score": r["score"], "content": r["content"]} for k, r in rows.items()}
    return result


def score(items: list[EvalItem], predictions: dict[str, str], judge: Judge | None = None,
          scoring: str = "official", model_name: str = "model") -> dict[str, Any]:
    """MM-Vet v1 (the authors' copy sends identical requests, so both scorings agree)."""
    return _score(items, predictions, judge, 1, model_name)


def score_v2(items: list[EvalItem], predictions: dict[str, str], judge: Judge | None = None,
             scoring: str = "official", model_name: str = "model") -> dict[str, Any]:
    """MM-Vet-v2 (the authors' evaluator is byte-identical to the official one)."""
    return _score(items, predictions, judge, 2, model_name)


register_benchmark(Benchmark(name="mm-vet", read=read, prompt=prompt, max_new_tokens=1024, score=score,
                             needs_judge=True, layout=LAYOUT, scorings=("official", "authors"),
                             headline=("total",)))
register_benchmark(Benchmark(name="mm-vet-v2", read=read_v2, prompt=prompt, max_new_tokens=1024, score=score_v2,
                             needs_judge=True, layout=LAYOUT_V2, scorings=("official", "authors"),
                             headline=("total",)))
