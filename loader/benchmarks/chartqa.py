"""Reader for ChartQA test, human and augmented splits (eval-closed.md §13)."""
from __future__ import annotations

from pathlib import Path

from loader.benchmarks.common import read_json
from loader.records import EvalItem

NAME = "chartqa"
SPLITS = ("augmented", "human")
LAYOUT = """\
chartqa/test/
  test_augmented.json      list of {imgname, query, label}
  test_human.json          list of {imgname, query, label}
  png/<imgname>
"""


def read(data_root: Path) -> list[EvalItem]:
    """Augmented then human questions; id = `<split>/<position in the file>`."""
    data_root = Path(data_root)
    base = data_root / "chartqa" / "test"
    items = []
    for split in SPLITS:
        records = read_json(base / f"test_{split}.json", NAME, data_root, LAYOUT)
        for n, rec in enumerate(records):
            label = rec["label"]
            items.append(EvalItem(
                id=f"{split}/{n}", benchmark=NAME, question=rec["query"],
                images=[str(base / "png" / rec["imgname"])],
                answer=[str(x) for x in label] if isinstance(label, list) else [str(label)],
                meta={"split": split, "imgname": rec["imgname"]},
            ))
    return items
