"""Reader for VisualWebBench: the seven sub-task parquet files of HF `visualwebbench/VisualWebBench`."""
from __future__ import annotations

from pathlib import Path

from loader.benchmarks.open_layouts import LAYOUTS, read_parquet_rows, require
from loader.records import EvalItem

BENCHMARK = "visualwebbench"
LAYOUT = LAYOUTS[BENCHMARK]
TASKS = ("web_caption", "heading_ocr", "webqa", "element_ocr", "element_ground", "action_prediction",
         "action_ground")
TASK_FIELDS = {  # columns the prompts and scorers read (spec eval-open.md 4.1)
    "web_caption": [], "heading_ocr": [], "webqa": ["question"], "element_ocr": ["bbox"],
    "element_ground": ["elem_desc"], "action_prediction": ["bbox", "options"], "action_ground": ["instruction"],
}


def read(data_root: Path) -> list[EvalItem]:
    """All sub-tasks in the fixed order above; ids must be unique across tasks (the authors dedupe by id)."""
    data_root = Path(data_root)
    require(data_root / "VisualWebBench", BENCHMARK, data_root)
    items: list[EvalItem] = []
    seen: set[str] = set()
    for task in TASKS:
        path = data_root / "VisualWebBench" / task / "test-00000-of-00001.parquet"
        for row in read_parquet_rows(path, BENCHMARK, data_root, ["id", "image", "answer", *TASK_FIELDS[task]]):
            item_id = str(row["id"])
            if item_id in seen:
                raise ValueError(f"{BENCHMARK}: {path}: id {item_id!r} appears twice; ids must be unique across "
                                 "sub-tasks")
            seen.add(item_id)
            image = row["image"]["bytes"] if isinstance(row["image"], dict) else row["image"]
            meta = {"task_type": task}
            for key in ("question", "bbox", "options", "elem_desc", "instruction", "website"):
                if key in row:
                    meta[key] = row[key]
            answer = row["answer"]
            items.append(EvalItem(id=item_id, benchmark=BENCHMARK, question=str(row.get("question") or ""),
                                  images=[image], answer=list(answer) if isinstance(answer, (list, tuple)) else answer,
                                  options=None, meta=meta))
    return items
