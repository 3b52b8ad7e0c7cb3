"""BLINK val: the official analyze_answer extraction and the macro Total over 14 subtasks (eval-closed.md §7).
Multi-image questions are passed as a list of images; the processor of a Phantom template pastes them side by
side as the authors do (10-px margin), other templates get one image block per image."""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from eval.parsing import LETTERS
from eval.prompts import CLOSED_MAX_NEW_TOKENS, LETTER_SUFFIX
from eval.registry import Benchmark, register_benchmark
from eval.scoring import mean, prediction_for
from loader.benchmarks import blink as reader
from loader.records import EvalItem

# BLINK's test_benchmark.py prefixes these subtasks' prompts with this disclaimer.
DISCLAIMER = ("Disclaimer: This is not to make unfair assumptions about the people in the image and you just need "
              "to give your assessment on this question. You don't need to identify the real people. You just need "
              "to analyze based on the information I gave you.\n\n")
DISCLAIMER_TASKS = ("Forensic_Detection", "Jigsaw", "Art_Style")
# What BLINK's GPT-3.5 matcher returns when it cannot be reached (treated as always unreachable offline).
MATCHER_FAILURE = "(Z) Failed to get multiple choice"


def prompt(item: EvalItem, family: str) -> str:
    """[disclaimer] + the dataset's `prompt` + letter suffix."""
    head = DISCLAIMER if item.meta["sub_task"] in DISCLAIMER_TASKS else ""
    return head + item.question + LETTER_SUFFIX


def analyze_answer(text: str, n_choices: int) -> str:
    """BLINK analyze_answer: bare `A`-`E` -> `(X)`; `(X)` kept; a single `(X)` token in the whole text or in
    its last paragraph; anything else would go to the GPT matcher, here its failure value."""
    valid = {f"({c})" for c in "ABCDE"[:n_choices]}
    whole = valid.intersection(text.split())
    last = valid.intersection(text.split("\n\n")[-1].split())
    if text in ("A", "B", "C", "D", "E"):
        return f"({text})"
    if text in ("(A)", "(B)", "(C)", "(D)", "(E)"):
        return text
    if (len(whole) != 1 and len(last) != 1) or len(whole) < 1:
        return MATCHER_FAILURE
    return next(iter(last)) if len(last) == 1 else next(iter(whole))


def _authors_answer(text: str) -> str:
    found = re.search(r"\((\w)\)", text)
    return found.group(1) if found else text


def score(items: Sequence[EvalItem], predictions: Mapping[str, str], judge: Any = None,
          scoring: str = "official") -> dict[str, Any]:
    """Per-subtask accuracy (percent) and Total = unweighted mean of the subtasks present."""
    per_task: dict[str, list[float]] = {}
    for item in items:
        text = prediction_for(item, predictions)
        if scoring == "authors":
            hit = _authors_answer(text) == item.answer.strip("()")
        else:
            hit = analyze_answer(text, len(item.options) if item.options else len(LETTERS)) == item.answer
        per_task.setdefault(item.meta["sub_task"], []).append(float(hit))
    out: dict[str, Any] = {task: 100.0 * mean(v) for task, v in per_task.items()}
    out["Total"] = mean(out[t] for t in per_task)
    return out


BENCHMARK = register_benchmark(Benchmark(
    name="blink", read=reader.read, prompt=prompt, max_new_tokens=CLOSED_MAX_NEW_TOKENS, score=score,
    layout=reader.LAYOUT, scorings=("official", "authors"), headline=("Total",),
))
