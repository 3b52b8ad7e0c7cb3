"""CV-Bench: the dataset card's aggregation (per source, 2D, 3D, overall) over VLMEvalKit exact matching
(eval-closed.md §8)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from eval.parsing import choices_dict, vlmeval_can_infer
from eval.prompts import CLOSED_MAX_NEW_TOKENS, LETTER_SUFFIX
from eval.registry import Benchmark, register_benchmark
from eval.scoring import mean, prediction_for
from loader.benchmarks import cvbench as reader
from loader.records import EvalItem

SOURCES_2D = ("ADE20K", "COCO")
SOURCE_3D = "Omni3D"


def prompt(item: EvalItem, family: str) -> str:
    """The card's `prompt` (question + `(A) ...` choices) + letter suffix (Cambrian appends the same)."""
    return item.question + LETTER_SUFFIX


def _aggregate(per_source: dict[str, float]) -> dict[str, float]:
    two_d = mean(per_source[s] for s in SOURCES_2D if s in per_source)
    three_d = per_source.get(SOURCE_3D, 0.0)
    present = [v for v, ok in ((two_d, any(s in per_source for s in SOURCES_2D)), (three_d, SOURCE_3D in per_source)) if ok]
    return {"overall": mean(present), "2D": two_d, "3D": three_d}


def score(items: Sequence[EvalItem], predictions: Mapping[str, str], judge: Any = None,
          scoring: str = "official") -> dict[str, Any]:
    """Fractions: accuracy per source, 2D = mean(ADE20K, COCO), 3D = Omni3D, overall = mean(2D, 3D)."""
    per_source: dict[str, list[float]] = {}
    for item in items:
        text = prediction_for(item, predictions)
        if scoring == "authors":
            hit = text in item.answer  # the authors' substring test: "" and "(" count as right
        else:
            hit = vlmeval_can_infer(text, choices_dict(item.options)) == item.answer.strip("()")
        per_source.setdefault(item.meta["source"], []).append(float(hit))
    sources = {s: mean(v) for s, v in per_source.items()}
    out = {**_aggregate(sources), **sources}
    if scoring == "authors":  # the authors return overall and print the parts with 4 decimals
        return {"overall": out["overall"], **{f"{k}_printed_4dp": round(v, 4) for k, v in out.items() if k != "overall"}}
    return out


BENCHMARK = register_benchmark(Benchmark(
    name="cv-bench", read=reader.read, prompt=prompt, max_new_tokens=CLOSED_MAX_NEW_TOKENS, score=score,
    layout=reader.LAYOUT, scorings=("official", "authors"), headline=("overall",), aliases=("cvbench",),
))
