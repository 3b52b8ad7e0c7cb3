"""MME: per-subtask acc / acc+ and the Perception / Cognition totals of MME's calculation.py (eval-closed.md §11)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from eval.parsing import mme_yes_no
from eval.prompts import CLOSED_MAX_NEW_TOKENS
from eval.registry import Benchmark, register_benchmark
from eval.scoring import prediction_for
from loader.benchmarks import mme as reader
from loader.records import EvalItem

PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark", "artwork", "OCR")
COGNITION = ("commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning")


def prompt(item: EvalItem, family: str) -> str:
    """The llava_mme text as is: it already ends with the single-word suffix."""
    return item.question


def subtask_metrics(rows: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    """rows: (image file, gt yes/no, parsed prediction yes/no/other) in result-file order."""
    images: dict[str, list[bool]] = {}
    tp = fn = tn = fp = other = 0
    for image, gt, pred in rows:
        images.setdefault(image, []).append(gt == pred)
        if pred == "other":
            other += 1
        elif gt == "yes":
            tp, fn = tp + (pred == "yes"), fn + (pred == "no")
        else:
            fp, tn = fp + (pred == "yes"), tn + (pred == "no")
    acc = sum(gt == pred for _, gt, pred in rows) / len(rows)
    # acc+: an image counts when all (two) of its questions are right.
    acc_plus = sum(all(v) for v in images.values()) / len(images)
    return {"acc": acc, "acc_plus": acc_plus, "other_num": other, "TP": tp, "FN": fn, "TN": tn, "FP": fp}


def score(items: Sequence[EvalItem], predictions: Mapping[str, str], judge: Any = None,
          scoring: str = "official") -> dict[str, Any]:
    """score = 100 * (acc + acc+) per subtask; Perception, Cognition and their sum. The authors' evaluator is
    the same calculation (their fallback only differs on malformed result files), so `authors` gives the same
    numbers in the authors' layout."""
    rows: dict[str, list[tuple[str, str, str]]] = {}
    for item in items:
        pred = mme_yes_no(prediction_for(item, predictions))
        rows.setdefault(item.meta["category"], []).append((item.meta["file"], item.answer.lower(), pred))
    subtasks = {name: subtask_metrics(r) for name, r in rows.items()}
    out: dict[str, Any] = {}
    for group, names in (("Perception", PERCEPTION), ("Cognition", COGNITION)):
        scores = {n: 100 * (subtasks[n]["acc"] + subtasks[n]["acc_plus"]) for n in names if n in subtasks}
        out[group] = {"total": sum(scores.values()), **scores}
    if scoring == "authors":
        return out
    out["total"] = out["Perception"]["total"] + out["Cognition"]["total"]
    out["subtasks"] = subtasks
    return out


BENCHMARK = register_benchmark(Benchmark(
    name="mme", read=reader.read, prompt=prompt, max_new_tokens=CLOSED_MAX_NEW_TOKENS, score=score,
    layout=reader.LAYOUT, scorings=("official", "authors"), headline=("total",),
))
