"""Reader for MME (perception + cognition), joining LLaVA's llava_mme.json with MME's ground-truth txt files
the way LLaVA's `convert_answer_to_mme.py` does (eval-closed.md §11)."""
from __future__ import annotations

from pathlib import Path

from loader.benchmarks.common import layout_error, read_json_or_lines, require
from loader.records import EvalItem

NAME = "mme"
ROOT = "MME_Benchmark_release_version"
LAYOUT = """\
MME_Benchmark_release_version/
  llava_mme.json                       list (or JSON lines) of {question_id: "<subtask>/<image>", image, text, category}
  <flat subtask>/<image> + <stem>.txt  existence, count, position, color, OCR, commonsense_reasoning,
                                       numerical_calculation, text_translation, code_reasoning
  <nested subtask>/images/<image>      posters, celebrity, scene, landmark, artwork
  <nested subtask>/questions_answers_YN/<stem>.txt
  (each txt: two lines "question<TAB>Yes|No")
"""
NESTED = ("posters", "celebrity", "scene", "landmark", "artwork")
LLAVA_SUFFIX = "Answer the question using a single word or phrase."


def _gt_file(base: Path, category: str, stem: str) -> Path:
    if category in NESTED:
        return base / category / "questions_answers_YN" / f"{stem}.txt"
    return base / category / f"{stem}.txt"


def _read_gt(path: Path, data_root: Path) -> dict[str, str]:
    require(path, NAME, data_root, LAYOUT)
    answers = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise layout_error(NAME, data_root, path, LAYOUT, f"malformed at line {number} (expected question<TAB>answer)")
        answers[parts[0]] = parts[1].strip()
    return answers


def read(data_root: Path) -> list[EvalItem]:
    """One item per llava_mme.json record, in file order; id = position. `answer` is the GT `Yes`/`No`."""
    data_root = Path(data_root)
    base = data_root / ROOT
    records = read_json_or_lines(base / "llava_mme.json", NAME, data_root, LAYOUT)
    gt_cache: dict[Path, dict[str, str]] = {}
    items = []
    for n, rec in enumerate(records):
        category = rec["category"]
        stem = Path(rec["question_id"]).stem
        gt_path = _gt_file(base, category, stem)
        if gt_path not in gt_cache:
            gt_cache[gt_path] = _read_gt(gt_path, data_root)
        gt = gt_cache[gt_path]
        question = rec["text"].replace(LLAVA_SUFFIX, "").strip()
        key = question + " Please answer yes or no."
        if key not in gt:
            key = question + "  Please answer yes or no."  # some MME files have two spaces before "Please"
        if key not in gt:
            raise layout_error(NAME, data_root, gt_path, LAYOUT,
                               f"missing the question of llava_mme.json record {n} ({question!r})")
        items.append(EvalItem(
            id=str(n), benchmark=NAME, question=rec["text"], images=[str(base / rec["image"])], answer=gt[key],
            meta={"category": category, "file": f"{stem}.txt", "gt_question": key},
        ))
    return items
