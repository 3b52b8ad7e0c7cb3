"""Readers for LLaVA-Bench in-the-wild (three JSONL files + `images/`) and LLaVA-Bench-Wilder small (parquet)."""
from __future__ import annotations

from pathlib import Path

from loader.benchmarks.open_layouts import LAYOUTS, read_jsonl, read_parquet_rows, require
from loader.records import EvalItem

LAYOUT = LAYOUTS["llava-bench-in-the-wild"]
LAYOUT_WILDER = LAYOUTS["llava-bench-wilder"]
WILDER_PARQUET = "LLaVA-Bench-Wilder/small/test-00000-of-00001.parquet"


def read(data_root: Path) -> list[EvalItem]:
    """LLaVA-W: questions with their context caption and GPT-4 reference answer.

    The official reviewer zips questions.jsonl and answers_gpt4.jsonl line by line; we pair them the same way but
    refuse a pairing whose question ids disagree (the official script would silently review wrong pairs).
    """
    data_root = Path(data_root)
    folder = require(data_root / "llava-bench-in-the-wild", "llava-bench-in-the-wild", data_root)
    questions = read_jsonl(folder / "questions.jsonl", "llava-bench-in-the-wild", data_root)
    answers = read_jsonl(folder / "answers_gpt4.jsonl", "llava-bench-in-the-wild", data_root)
    contexts = read_jsonl(folder / "context.jsonl", "llava-bench-in-the-wild", data_root)
    captions = {c["image"]: c["caption"] for c in contexts}
    if len(questions) != len(answers):
        raise ValueError(f"llava-bench-in-the-wild: {folder}/questions.jsonl has {len(questions)} lines but "
                         f"answers_gpt4.jsonl has {len(answers)}; they must be line-aligned")
    items = []
    for line, (q, ref) in enumerate(zip(questions, answers), 1):
        if "question_id" in ref and ref["question_id"] != q["question_id"]:
            raise ValueError(f"llava-bench-in-the-wild: line {line}: questions.jsonl has question_id "
                             f"{q['question_id']} but answers_gpt4.jsonl has {ref['question_id']}; reorder the files")
        if q["image"] not in captions:
            raise ValueError(f"llava-bench-in-the-wild: {folder}/context.jsonl has no caption for image "
                             f"{q['image']!r} (question_id {q['question_id']})")
        caption = captions[q["image"]]
        image = require(folder / "images" / q["image"], "llava-bench-in-the-wild", data_root)
        items.append(EvalItem(
            id=str(q["question_id"]), benchmark="llava-bench-in-the-wild", question=q["text"], images=[str(image)],
            answer=ref["text"],
            meta={"category": "llava_bench_" + q["category"],
                  "caption": "\n".join(caption) if isinstance(caption, list) else caption,
                  "answer1_id": ref.get("answer_id")},
        ))
    return items


def read_wilder(data_root: Path) -> list[EvalItem]:
    """LLaVA-Bench-Wilder small, sorted by `image_name` (Phantom's results file order; the id is image_name)."""
    data_root = Path(data_root)
    rows = read_parquet_rows(data_root / WILDER_PARQUET, "llava-bench-wilder", data_root,
                             ["image", "Question", "Answer", "image_name"])
    items = []
    for row in sorted(rows, key=lambda r: r["image_name"]):
        image = row["image"]["bytes"] if isinstance(row["image"], dict) else row["image"]
        items.append(EvalItem(id=str(row["image_name"]), benchmark="llava-bench-wilder", question=row["Question"],
                              images=[image], answer=row["Answer"],
                              meta={"category": "llava_wilder", "caption": ""}))
    return items
