"""SEED-IMG (SEED-Bench v1 image questions): first-character letter match (eval-closed.md §3)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from eval.prompts import CLOSED_MAX_NEW_TOKENS, LETTER_SUFFIX, lettered
from eval.registry import Benchmark, register_benchmark
from eval.scoring import authors_accuracy, grouped_percent, percent, prediction_for
from loader.benchmarks import seed as reader
from loader.records import EvalItem


def prompt(item: EvalItem, family: str) -> str:
    """question + newline + `A. ...\\nB. ...` + letter suffix (also lmms-eval's prompt)."""
    return item.question + "\n" + lettered(item.options) + LETTER_SUFFIX


def first_char_hit(item: EvalItem, text: str) -> bool:
    """lmms-eval seed_process_result + aggregation: strip, first character, case-insensitive compare."""
    pred = text.strip()[:1]
    return pred.lower().strip() == str(item.answer).lower().strip()


def authors_first_char_hit(item: EvalItem, text: str) -> bool:
    """The authors' `prediction[0] == answer` (IndexError on an empty prediction)."""
    return text[0] == item.answer


def score(items: Sequence[EvalItem], predictions: Mapping[str, str], judge: Any = None,
          scoring: str = "official") -> dict[str, Any]:
    """official: accuracy (percent) over image questions and per question type."""
    if scoring == "authors":
        return authors_accuracy(items, predictions, authors_first_char_hit)
    hits = [first_char_hit(it, prediction_for(it, predictions)) for it in items]
    return {"accuracy": percent(hits),
            "per_question_type": grouped_percent(items, hits, lambda it: it.meta["question_type"])}


BENCHMARK = register_benchmark(Benchmark(
    name="seed-img", read=reader.read_seed_img, prompt=prompt, max_new_tokens=CLOSED_MAX_NEW_TOKENS, score=score,
    layout=reader.SEED_IMG_LAYOUT, scorings=("official", "authors"), headline=("accuracy",), aliases=("seed",),
))
