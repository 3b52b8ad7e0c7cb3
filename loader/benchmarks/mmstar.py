"""Reader for MMStar (the HF Lin-Chen/MMStar parquet; eval-closed.md §6)."""
from __future__ import annotations

from pathlib import Path

from loader.benchmarks.common import image_bytes, read_parquet
from loader.records import EvalItem

NAME = "mmstar"
LAYOUT = """\
MMStar/
  mmstar.parquet           index, question (options inside), image (bytes | base64 | {bytes, path}), answer (A-D),
                           category, l2_category, meta_info {source, split, image_path}
"""


def read(data_root: Path) -> list[EvalItem]:
    """One item per row; id = index."""
    data_root = Path(data_root)
    path = data_root / "MMStar" / "mmstar.parquet"
    items = []
    for row in read_parquet(path, NAME, data_root, LAYOUT):
        image = image_bytes(row.get("image"), f"{path} index {row['index']}")
        items.append(EvalItem(
            id=str(row["index"]), benchmark=NAME, question=row["question"],
            images=[image] if image is not None else [], answer=row["answer"],
            meta={"category": row["category"], "l2_category": row["l2_category"]},
        ))
    return items
