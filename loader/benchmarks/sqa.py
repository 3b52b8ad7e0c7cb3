"""Reader for SQA-IMG: ScienceQA test questions that have an image (eval-closed.md §1)."""
from __future__ import annotations

from pathlib import Path

from loader.benchmarks.common import layout_error, read_json
from loader.records import EvalItem

NAME = "sqa-img"
LAYOUT = """\
ScienceQA/
  problems.json            dict pid -> {question, choices, answer (index), hint, image, ...}
  pid_splits.json          dict split -> list of pids (train, val, test, ...)
  images/test/<pid>/image.png
"""


def read(data_root: Path) -> list[EvalItem]:
    """Items of `pid_splits["test"]` whose `image` is set, in split order; id = pid."""
    data_root = Path(data_root)
    base = data_root / "ScienceQA"
    problems = read_json(base / "problems.json", NAME, data_root, LAYOUT)
    splits = read_json(base / "pid_splits.json", NAME, data_root, LAYOUT)
    if "test" not in splits:
        raise layout_error(NAME, data_root, base / "pid_splits.json", LAYOUT, "without a 'test' split")
    items = []
    for pid in splits["test"]:
        pid = str(pid)
        if pid not in problems:
            raise layout_error(NAME, data_root, base / "problems.json", LAYOUT,
                               f"missing problem {pid!r} listed in pid_splits.json['test']")
        prob = problems[pid]
        if not prob.get("image"):
            continue
        items.append(EvalItem(
            id=pid, benchmark=NAME, question=prob["question"],
            images=[str(base / "images" / "test" / pid / prob["image"])],
            answer=int(prob["answer"]), options=[str(c) for c in prob["choices"]],
            meta={"hint": prob.get("hint") or ""},
        ))
    return items
