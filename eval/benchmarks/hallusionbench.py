"""HallusionBench: VLMEvalKit yes/no extraction and aAcc / fAcc / qAcc (eval-closed.md §12)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from eval.parsing import vlmeval_yes_no
from eval.prompts import CLOSED_MAX_NEW_TOKENS, YES_NO_SUFFIX
from eval.registry import Benchmark, register_benchmark
from eval.scoring import mean, percent, prediction_for
from loader.benchmarks import hallusionbench as reader
from loader.records import EvalItem


def prompt(item: EvalItem, family: str) -> str:
    """question + "\\nPlease answer yes or no." unless the question already has it."""
    if "Please answer yes or no." in item.question:
        return item.question
    return item.question + YES_NO_SUFFIX


def _rates(items: Sequence[EvalItem], hits: Sequence[bool]) -> dict[str, float]:
    """VLMEvalKit Hallusion_rating on one subset: question, figure and question-pair accuracies."""
    figures: dict[tuple, list[bool]] = {}
    questions: dict[tuple, list[bool]] = {}
    for item, hit in zip(items, hits):
        m = item.meta
        figures.setdefault((m["subcategory"], m["set_id"], m["figure_id"]), []).append(hit)
        questions.setdefault((m["subcategory"], m["set_id"], m["question_id"]), []).append(hit)
    return {"aAcc": percent(hits),
            "fAcc": 100.0 * mean(float(all(v)) for v in figures.values()),
            "qAcc": 100.0 * mean(float(all(v)) for v in questions.values())}


def score(items: Sequence[EvalItem], predictions: Mapping[str, str], judge: Any = None,
          scoring: str = "official") -> dict[str, Any]:
    """official: Overall, per category (VD/VS) and per subcategory; authors: "yes" substring accuracy."""
    if scoring == "authors":
        hits = [("1" if "yes" in prediction_for(it, predictions).lower() else "0") == it.answer for it in items]
        return {"accuracy": percent(hits)}
    extracted = {"Yes": "1", "No": "0"}
    hits = [extracted.get(vlmeval_yes_no(prediction_for(it, predictions))) == it.answer for it in items]
    out = {"Overall": _rates(items, hits)}
    for field in ("category", "subcategory"):
        for name in sorted({it.meta[field] for it in items}):
            chosen = [(it, h) for it, h in zip(items, hits) if it.meta[field] == name]
            out[name] = _rates([c[0] for c in chosen], [c[1] for c in chosen])
    return out


BENCHMARK = register_benchmark(Benchmark(
    name="hallusionbench", read=reader.read, prompt=prompt, max_new_tokens=CLOSED_MAX_NEW_TOKENS, score=score,
    layout=reader.LAYOUT, scorings=("official", "authors"), headline=("Overall", "aAcc"),
))
