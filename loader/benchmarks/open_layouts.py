"""Expected on-disk layouts of the open-ended benchmarks, and the error a missing file or folder raises.

The error class and message format are the shared ones of `loader.benchmarks.common`. Every path is relative
to the evaluation data root (the TroL/Phantom `Evaluation_Dataset_Path`); the trees follow spec eval-open.md
and the fixtures under `../shared/fixtures/eval/<benchmark>/data/`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from loader.benchmarks import common
from loader.benchmarks.common import BenchmarkLayoutError  # noqa: F401  (re-exported for callers)

LAYOUTS: dict[str, str] = {
    "mathvista": """MathVista/
  testmini-00000-of-00001-725687bf7a18d64b.parquet   (HF AI4Math/MathVista, split testmini)
  images/<pid>.jpg|png
  annot_testmini.json                                 (optional; only for records without `answer`)""",
    "mathverse": """MathVerse/
  testmini.json              (3940 records = 788 problems x 5 versions)
  testmini_text_only.json    (788 records)
  images/images_version_1-4/image_<p>.png, images/images_version_5/..., images/images_version_6/...""",
    "visualwebbench": """VisualWebBench/             (only the 7 sub-task folders of HF visualwebbench/VisualWebBench)
  web_caption/test-00000-of-00001.parquet
  heading_ocr/test-00000-of-00001.parquet
  webqa/test-00000-of-00001.parquet
  element_ocr/test-00000-of-00001.parquet
  element_ground/test-00000-of-00001.parquet
  action_prediction/test-00000-of-00001.parquet
  action_ground/test-00000-of-00001.parquet""",
    "mm-vet": """mm-vet/
  mm-vet.json                {"v1_<k>": {imagename, capability, question, answer}}
  images/<imagename>""",
    "mm-vet-v2": """mm-vet-v2/
  mm-vet-v2.json             {"v2_<k>": {question (with <IMG>name<IMG> segments), answer, capability}}
  images/<name>""",
    "llava-bench-in-the-wild": """llava-bench-in-the-wild/
  questions.jsonl            {image, text, category, question_id}
  context.jsonl              {id, image, caption}
  answers_gpt4.jsonl         {question_id, text, ...} (reference answers, question order)
  images/<image>""",
    "llava-bench-wilder": """LLaVA-Bench-Wilder/
  small/test-00000-of-00001.parquet   (HF lmms-lab/LLaVA-Bench-Wilder, config small: image, Question, Answer,
                                       image_name)""",
}


def require(path: Path, benchmark: str, data_root: Path) -> Path:
    """`path` if it exists, else a `BenchmarkLayoutError` naming it and the benchmark's expected tree."""
    return common.require(path, benchmark, data_root, LAYOUTS[benchmark])


def read_json(path: Path, benchmark: str, data_root: Path) -> Any:
    """Parse a JSON file, naming it on failure."""
    require(path, benchmark, data_root)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{benchmark}: {path} is not valid JSON ({err}); re-download the file") from err


def read_jsonl(path: Path, benchmark: str, data_root: Path) -> list[dict[str, Any]]:
    """Parse a JSON-lines file, naming the file and line on failure."""
    require(path, benchmark, data_root)
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise ValueError(f"{benchmark}: {path}:{lineno} is not a JSON object ({err}); fix or re-download "
                             "the file") from err
    return rows


def read_parquet_rows(path: Path, benchmark: str, data_root: Path, columns: list[str]) -> list[dict[str, Any]]:
    """Rows of a parquet file as dicts; a missing column names the file and the columns needed."""
    import pyarrow.parquet as pq

    require(path, benchmark, data_root)
    table = pq.read_table(path)
    missing = [c for c in columns if c not in table.schema.names]
    if missing:
        raise ValueError(f"{benchmark}: {path} lacks the column(s) {missing} (has {table.schema.names}); "
                         "use the official release file")
    return table.to_pylist()
