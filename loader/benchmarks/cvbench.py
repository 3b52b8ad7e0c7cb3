"""Reader for CV-Bench (test.parquet of nyu-visionx/CV-Bench; eval-closed.md §8)."""
from __future__ import annotations

from pathlib import Path

from loader.benchmarks.common import image_bytes, read_parquet
from loader.records import EvalItem

NAME = "cv-bench"
LAYOUT = """\
CV-Bench/
  test.parquet             idx, type (2D/3D), task, image ({bytes, path}), question, choices, answer ("(A)"...),
                           prompt, filename, source (ADE20K/COCO/Omni3D), ...
"""


def read(data_root: Path) -> list[EvalItem]:
    """One item per row; id = idx; `question` is the card's `prompt` (question + lettered choices)."""
    data_root = Path(data_root)
    path = data_root / "CV-Bench" / "test.parquet"
    items = []
    for row in read_parquet(path, NAME, data_root, LAYOUT):
        image = image_bytes(row.get("image"), f"{path} idx {row['idx']}")
        items.append(EvalItem(
            id=str(row["idx"]), benchmark=NAME, question=row["prompt"], images=[image] if image is not None else [],
            answer=row["answer"], options=[str(c) for c in row["choices"]],
            meta={"source": row["source"], "type": row["type"], "task": row["task"]},
        ))
    return items
