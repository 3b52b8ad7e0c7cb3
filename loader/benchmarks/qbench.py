"""Reader for Q-Bench A1 perception (LLVisionQA dev; eval-closed.md §9)."""
from __future__ import annotations

from pathlib import Path

from loader.benchmarks.common import read_json
from loader.records import EvalItem

NAME = "q-bench"
LAYOUT = """\
LLVisionQA-QBench/
  llvisionqa_dev.json      list of {img_path, question, question_type (0-2), question_concern (0-3), correct_ans,
                           candidates}
  images/<img_path>
"""
QUESTION_TYPES = {0: "yes-or-no", 1: "what", 2: "how"}
CONCERNS = {0: "distortion", 1: "others", 2: "in-context distortion", 3: "in-context others"}


def read(data_root: Path) -> list[EvalItem]:
    """One item per record; id = position in the file (the authors enumerate)."""
    data_root = Path(data_root)
    base = data_root / "LLVisionQA-QBench"
    records = read_json(base / "llvisionqa_dev.json", NAME, data_root, LAYOUT)
    return [
        EvalItem(
            id=str(n), benchmark=NAME, question=rec["question"], images=[str(base / "images" / rec["img_path"])],
            answer=rec["correct_ans"], options=[str(c) for c in rec["candidates"]],
            meta={"question_type": QUESTION_TYPES[int(rec["question_type"])],
                  "question_concern": CONCERNS[int(rec["question_concern"])]},
        )
        for n, rec in enumerate(records)
    ]
