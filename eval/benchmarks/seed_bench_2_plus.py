"""SEED-Bench-2-Plus: first-character letter match per chart / map / web (eval-closed.md §4)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from eval.benchmarks.seed_img import authors_first_char_hit, first_char_hit
from eval.prompts import CLOSED_MAX_NEW_TOKENS, LETTER_SUFFIX, lettered
from eval.registry import Benchmark, register_benchmark
from eval.scoring import authors_accuracy, grouped_percent, percent, prediction_for
from loader.benchmarks import seed as reader
from loader.records import EvalItem


def prompt(item: EvalItem, family: str) -> str:
    """As SEED-IMG: question + lettered choices + letter suffix."""
    return item.question + "\n" + lettered(item.options) + LETTER_SUFFIX


def score(items: Sequence[EvalItem], predictions: Mapping[str, str], judge: Any = None,
          scoring: str = "official") -> dict[str, Any]:
    """official (lmms-eval seedbench_2_plus): percent over all and per Chart / Map / Web."""
    if scoring == "authors":
        out = authors_accuracy(items, predictions, authors_first_char_hit)
        if "accuracy" in out:  # per-type values are only printed, rounded to 2 decimals
            hits = [authors_first_char_hit(it, prediction_for(it, predictions)) for it in items]
            per_type = grouped_percent(items, hits, lambda it: it.meta["question_image_type"])
            out["per_type_printed_rounded"] = {k: round(v, 2) for k, v in per_type.items()}
        return out
    hits = [first_char_hit(it, prediction_for(it, predictions)) for it in items]
    out: dict[str, Any] = {"all": percent(hits)}
    out.update(grouped_percent(items, hits, lambda it: str(it.meta["question_image_type"]).capitalize()))
    return out


BENCHMARK = register_benchmark(Benchmark(
    name="seed-bench-2-plus", read=reader.read_seed_2_plus, prompt=prompt, max_new_tokens=CLOSED_MAX_NEW_TOKENS,
    score=score, layout=reader.SEED_2_PLUS_LAYOUT, scorings=("official", "authors"), headline=("all",), aliases=("seed-2-plus",),
))
