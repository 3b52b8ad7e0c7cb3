"""Reader for BLINK val (HF BLINK-Benchmark/BLINK parquet layout, 14 subtasks; eval-closed.md §7)."""
from __future__ import annotations

import json
from pathlib import Path

from loader.benchmarks.common import image_bytes, layout_error, read_parquet, require
from loader.records import EvalItem

NAME = "blink"
SUBTASKS = (
    "Visual_Similarity", "Counting", "Relative_Depth", "Jigsaw", "Art_Style", "Functional_Correspondence",
    "Semantic_Correspondence", "Spatial_Relation", "Object_Localization", "Visual_Correspondence",
    "Multi-view_Reasoning", "Relative_Reflectance", "Forensic_Detection", "IQ_Test",
)
LAYOUT = """\
BLINK/
  <Subtask>/val-*.parquet  for each of the 14 subtasks: idx, question, sub_task, image_1..image_4 ({bytes, path} or
                           null), choices, answer ("(A)"...), prompt, explanation
  val_answers.json         {idx: "(X)"} (optional; the official repo's eval/val_answers.json, read by the authors)
"""


def read(data_root: Path) -> list[EvalItem]:
    """All val questions, subtasks in the official order; id = idx; images = the non-null image_1..image_4."""
    data_root = Path(data_root)
    base = require(data_root / "BLINK", NAME, data_root, LAYOUT)
    answers_path = base / "val_answers.json"
    gold = json.loads(answers_path.read_text(encoding="utf-8")) if answers_path.exists() else {}
    items = []
    for subtask in SUBTASKS:
        files = sorted((base / subtask).glob("val-*.parquet"))
        if not files:
            raise layout_error(NAME, data_root, base / subtask / "val-*.parquet", LAYOUT)
        for path in files:
            for row in read_parquet(path, NAME, data_root, LAYOUT):
                where = f"{path} idx {row['idx']}"
                images = [b for b in (image_bytes(row.get(f"image_{k}"), where) for k in range(1, 5)) if b is not None]
                items.append(EvalItem(
                    id=str(row["idx"]), benchmark=NAME, question=row["prompt"], images=images,
                    answer=gold.get(str(row["idx"]), row["answer"]), options=[str(c) for c in row["choices"]],
                    meta={"sub_task": subtask, "raw_question": row["question"]},
                ))
    return items
