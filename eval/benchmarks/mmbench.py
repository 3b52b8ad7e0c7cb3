"""MMBench EN/CN dev and test: authors' prompt, VLMEvalKit circular evaluation with exact matching
(eval-closed.md §5). The test TSVs carry no answers: their score is a count, predictions go to the server."""
from __future__ import annotations

from functools import partial
from typing import Any, Mapping, Sequence

from eval.parsing import choices_dict, vlmeval_can_infer
from eval.prompts import CLOSED_MAX_NEW_TOKENS, LETTER_SUFFIX, lettered
from eval.registry import Benchmark, register_benchmark
from eval.scoring import authors_accuracy, mean, prediction_for
from loader.benchmarks import mmbench as reader
from loader.records import EvalItem

# VLMEvalKit's MMB_abbrs for the l2 categories in report_acc.
L2_ABBREVIATIONS = {
    "coarse_perception": "CP", "finegrained_perception (instance-level)": "FP-S",
    "finegrained_perception (cross-instance)": "FP-C", "logic_reasoning": "LR", "relation_reasoning": "RR",
    "attribute_reasoning": "AR",
}


def prompt(item: EvalItem, family: str) -> str:
    """[hint + newline] + question + newline + `A. ...\\nB. ...` (non-empty options) + letter suffix."""
    hint = item.meta.get("hint")
    head = f"{hint}\n" if hint is not None else ""
    return head + item.question + "\n" + lettered(item.options) + LETTER_SUFFIX


def _extract(item: EvalItem, predictions: Mapping[str, str]) -> str | None:
    return vlmeval_can_infer(prediction_for(item, predictions), choices_dict(item.options))


def _report(groups: dict[int, list[EvalItem]], hits: dict[int, int]) -> dict[str, float]:
    """report_acc: Overall, then per l2-category (abbreviated) and per category, in percent."""
    heads = {g: next((it for it in rows if int(it.id) == g), rows[0]) for g, rows in groups.items()}
    out = {"Overall": 100.0 * mean(hits.values())}
    for field in ("l2-category", "category"):
        for name in sorted({str(h.meta[field]) for h in heads.values() if h.meta.get(field) is not None}):
            members = [hits[g] for g, h in heads.items() if str(h.meta.get(field)) == name]
            out[L2_ABBREVIATIONS.get(name, name) if field == "l2-category" else name] = 100.0 * mean(members)
    return out


def score(items: Sequence[EvalItem], predictions: Mapping[str, str], judge: Any = None,
          scoring: str = "official") -> dict[str, Any]:
    """official: a question (all its rotations, g_index = index mod 1e6) scores 1 only if every rotation's
    extracted letter is right; unextracted counts wrong (exact matching, no judge)."""
    if any(it.answer is None for it in items):
        extracted = sum(_extract(it, predictions) is not None for it in items)
        return {"n_items": len(items), "n_extracted": extracted,
                "note": "test split without answers: submit the predictions to the OpenCompass evaluation server"}
    if scoring == "authors":
        out = authors_accuracy(items, predictions, lambda it, t: t[0] == it.answer, scale=1.0)
        if "accuracy" in out:
            out["accuracy_fraction"] = out.pop("accuracy")
        return out
    groups: dict[int, list[EvalItem]] = {}
    for item in items:
        groups.setdefault(item.meta["g_index"], []).append(item)
    row_hits = {it.id: _extract(it, predictions) == it.answer for it in items}
    hits = {g: int(all(row_hits[it.id] for it in rows)) for g, rows in groups.items()}
    return {"circular": _report(groups, hits), "group_hits": {str(g): h for g, h in hits.items()},
            "vanilla_all_rows": 100.0 * mean(float(h) for h in row_hits.values())}


for _name in reader.FILES:
    register_benchmark(Benchmark(
        name=_name, read=partial(reader.read, name=_name), prompt=prompt, max_new_tokens=CLOSED_MAX_NEW_TOKENS,
        score=score, layout=reader.LAYOUT, scorings=("official", "authors"), headline=("circular", "Overall"),
    ))
