"""Q-Bench A1 (LLVisionQA dev): VLMEvalKit exact matching, Overall and per question type / concern
(eval-closed.md §9)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from eval.parsing import LETTERS, authors_convert_to_choice, choices_dict, vlmeval_can_infer
from eval.prompts import CLOSED_MAX_NEW_TOKENS, LETTER_SUFFIX, lettered
from eval.registry import Benchmark, register_benchmark
from eval.scoring import grouped_percent, percent, prediction_for
from loader.benchmarks import qbench as reader
from loader.records import EvalItem


def prompt(item: EvalItem, family: str) -> str:
    """question + newline + `A. c1\\nB. c2...` + letter suffix."""
    return item.question + "\n" + lettered(item.options) + LETTER_SUFFIX


def _authors_hit(item: EvalItem, text: str) -> bool:
    # An unparsed answer gives index -1, and candidates[-1] is compared: right whenever the last candidate is.
    return item.options[authors_convert_to_choice(text, len(item.options))] == item.answer


def score(items: Sequence[EvalItem], predictions: Mapping[str, str], judge: Any = None,
          scoring: str = "official") -> dict[str, Any]:
    """Percent: Overall, per question_concern and per question_type."""
    if scoring == "authors":
        return {"accuracy": percent([_authors_hit(it, prediction_for(it, predictions)) for it in items])}
    hits = []
    for item in items:
        gold = LETTERS[item.options.index(item.answer)]
        hits.append(vlmeval_can_infer(prediction_for(item, predictions), choices_dict(item.options)) == gold)
    out: dict[str, Any] = {"Overall": percent(hits)}
    out.update(grouped_percent(items, hits, lambda it: it.meta["question_concern"]))
    out.update(grouped_percent(items, hits, lambda it: it.meta["question_type"]))
    return out


BENCHMARK = register_benchmark(Benchmark(
    name="q-bench", read=reader.read, prompt=prompt, max_new_tokens=CLOSED_MAX_NEW_TOKENS, score=score,
    layout=reader.LAYOUT, scorings=("official", "authors"), headline=("Overall",), aliases=("qbench",),
))
