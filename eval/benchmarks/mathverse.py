"""MathVerse testmini (5 problem versions) and testmini_text_only: GPT answer extraction, then a GPT 0/1
consistency judgement, accuracy per file, per problem version and per subject / subfield.

Follows ZrrSkywalker/MathVerse `extract_answer_s1.py` + `score_answer_s2.py` (spec eval-open.md section 3; TroL's
`eval_mathverse` sends the same requests). Both official loops (empty reply, judgement not exactly `0`/`1`) are
unbounded; here they stop after `judge.max_reasks` asks and the record is marked unjudged.
"""
from __future__ import annotations

from typing import Any

from eval.judge import Judge, judge_summary
from eval.judge_prompts import MATHVERSE_EXTRACT_DEMO, MATHVERSE_SCORE_DEMO
from eval.registry import Benchmark, register_benchmark
from loader.benchmarks.mathverse import LAYOUT, read
from loader.records import EvalItem

REQUEST = {"model": "gpt-3.5-turbo", "temperature": 0, "max_tokens": 256, "n": 1}  # both stages (spec 3.3)


def prompt(item: EvalItem, family: str) -> str:
    """`query_wo`, the direct-answer ("w/o CoT") prompt the authors and the leaderboard use."""
    return item.question


def _ask(judge: Judge, item: EvalItem, stage: str, content: str, accept) -> tuple[Any, str | None]:
    """Ask until `accept(reply)` returns a value (not None); bounded by `judge.max_reasks`."""
    messages = [{"role": "user", "content": content}]
    for attempt in range(1, judge.max_reasks + 1):
        result = judge.chat(messages, item=item.id, stage=stage, attempt=attempt, **REQUEST)
        if not result.ok:
            return None, result.error
        value = accept((result.text or "").strip())  # get_chat_response strips and re-asks on ""
        if value is not None:
            return value, None
    return None, f"malformed: no acceptable {stage} reply in {judge.max_reasks} asks"


def _accept_extraction(reply: str) -> str | None:
    return reply.replace("Extracted Answer: ", "").strip() if reply else None


def _accept_judgement(reply: str) -> int | None:
    judgement = reply.replace("Judgement:", "").strip()
    return int(judgement) if judgement in ("0", "1") else None


def _judge_item(item: EvalItem, response: str, judge: Judge | None) -> dict[str, Any]:
    if judge is None:
        return {"extraction": None, "judgement": None, "reason": "no judge configured"}
    content = MATHVERSE_EXTRACT_DEMO + "\n\n" + "Model response: '" + response + "'\nExtracted Answer: "
    extraction, reason = _ask(judge, item, "extract", content, _accept_extraction)
    if extraction is None:
        return {"extraction": None, "judgement": None, "reason": reason}
    # demo_prompt_score.strip().format(question=..., gt=..., extraction=...): its last block filled in.
    content = (MATHVERSE_SCORE_DEMO + f"[Question]: {item.meta['raw_question']}\n[Standard Answer]: {item.answer}\n"
               f"[Model_answer] : {extraction}\nJudgement:")
    judgement, reason = _ask(judge, item, "score", content, _accept_judgement)
    return {"extraction": extraction, "judgement": judgement, "reason": reason}


def _acc(values: list[int | None]) -> dict[str, Any]:
    if any(v is None for v in values):
        return {"correct": None, "total": len(values), "acc": None}
    return {"correct": sum(values), "total": len(values), "acc": sum(values) / len(values)}


def _printed(items: list[EvalItem], values: dict[str, int | None]) -> dict[str, str | None]:
    """The 3-decimal lines score_answer_s2.py prints: subject-subfield, subject, Total, then per version."""
    out: dict[str, str | None] = {}

    def line(key: str, subset: list[EvalItem]) -> None:
        acc = _acc([values[i.id] for i in subset])["acc"]
        out[key] = None if acc is None else f"{acc:.3f}"

    subjects: dict[str, dict[str, None]] = {}
    for item in items:
        subjects.setdefault(item.meta["metadata"]["subject"], {}).setdefault(item.meta["metadata"]["subfield"], None)
    for subject, subfields in subjects.items():
        for subfield in subfields:
            line(f"{subject}-{subfield}", [i for i in items if i.meta["metadata"]["subject"] == subject
                                          and i.meta["metadata"]["subfield"] == subfield])
        line(subject, [i for i in items if i.meta["metadata"]["subject"] == subject])
    line("Total", items)
    for version in _versions(items):
        line(version, [i for i in items if i.meta["problem_version"] == version])
    return out


def _versions(items: list[EvalItem]) -> list[str]:
    return list(dict.fromkeys(i.meta["problem_version"] for i in items))


def score(items: list[EvalItem], predictions: dict[str, str], judge: Judge | None = None,
          scoring: str = "official") -> dict[str, Any]:
    """Official: per file (testmini: 5-version overall + by version; text-only: overall). Authors: one pooled
    "Total Acc" over all six versions plus a 3-decimal string per version."""
    predictions = {str(k): v for k, v in predictions.items()}

    def one(item: EvalItem) -> tuple[str, dict[str, Any]]:
        return item.id, _judge_item(item, predictions.get(item.id, ""), judge)

    rows = dict(judge.map_items(one, items, desc="mathverse judge") if judge else [one(i) for i in items])
    judgement = {k: r["judgement"] for k, r in rows.items()}
    # --quick_match: exact string equality of extraction and answer, no judgement call (still needs extraction).
    quick = {i.id: (None if rows[i.id]["extraction"] is None else int(rows[i.id]["extraction"] == i.answer))
             for i in items}
    unjudged = {k: r["reason"] for k, r in rows.items() if r["reason"]}
    if scoring == "authors":
        scores: dict[str, str | None] = {}
        for version in _versions(items):
            acc = _acc([judgement[i.id] for i in items if i.meta["problem_version"] == version])["acc"]
            scores[version] = None if acc is None else "%.3f" % acc
        total = _acc([judgement[i.id] for i in items])
        scores["Total Acc"] = None if total["acc"] is None else "%.3f" % total["acc"]
        result: dict[str, Any] = {"scores_json": scores, "total_all_six_versions": total}
    else:
        result = {}
        for stem in dict.fromkeys(i.meta["file"] for i in items):
            subset = [i for i in items if i.meta["file"] == stem]
            block: dict[str, Any] = {}
            overall = _acc([judgement[i.id] for i in subset])
            if stem == "testmini":
                block["overall_5_versions"] = overall
                block["by_version"] = {v: _acc([judgement[i.id] for i in subset if i.meta["problem_version"] == v])
                                       for v in _versions(subset)}
            else:
                block["overall"] = overall
            block["printed_acc"] = _printed(subset, judgement)
            block["quick_match_printed_acc"] = _printed(subset, quick)
            result[stem] = block
    result["judging"] = judge_summary(judge, unjudged, len(items))
    return result


register_benchmark(Benchmark(name="mathverse", read=read, prompt=prompt, max_new_tokens=512, score=score,
                             needs_judge=True, layout=LAYOUT, scorings=("official", "authors"),
                             headline=("testmini", "overall_5_versions", "acc")))
