"""POPE (COCO random / popular / adversarial): RUCAIBox/POPE yes-no metrics per split (eval-closed.md §10)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from eval.parsing import pope_yes_no
from eval.prompts import CLOSED_MAX_NEW_TOKENS, SHORT_ANSWER_SUFFIX
from eval.registry import Benchmark, register_benchmark
from eval.scoring import mean, prediction_for
from loader.benchmarks import pope as reader
from loader.records import EvalItem

METRICS = ("accuracy", "precision", "recall", "f1", "yes_ratio")


def prompt(item: EvalItem, family: str) -> str:
    """text + single-word suffix."""
    return item.question + SHORT_ANSWER_SUFFIX


def _ratio(num: float, den: float) -> float:
    # The official script divides by zero here (no predicted / no true "yes"); 0.0 follows sklearn's convention.
    return num / den if den else 0.0


def split_metrics(labels: Sequence[str], answers: Sequence[str]) -> dict[str, Any]:
    """TP/FP/TN/FN with yes as positive, accuracy, precision, recall, F1, yes-ratio (fractions)."""
    pairs = list(zip(labels, answers))
    tp = sum(lab == "yes" and ans == "yes" for lab, ans in pairs)
    fp = sum(lab != "yes" and ans == "yes" for lab, ans in pairs)
    tn = sum(lab != "yes" and ans != "yes" for lab, ans in pairs)
    fn = sum(lab == "yes" and ans != "yes" for lab, ans in pairs)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return {"TP": tp, "FP": fp, "TN": tn, "FN": fn, "accuracy": _ratio(tp + tn, len(pairs)),
            "precision": precision, "recall": recall, "f1": _ratio(2 * precision * recall, precision + recall),
            "yes_ratio": _ratio(tp + fp, len(pairs))}


def _by_split(items: Sequence[EvalItem]) -> dict[str, list[EvalItem]]:
    splits: dict[str, list[EvalItem]] = {}
    for item in items:
        splits.setdefault(item.meta["split"], []).append(item)
    return splits


def _authors(items: Sequence[EvalItem], predictions: Mapping[str, str]) -> dict[str, Any]:
    splits = _by_split(items)
    # The authors pair category names [adversarial, popular, random] with the files [popular, adversarial,
    # random]: answers of one file are scored against the labels of the other, position by position.
    answers_from = {"adversarial": "popular", "popular": "adversarial", "random": "random"}
    accuracy = {}
    for name in ("adversarial", "popular", "random"):
        source, labels_of = answers_from[name], name
        if source not in splits or labels_of not in splits:
            continue
        answered = sorted(splits[source], key=lambda it: it.meta["question_id"])
        answers = [pope_yes_no(prediction_for(it, predictions), lowercase=True) for it in answered]
        labels = [it.answer for it in splits[labels_of]]
        pairs = list(zip(labels, answers))
        accuracy[name] = mean(float(lab == ans) for lab, ans in pairs)
    return {"accuracy": accuracy}


def score(items: Sequence[EvalItem], predictions: Mapping[str, str], judge: Any = None,
          scoring: str = "official") -> dict[str, Any]:
    """official: per split metrics (answers in label-file order) and their plain mean over the splits."""
    if scoring == "authors":
        return _authors(items, predictions)
    out: dict[str, Any] = {}
    for split, split_items in _by_split(items).items():
        answers = [pope_yes_no(prediction_for(it, predictions)) for it in split_items]
        out[split] = split_metrics([it.answer for it in split_items], answers)
    splits = list(out)
    out["mean_over_splits"] = {m: mean(out[s][m] for s in splits) for m in METRICS}
    return out


BENCHMARK = register_benchmark(Benchmark(
    name="pope", read=reader.read, prompt=prompt, max_new_tokens=CLOSED_MAX_NEW_TOKENS, score=score,
    layout=reader.LAYOUT, scorings=("official", "authors"), headline=("mean_over_splits", "f1"),
))
