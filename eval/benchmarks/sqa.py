"""SQA-IMG (ScienceQA test, image questions): prompt, LLaVA's letter parsing, IMG-Accuracy (eval-closed.md §1)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from eval.parsing import authors_convert_to_choice, letter_index, llava_sqa_letter
from eval.prompts import CLOSED_MAX_NEW_TOKENS, LETTER_SUFFIX, lettered
from eval.registry import Benchmark, register_benchmark
from eval.scoring import authors_accuracy, prediction_for
from loader.benchmarks import sqa as reader
from loader.records import EvalItem


def prompt(item: EvalItem, family: str) -> str:
    """`"\\n".join([hint, question, choices])` + letter suffix (an empty hint leaves a leading newline)."""
    return "\n".join([item.meta.get("hint", ""), item.question, lettered(item.options)]) + LETTER_SUFFIX


def _official_hit(item: EvalItem, text: str) -> bool:
    index = letter_index(llava_sqa_letter(text))
    # LLaVA's get_pred_idx: a letter beyond the item's choices is -1.
    if index >= len(item.options):
        index = -1
    return index == item.answer


def score(items: Sequence[EvalItem], predictions: Mapping[str, str], judge: Any = None,
          scoring: str = "official") -> dict[str, Any]:
    """official: LLaVA eval_science_qa.py IMG-Accuracy; authors: TroL/Phantom convert_to_choice accuracy."""
    if scoring == "authors":
        return authors_accuracy(
            items, predictions, lambda it, t: authors_convert_to_choice(t, len(it.options)) == it.answer)
    correct = sum(_official_hit(it, prediction_for(it, predictions)) for it in items)
    total = len(items)
    return {"img_accuracy": 100.0 * correct / total if total else 0.0, "correct": correct, "total": total}


BENCHMARK = register_benchmark(Benchmark(
    name="sqa-img", read=reader.read, prompt=prompt, max_new_tokens=CLOSED_MAX_NEW_TOKENS, score=score,
    layout=reader.LAYOUT, scorings=("official", "authors"), headline=("img_accuracy",), aliases=("sqa",),
))
