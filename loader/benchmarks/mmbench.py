"""Reader for MMBench TSV files (EN/CN, dev/test), which already contain the circular copies
(index = base + k * 1,000,000; eval-closed.md §5)."""
from __future__ import annotations

from pathlib import Path

from loader.benchmarks.common import image_bytes, read_tsv
from loader.records import EvalItem

FILES = {
    "mmbench-dev-en": "mmbench_dev_20230712.tsv",
    "mmbench-dev-cn": "mmbench_dev_cn_20231003.tsv",
    "mmbench-test-en": "MMBench_TEST_EN_legacy.tsv",
    "mmbench-test-cn": "MMBench_TEST_CN_legacy.tsv",
}
LAYOUT = """\
MMBench/
  mmbench_dev_20230712.tsv       dev EN (with answers)
  mmbench_dev_cn_20231003.tsv    dev CN (with answers)
  MMBench_TEST_EN_legacy.tsv     test EN (no answer column)
  MMBench_TEST_CN_legacy.tsv     test CN (no answer column)
  columns: index, question, hint, A, B, C, D, [answer], category, image (base64), source, l2-category, comment, split
"""
CIRCULAR_STRIDE = 1_000_000


def read(data_root: Path, name: str = "mmbench-dev-en") -> list[EvalItem]:
    """Every row of the split's TSV (all circular copies); id = index. Options are the non-empty A-D."""
    data_root = Path(data_root)
    path = data_root / "MMBench" / FILES[name]
    items = []
    for row in read_tsv(path, name, data_root, LAYOUT):
        index = int(row["index"])
        options = [str(row[c]) for c in "ABCD" if row.get(c) is not None]
        image = image_bytes(row.get("image"), f"{path} index {index}")
        items.append(EvalItem(
            id=str(index), benchmark=name, question=str(row["question"]),
            images=[image] if image is not None else [], answer=row.get("answer"), options=options,
            meta={"hint": None if row.get("hint") is None else str(row["hint"]),
                  "category": row.get("category"), "l2-category": row.get("l2-category"),
                  "g_index": index % CIRCULAR_STRIDE},
        ))
    return items
