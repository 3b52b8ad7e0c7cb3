"""AI2D (test): prompt with space-separated options, VLMEvalKit exact-matching accuracy (eval-closed.md §2)."""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from eval.parsing import LETTERS, choices_dict, vlmeval_can_infer
from eval.prompts import CLOSED_MAX_NEW_TOKENS, LETTER_SUFFIX, lettered
from eval.registry import Benchmark, register_benchmark
from eval.scoring import authors_accuracy, prediction_for
from loader.benchmarks import ai2d as reader
from loader.records import EvalItem


def prompt(item: EvalItem, family: str) -> str:
    """question + newline + `A. x B. y ...` (space-separated, as the authors write it) + letter suffix."""
    return item.question + "\n" + lettered(item.options, sep=" ") + LETTER_SUFFIX


def _authors_hit(item: EvalItem, text: str) -> bool:
    # The authors take the first capital letter anywhere (IndexError when there is none).
    letter = re.findall("[A-Z]", text)[0]
    return ord(letter) - ord("A") == item.answer


def score(items: Sequence[EvalItem], predictions: Mapping[str, str], judge: Any = None,
          scoring: str = "official") -> dict[str, Any]:
    """official: VLMEvalKit mcq_vanilla_eval, exact matching, accuracy x 100; authors: first capital letter."""
    if scoring == "authors":
        return authors_accuracy(items, predictions, _authors_hit)
    hits = sum(vlmeval_can_infer(prediction_for(it, predictions), choices_dict(it.options)) == LETTERS[it.answer]
               for it in items)
    return {"accuracy": 100.0 * hits / len(items) if items else 0.0, "hits": hits, "total": len(items)}


BENCHMARK = register_benchmark(Benchmark(
    name="ai2d", read=reader.read, prompt=prompt, max_new_tokens=CLOSED_MAX_NEW_TOKENS, score=score,
    layout=reader.LAYOUT, scorings=("official", "authors"), headline=("accuracy",),
))
