"""ChartQA test (human + augmented): pix2struct relaxed accuracy (eval-closed.md §13)."""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from eval.parsing import relaxed_correctness
from eval.prompts import CLOSED_MAX_NEW_TOKENS, SHORT_ANSWER_SUFFIX
from eval.registry import Benchmark, register_benchmark
from eval.scoring import mean, prediction_for
from loader.benchmarks import chartqa as reader
from loader.records import EvalItem


def prompt(item: EvalItem, family: str) -> str:
    """query + single-word suffix."""
    return item.question + SHORT_ANSWER_SUFFIX


def _authors(items: Sequence[EvalItem], predictions: Mapping[str, str]) -> dict[str, Any]:
    seen, hits = set(), []
    for item in items:
        # The authors read test_augmented.json only; remove_duplicate keeps the first question per imgname.
        if item.meta["split"] != "augmented" or item.meta["imgname"] in seen:
            continue
        seen.add(item.meta["imgname"])
        text = prediction_for(item, predictions)
        if re.search(r"\d", text):
            text = text.split(" ")[0]
        # Called as relaxed_correctness(prediction, label) on pix2struct's (target, prediction) order, with their
        # second definition that keeps percentages as they are.
        hits.append(relaxed_correctness(text, item.answer[0], percent_as_fraction=False))
    return {"augmented_relaxed_accuracy_fraction": mean(float(h) for h in hits), "n_scored": len(hits)}


def score(items: Sequence[EvalItem], predictions: Mapping[str, str], judge: Any = None,
          scoring: str = "official") -> dict[str, Any]:
    """official: per split 100 * mean of max over targets of relaxed_correctness; their mean and the pooled mean."""
    if scoring == "authors":
        return _authors(items, predictions)
    per_split: dict[str, list[float]] = {}
    for item in items:
        text = prediction_for(item, predictions)
        hit = max(float(relaxed_correctness(t, text)) for t in item.answer)
        per_split.setdefault(item.meta["split"], []).append(hit)
    out: dict[str, Any] = {split: 100.0 * mean(v) for split, v in per_split.items()}
    out["average_of_splits"] = mean(out[s] for s in per_split)
    out["overall_micro"] = 100.0 * mean(h for v in per_split.values() for h in v)
    return out


BENCHMARK = register_benchmark(Benchmark(
    name="chartqa", read=reader.read, prompt=prompt, max_new_tokens=CLOSED_MAX_NEW_TOKENS, score=score,
    layout=reader.LAYOUT, scorings=("official", "authors"), headline=("average_of_splits",),
))
