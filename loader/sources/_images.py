"""Checking and decoding image references (paths or embedded bytes).

Index time checks each selected record's images once, at a chosen depth: ``"exists"`` (a stat), ``"header"``
(PIL identifies the format; catches a JPEG header followed by junk, datasets spec §4.2 "do not trust the extension")
or ``"decode"`` (full decode). Training decodes in the DataLoader workers via `decode`.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loader.sources._convert import RecordError
from loader.sources._log import MISSING_IMAGE, UNDECODABLE_IMAGE

if TYPE_CHECKING:
    from PIL import Image

CHECK_LEVELS = ("none", "exists", "header", "decode")


def _open(ref: Any) -> "Image.Image":
    from PIL import Image

    if isinstance(ref, (bytes, bytearray)):
        return Image.open(io.BytesIO(ref))
    return Image.open(ref)


def check_image(ref: Any, level: str = "header") -> None:
    """Raise `RecordError` (missing / undecodable image) unless `ref` passes the check `level`."""
    from PIL import UnidentifiedImageError

    if level not in CHECK_LEVELS:
        raise ValueError(f"check_images must be one of {CHECK_LEVELS}, got {level!r}")
    if level == "none":
        return
    if isinstance(ref, str) and not Path(ref).is_file():
        raise RecordError(MISSING_IMAGE, f"{ref} does not exist")
    if level == "exists":
        return
    label = ref if isinstance(ref, str) else f"embedded image ({len(ref)} bytes)"
    try:
        with _open(ref) as img:
            if level == "decode":
                img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise RecordError(UNDECODABLE_IMAGE, f"{label}: {type(err).__name__}: {err}") from err


def decode(ref: Any) -> "Image.Image":
    """Decode one image reference to an RGB PIL image (PIL images pass through converted)."""
    from PIL import Image

    if isinstance(ref, Image.Image):
        return ref.convert("RGB")
    with _open(ref) as img:
        return img.convert("RGB")
