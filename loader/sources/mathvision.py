"""MathVision: `mathvision.parquet`, the benchmark's whole test split used as training data (datasets spec §4.11).

Columns id, question (with an inline `<image1>`), options (empty list for free-form), image (`images/<id>.jpg`),
decoded_image {bytes, path} (embedded JPEG), answer, solution (nullable), level, subject. The embedded bytes are
preferred; when they are not an image the file `<root>/<image>` is the fallback; when neither works the record is
an undecodable image. Conversion (our choice; the authors' formatting is unknown): user = question + lettered
options, assistant = solution (if any) + "Answer: <answer>".
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Iterator

from loader.records import Sample
from loader.sources._convert import RecordError, require, turns_from_pairs
from loader.sources._log import MALFORMED, UNDECODABLE_IMAGE, SourceLog
from loader.sources._spec import Context, SourceSpec

LETTERS = "ABCDEFGH"


def _is_image(data: bytes) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)):
            return True
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False


def _image(raw: dict, root: Path) -> Any:
    embedded = raw.get("decoded_image")
    data = embedded.get("bytes") if isinstance(embedded, dict) else None
    if isinstance(data, (bytes, bytearray)) and _is_image(data):
        return bytes(data)
    fallback = raw.get("image")
    if isinstance(fallback, str) and fallback and (Path(root) / fallback).is_file():
        return str(Path(root) / fallback)
    why = "no embedded bytes" if data is None else f"embedded bytes ({len(data)}) are not an image"
    raise RecordError(UNDECODABLE_IMAGE, f"{why} and fallback file {fallback!r} does not exist")


def convert(raw: Any, ctx: Context) -> Sample:
    require(raw, "id", "question", "answer")
    options = raw.get("options") or []
    if not isinstance(options, list) or len(options) > len(LETTERS):
        raise RecordError(MALFORMED, f"'options' must be a list of at most {len(LETTERS)} strings")
    image = _image(raw, ctx.root)
    question = raw["question"]
    if options:
        question += "\n" + "\n".join(f"{LETTERS[i]}. {opt}" for i, opt in enumerate(options))
    solution = (raw.get("solution") or "").strip()
    answer = f"Answer: {raw['answer']}"
    turns = turns_from_pairs([("user", question), ("assistant", f"{solution}\n{answer}" if solution else answer)], 1)
    return Sample(id=f"mathvision-{raw['id']}", source=ctx.source, turns=turns, images=[image],
                  meta={"file": ctx.file, "position": ctx.position, "subject": raw.get("subject"),
                        "level": raw.get("level")})


SOURCE = SourceSpec(name="mathvision", title="MathVision", files=("mathvision.parquet",), convert=convert)


def read(root: Path, log: SourceLog | None = None, **kwargs) -> Iterator[Sample]:
    """Usable MathVision rows under `root`."""
    return SOURCE.read(root, log, **kwargs)
