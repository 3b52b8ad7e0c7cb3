"""Reader for POPE on COCO: random, popular and adversarial splits (eval-closed.md §10)."""
from __future__ import annotations

from pathlib import Path

from loader.benchmarks.common import read_json_or_lines
from loader.records import EvalItem

NAME = "pope"
SPLITS = ("random", "popular", "adversarial")
LAYOUT = """\
POPE/
  coco_pope_random.json        JSON lines {question_id, image, text, label (yes/no)}
  coco_pope_popular.json
  coco_pope_adversarial.json
coco2014/val2014/<image>       (outside POPE/: COCO val2014 images)
"""


def read(data_root: Path, splits: tuple[str, ...] = SPLITS) -> list[EvalItem]:
    """Questions of each split in file order; id = `<split>/<question_id>`."""
    data_root = Path(data_root)
    items = []
    for split in splits:
        path = data_root / "POPE" / f"coco_pope_{split}.json"
        for rec in read_json_or_lines(path, NAME, data_root, LAYOUT):
            items.append(EvalItem(
                id=f"{split}/{rec['question_id']}", benchmark=NAME, question=rec["text"],
                images=[str(data_root / "coco2014" / "val2014" / rec["image"])], answer=rec["label"],
                meta={"split": split, "question_id": int(rec["question_id"])},
            ))
    return items
