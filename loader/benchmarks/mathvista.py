"""Reader for MathVista testmini (HF `AI4Math/MathVista` parquet + `images/`), as the TroL/Phantom loader reads it."""
from __future__ import annotations

import math
from pathlib import Path

from loader.benchmarks.open_layouts import LAYOUTS, read_parquet_rows, require
from loader.records import EvalItem

BENCHMARK = "mathvista"
LAYOUT = LAYOUTS[BENCHMARK]
PARQUET = "MathVista/testmini-00000-of-00001-725687bf7a18d64b.parquet"
COLUMNS = ["pid", "question", "image", "choices", "unit", "precision", "answer", "question_type", "answer_type",
           "metadata", "query"]


def read(data_root: Path) -> list[EvalItem]:
    """One item per problem; the prompt is the parquet's `query`; the image is opened from `MathVista/<image>`."""
    data_root = Path(data_root)
    path = data_root / PARQUET
    require(data_root / "MathVista", BENCHMARK, data_root)
    items = []
    for row in read_parquet_rows(path, BENCHMARK, data_root, COLUMNS):
        image = require(data_root / "MathVista" / row["image"], BENCHMARK, data_root)
        precision = row["precision"]
        if precision is not None and isinstance(precision, float) and math.isnan(precision):
            precision = None
        items.append(EvalItem(
            id=str(row["pid"]), benchmark=BENCHMARK, question=row["query"], images=[str(image)],
            answer=row["answer"], options=list(row["choices"]) if row["choices"] is not None else None,
            meta={"question_type": row["question_type"], "answer_type": row["answer_type"], "precision": precision,
                  "unit": row["unit"], "metadata": dict(row["metadata"] or {}), "raw_question": row["question"]},
        ))
    return items
