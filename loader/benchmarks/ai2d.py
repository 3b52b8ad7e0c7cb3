"""Reader for AI2D (test), the flattened `ai2d_test.json` the authors read (eval-closed.md §2)."""
from __future__ import annotations

from pathlib import Path

from loader.benchmarks.common import read_json
from loader.records import EvalItem

NAME = "ai2d"
LAYOUT = """\
ai2d/
  ai2d_test.json           list of {question, imageName, metadata: {abcLabel, answerTexts, correctAnswer, questionId}}
  images/<imageName>       when abcLabel is false
  abc_images/<imageName>   when abcLabel is true
"""


def read(data_root: Path) -> list[EvalItem]:
    """One item per question; id = metadata.questionId."""
    data_root = Path(data_root)
    base = data_root / "ai2d"
    records = read_json(base / "ai2d_test.json", NAME, data_root, LAYOUT)
    items = []
    for rec in records:
        meta = rec["metadata"]
        folder = "abc_images" if meta.get("abcLabel") else "images"
        items.append(EvalItem(
            id=str(meta["questionId"]), benchmark=NAME, question=rec["question"],
            images=[str(base / folder / rec["imageName"])],
            answer=int(meta["correctAnswer"]), options=[str(t) for t in meta["answerTexts"]],
        ))
    return items
