"""Readers for MM-Vet (v1: `mm-vet.json` + `images/`) and MM-Vet-v2 (`mm-vet-v2.json`, interleaved images)."""
from __future__ import annotations

from pathlib import Path

from loader.benchmarks.open_layouts import LAYOUTS, read_json, require
from loader.records import EvalItem

LAYOUT = LAYOUTS["mm-vet"]
LAYOUT_V2 = LAYOUTS["mm-vet-v2"]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CANVAS_GAP = 10  # px between pasted images (authors' MM-Vet-v2 loader)


def read(data_root: Path) -> list[EvalItem]:
    """MM-Vet v1: the question verbatim, one image."""
    data_root = Path(data_root)
    path = data_root / "mm-vet" / "mm-vet.json"
    records = read_json(path, "mm-vet", data_root)
    items = []
    for key, rec in records.items():
        for field in ("imagename", "capability", "question", "answer"):
            if field not in rec:
                raise ValueError(f"mm-vet: {path} record {key!r} lacks {field!r}; use the released file")
        image = require(data_root / "mm-vet" / "images" / rec["imagename"], "mm-vet", data_root)
        items.append(EvalItem(id=str(key), benchmark="mm-vet", question=rec["question"], images=[str(image)],
                              answer=rec["answer"], meta={"capability": list(rec["capability"])}))
    return items


def split_v2_question(question: str) -> tuple[str, list[str]]:
    """(text without image segments, image names) of an MM-Vet-v2 `<IMG>`-segmented question.

    Image segments end in .png/.jpg/.jpeg as in the official v2 inference code; the authors' loader tests
    `'.png' in seg or '.jpg' in seg` and so leaves `.jpeg` names in the text and unloaded (spec 6), which we
    treat as a bug. The text segments are joined with no separator, as both codes do.
    """
    text, images = [], []
    for segment in question.split("<IMG>"):
        (images if segment.strip().lower().endswith(IMAGE_SUFFIXES) else text).append(segment)
    return "".join(text), [s.strip() for s in images]


def read_v2(data_root: Path) -> list[EvalItem]:
    """MM-Vet-v2: several images of a question are pasted left to right on one black canvas (authors' loader)."""
    data_root = Path(data_root)
    path = data_root / "mm-vet-v2" / "mm-vet-v2.json"
    records = read_json(path, "mm-vet-v2", data_root)
    items = []
    for key, rec in records.items():
        for field in ("question", "capability", "answer"):
            if field not in rec:
                raise ValueError(f"mm-vet-v2: {path} record {key!r} lacks {field!r}; use the released file")
        text, names = split_v2_question(rec["question"])
        paths = [require(data_root / "mm-vet-v2" / "images" / n, "mm-vet-v2", data_root) for n in names]
        images: list = [str(paths[0])] if len(paths) == 1 else ([paste_row(paths)] if paths else [])
        items.append(EvalItem(id=str(key), benchmark="mm-vet-v2", question=text, images=images,
                              answer=rec["answer"],
                              meta={"capability": list(rec["capability"]), "raw_question": rec["question"],
                                    "image_names": names}))
    return items


def paste_row(paths: list[Path]):
    """The images side by side on a black canvas, `CANVAS_GAP` px apart, vertically centred (the same
    composition as the processor's multi-image rule)."""
    from PIL import Image

    from model.processing import concat_horizontally

    return concat_horizontally([Image.open(p).convert("RGB") for p in paths], margin=CANVAS_GAP)
