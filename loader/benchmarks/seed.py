"""Readers for SEED-Bench v1 image questions (SEED-IMG) and SEED-Bench-2-Plus (eval-closed.md §3, §4)."""
from __future__ import annotations

from pathlib import Path

from loader.benchmarks.common import layout_error, read_json
from loader.records import EvalItem

SEED_IMG = "seed-img"
SEED_IMG_LAYOUT = """\
SEED-Bench/
  SEED-Bench.json          {"questions": [{answer, choice_a..choice_d, data_id, data_type, question, question_id,
                            question_type_id}], "question_type": {name: id}}
  SEED-Bench-image/<data_id>
"""
SEED_2_PLUS = "seed-bench-2-plus"
SEED_2_PLUS_LAYOUT = """\
SEED-Bench-2-plus/
  SEED-Bench-2-plus-text-rich.json   list of {question_id, question, choice_A..choice_D, answer, data_id,
                                      question_image_type (chart/map/web), ...}
  <data_id>                          e.g. text_rich/chart/....png (the unpacked text_rich.zip)
"""


def read_seed_img(data_root: Path) -> list[EvalItem]:
    """SEED-Bench v1 questions with `data_type == "image"`; id = question_id."""
    data_root = Path(data_root)
    base = data_root / "SEED-Bench"
    data = read_json(base / "SEED-Bench.json", SEED_IMG, data_root, SEED_IMG_LAYOUT)
    if "questions" not in data:
        raise layout_error(SEED_IMG, data_root, base / "SEED-Bench.json", SEED_IMG_LAYOUT, "without 'questions'")
    type_names = {int(v): k for k, v in data.get("question_type", {}).items()}
    items = []
    for q in data["questions"]:
        if q.get("data_type") != "image":
            continue
        type_id = int(q["question_type_id"])
        items.append(EvalItem(
            id=str(q["question_id"]), benchmark=SEED_IMG, question=q["question"],
            images=[str(base / "SEED-Bench-image" / q["data_id"])], answer=q["answer"],
            options=[q[f"choice_{c}"] for c in "abcd"],
            meta={"question_type_id": type_id, "question_type": type_names.get(type_id, str(type_id))},
        ))
    return items


def read_seed_2_plus(data_root: Path) -> list[EvalItem]:
    """All SEED-Bench-2-Plus questions; id = question_id."""
    data_root = Path(data_root)
    base = data_root / "SEED-Bench-2-plus"
    records = read_json(base / "SEED-Bench-2-plus-text-rich.json", SEED_2_PLUS, data_root, SEED_2_PLUS_LAYOUT)
    return [
        EvalItem(
            id=str(q["question_id"]), benchmark=SEED_2_PLUS, question=q["question"],
            images=[str(base / q["data_id"])], answer=q["answer"],
            options=[q[f"choice_{c}"] for c in "ABCD"],
            meta={"question_image_type": q["question_image_type"]},
        )
        for q in records
    ]
