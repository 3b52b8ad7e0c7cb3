"""LLaVA-Bench in-the-wild (LLaVA-W) and LLaVA-Bench-Wilder: a GPT-4 reviewer scores the reference answer
(Assistant 1) and the model's answer (Assistant 2) from 1 to 10; the reported number is the relative score
100 x mean(model) / mean(reference), overall and per category.

Follows haotian-liu/LLaVA `eval_gpt_review_bench.py` + `summarize_gpt_review.py` with the authors' reviewer model
gpt-4-0613 (spec eval-open.md sections 7-8). An unparseable first line gives [-1, -1], which is averaged in as
the official summarizer does (it is part of the metric). The official retry-forever on API errors is bounded by
the judge; an item still failing is unjudged and every number containing it is reported as missing.
LLaVA-Bench-Wilder is scored as Phantom runs it (`--version llava_wilder`: no context, one category).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from eval.judge import Judge, judge_summary
from eval.judge_prompts import LLAVA_REVIEW_RULE, LLAVA_REVIEW_SYSTEM
from eval.registry import Benchmark, register_benchmark
from loader.benchmarks.llavabench import LAYOUT, LAYOUT_WILDER, read, read_wilder
from loader.records import EvalItem

REVIEW_REQUEST = {"model": "gpt-4-0613", "temperature": 0.2, "max_tokens": 1024}


def prompt(item: EvalItem, family: str) -> str:
    """The question text verbatim."""
    return item.question


def review_messages(item: EvalItem, prediction: str) -> list[dict[str, str]]:
    """System + user message of the official reviewer (rule texts of all categories are identical)."""
    content = (f"[Context]\n{item.meta['caption']}\n\n[Question]\n{item.question}\n\n[Assistant 1]\n{item.answer}\n\n"
               f"[End of Assistant 1]\n\n[Assistant 2]\n{prediction}\n\n[End of Assistant 2]\n\n"
               f"[System]\n{LLAVA_REVIEW_RULE}\n\n")
    return [{"role": "system", "content": LLAVA_REVIEW_SYSTEM}, {"role": "user", "content": content}]


def parse_score(review: str) -> list[float]:
    """First line, commas to spaces, split on single spaces: exactly two numbers, else [-1, -1]."""
    parts = review.split("\n")[0].replace(",", " ").split(" ")
    if len(parts) != 2:
        return [-1, -1]
    try:
        return [float(parts[0]), float(parts[1])]
    except ValueError:
        return [-1, -1]


def summarize(items: list[EvalItem], tuples: dict[str, list[float] | None]) -> dict[str, Any]:
    """summarize_gpt_review.py per category and `all`: relative score and both scores x10 from 3-decimal means."""
    groups: dict[str, list[list[float] | None]] = {}
    for item in items:
        groups.setdefault(item.meta["category"], []).append(tuples[item.id])
        groups.setdefault("all", []).append(tuples[item.id])
    summary: dict[str, Any] = {}
    unrounded: dict[str, Any] = {}
    printed = ["reviews"]
    for key in sorted(groups):
        values = groups[key]
        if any(v is None for v in values):
            summary[key] = {"relative_score": None, "reference_score_x10": None, "model_score_x10": None}
            unrounded[key] = {"mean_reference": None, "mean_model": None, "n": len(values),
                              "relative_unrounded": None}
            printed.append(f"{key} (incomplete: unjudged reviews)")
            continue
        means = np.asarray(values, dtype=float).mean(0).tolist()
        stats = [round(x, 3) for x in means]
        row = {"relative_score": round(stats[1] / stats[0] * 100, 1) if stats[0] else None,
               "reference_score_x10": round(stats[0] * 10, 1), "model_score_x10": round(stats[1] * 10, 1)}
        summary[key] = row
        unrounded[key] = {"mean_reference": means[0], "mean_model": means[1], "n": len(values),
                          "relative_unrounded": 100 * means[1] / means[0] if means[0] else None}
        printed.append(" ".join(str(v) for v in (key, *row.values())))
    printed.append("=" * 33)
    return {"summary": summary, "unrounded": unrounded, "printed": "\n".join(printed) + "\n"}


def review(item: EvalItem, prediction: str, judge: Judge | None) -> dict[str, Any]:
    if judge is None:
        return {"tuple": None, "content": None, "reason": "no judge configured"}
    result = judge.chat(review_messages(item, prediction), item=item.id, stage="review", attempt=1,
                        **REVIEW_REQUEST)
    if not result.ok:
        return {"tuple": None, "content": None, "reason": result.error}
    return {"tuple": parse_score(result.text or ""), "content": result.text, "reason": None}


def score(items: list[EvalItem], predictions: dict[str, str], judge: Judge | None = None,
          scoring: str = "official") -> dict[str, Any]:
    """Relative scores per category and overall; the authors' scripts give identical numbers."""
    predictions = {str(k): v for k, v in predictions.items()}

    def one(item: EvalItem) -> tuple[str, dict[str, Any]]:
        return item.id, review(item, predictions.get(item.id, ""), judge)

    rows = dict(judge.map_items(one, items, desc="llava review") if judge else [one(i) for i in items])
    result = summarize(items, {k: r["tuple"] for k, r in rows.items()})
    result["judging"] = judge_summary(judge, {k: r["reason"] for k, r in rows.items() if r["reason"]}, len(items))
    result["judging"]["unparsed_reviews"] = sorted(k for k, r in rows.items() if r["tuple"] == [-1, -1])
    result["judging"]["per_item"] = {k: {"tuple": r["tuple"], "content": r["content"]} for k, r in rows.items()}
    return result


register_benchmark(Benchmark(name="llava-bench-in-the-wild", read=read, prompt=prompt, max_new_tokens=1024,
                             score=score, needs_judge=True, layout=LAYOUT, scorings=("official", "authors"),
                             headline=("summary", "all", "relative_score")))
# Wilder has no official scorer of its own (lmms-eval's judge sees the image); "official" here is Phantom's setup.
register_benchmark(Benchmark(name="llava-bench-wilder", read=read_wilder, prompt=prompt, max_new_tokens=1024,
                             score=score, needs_judge=True, layout=LAYOUT_WILDER,
                             scorings=("official", "authors"),
                             headline=("summary", "all", "relative_score")))
