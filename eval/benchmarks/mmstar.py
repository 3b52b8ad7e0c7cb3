"""MMStar: the official MMStar_eval rule and its fixed 250 / 1500 denominators (eval-closed.md §6)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from eval.prompts import CLOSED_MAX_NEW_TOKENS, LETTER_SUFFIX
from eval.registry import Benchmark, register_benchmark
from eval.scoring import prediction_for
from loader.benchmarks import mmstar as reader
from loader.records import EvalItem

# Constants of the official code: 250 questions per category, 1500 in all (equal to accuracy only on the full set).
PER_CATEGORY = 250.0
TOTAL = 1500.0


def prompt(item: EvalItem, family: str) -> str:
    """question (options are inside it) + letter suffix."""
    return item.question + LETTER_SUFFIX


def official_hit(answer: str, prediction: str) -> bool:
    """MMStar_eval: lower-case, strip, newlines to spaces; `x`, `(x`, `option x`, `the answer is x` at the start.
    An exception (empty text, text ending after the prefix) counts as wrong, as the official code swallows it."""
    answer = answer.lower().strip().replace("\n", " ")
    p = prediction.lower().strip().replace("\n", " ")
    try:
        if answer == p[0]:
            return True
        if p[0] == "(" and answer == p[1]:
            return True
        if p[0:7] == "option " and answer == p[7]:
            return True
        if p[0:14] == "the answer is " and answer == p[14]:
            return True
    except IndexError:
        return False
    return False


def score(items: Sequence[EvalItem], predictions: Mapping[str, str], judge: Any = None,
          scoring: str = "official") -> dict[str, Any]:
    """`category(l2)` = correct/count, `category` = correct/250, `final score` = correct/1500 (fractions).
    The authors' eval_mmstar is a copy of the official function, so `authors` gives the same numbers."""
    counts: dict[str, dict[str, list[int]]] = {}
    for item in items:
        cell = counts.setdefault(item.meta["category"], {}).setdefault(item.meta["l2_category"], [0, 0])
        cell[0] += official_hit(str(item.answer), prediction_for(item, predictions))
        cell[1] += 1
    out: dict[str, Any] = {"final score": 0.0}
    total_correct = 0
    for category, l2s in counts.items():
        correct = 0
        for l2, (hit, count) in l2s.items():
            out[f"{category}({l2})"] = hit / count
            correct += hit
        out[category] = correct / PER_CATEGORY
        total_correct += correct
    out["final score"] = total_correct / TOTAL
    return out


BENCHMARK = register_benchmark(Benchmark(
    name="mmstar", read=reader.read, prompt=prompt, max_new_tokens=CLOSED_MAX_NEW_TOKENS, score=score,
    layout=reader.LAYOUT, scorings=("official", "authors"), headline=("final score",),
))
