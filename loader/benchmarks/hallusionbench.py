"""Reader for HallusionBench (eval-closed.md §12)."""
from __future__ import annotations

from pathlib import Path

from loader.benchmarks.common import read_json
from loader.records import EvalItem

NAME = "hallusionbench"
LAYOUT = """\
HallusionBench/
  HallusionBench.json      list of {category, subcategory, visual_input, set_id, figure_id, question_id, question,
                            gt_answer ("1"/"0"), filename ("./hallusion_bench/<cat>/<sub>/<set>_<fig>.png" or null)}
  hallusion_bench/hallusion_bench/<cat>/<sub>/<set>_<fig>.png   (the zip unpacked inside hallusion_bench/)
"""


def read(data_root: Path) -> list[EvalItem]:
    """One item per question in file order; id = position; no image when `filename` is null."""
    data_root = Path(data_root)
    base = data_root / "HallusionBench"
    records = read_json(base / "HallusionBench.json", NAME, data_root, LAYOUT)
    items = []
    for n, rec in enumerate(records):
        images = []
        if rec.get("filename"):
            path = base / "hallusion_bench" / rec["filename"][2:]
            if not path.exists():
                # The authors retry with the extension's case swapped (png <-> PNG).
                swapped = path.with_suffix(".PNG" if path.suffix == ".png" else ".png")
                path = swapped if swapped.exists() else path
            images.append(str(path))
        items.append(EvalItem(
            id=str(n), benchmark=NAME, question=rec["question"], images=images, answer=str(rec["gt_answer"]),
            meta={k: str(rec[k]) for k in ("category", "subcategory", "set_id", "figure_id", "question_id")},
        ))
    return items
