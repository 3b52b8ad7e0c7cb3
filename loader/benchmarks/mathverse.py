"""Reader for MathVerse testmini and testmini_text_only (released JSON lists + `images/`)."""
from __future__ import annotations

from pathlib import Path

from loader.benchmarks.open_layouts import LAYOUTS, read_json, require
from loader.records import EvalItem

BENCHMARK = "mathverse"
LAYOUT = LAYOUTS[BENCHMARK]
FILES = ("testmini", "testmini_text_only")
FIELDS = ("sample_index", "problem_index", "problem_version", "question", "image", "answer", "question_type",
          "metadata", "query_wo")


def read(data_root: Path) -> list[EvalItem]:
    """Items of both files; ids are `<file stem>/<sample_index>` (the stems keep the two files' indices apart)."""
    data_root = Path(data_root)
    items = []
    for stem in FILES:
        path = data_root / "MathVerse" / f"{stem}.json"
        records = read_json(path, BENCHMARK, data_root)
        if not isinstance(records, list):
            raise ValueError(f"{BENCHMARK}: {path} must hold a JSON list of records")
        for n, rec in enumerate(records):
            missing = [f for f in FIELDS if f not in rec]
            if missing:
                raise ValueError(f"{BENCHMARK}: {path} record {n} lacks {missing}; use the released file")
            images = []
            if rec["image"]:
                images = [str(require(data_root / "MathVerse" / "images" / rec["image"], BENCHMARK, data_root))]
            items.append(EvalItem(
                id=f"{stem}/{rec['sample_index']}", benchmark=BENCHMARK, question=rec["query_wo"], images=images,
                answer=rec["answer"],
                meta={"file": stem, "problem_index": rec["problem_index"], "problem_version": rec["problem_version"],
                      "question_type": rec["question_type"], "metadata": dict(rec["metadata"]),
                      "raw_question": rec["question"], "query_cot": rec.get("query_cot")},
            ))
    return items
