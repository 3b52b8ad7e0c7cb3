"""Helpers shared by the scorers: prediction lookup, accuracies, and the report of the authors' evaluator
when it raises on a record (the fixtures record the exception, the offending ids and the score on the rest)."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Sequence

from loader.records import EvalItem


def prediction_for(item: EvalItem, predictions: Mapping[str, str]) -> str:
    """The item's raw prediction; a missing one counts as the empty answer."""
    value = predictions.get(str(item.id))
    return "" if value is None else str(value)


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; 0.0 for no values (a scorer on an empty subset reports 0, not an exception)."""
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def percent(hits: Sequence[bool | int]) -> float:
    """100 * mean of hits."""
    return mean(float(h) for h in hits) * 100


def authors_accuracy(items: Sequence[EvalItem], predictions: Mapping[str, str],
                     is_correct: Callable[[EvalItem, str], bool], scale: float = 100.0) -> dict[str, Any]:
    """Run the authors' per-record rule; if it raises on some records, report them as the fixtures do."""
    hits, crashing, first_error = [], [], None
    for item in items:
        try:
            hits.append(bool(is_correct(item, prediction_for(item, predictions))))
        except (IndexError, KeyError, ValueError) as exc:
            crashing.append(item.id)
            first_error = first_error or exc
    accuracy = mean(float(h) for h in hits) * scale
    if first_error is None:
        return {"accuracy": accuracy, "n_items": len(hits)}
    return {
        "raises": type(first_error).__name__, "message": str(first_error), "crashing_ids": crashing,
        "accuracy_excluding_crashing_records": accuracy, "n_scored": len(hits),
    }


def grouped_percent(items: Sequence[EvalItem], hits: Sequence[bool], key: Callable[[EvalItem], str]) -> dict[str, float]:
    """Percent accuracy per group, groups in first-seen order."""
    groups: dict[str, list[bool]] = {}
    for item, hit in zip(items, hits):
        groups.setdefault(key(item), []).append(hit)
    return {name: percent(values) for name, values in groups.items()}
