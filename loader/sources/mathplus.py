"""MathPlus: `mathplus.parquet` (TIGER-Lab/MATH-plus, datasets spec §4.13): columns instruction, output; text only.

The README's 304,754 does not match today's 893,929-row revision; the report shows the difference, reading never
fails on it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from loader.records import Sample
from loader.sources._families import pair_sample
from loader.sources._log import SourceLog
from loader.sources._spec import SourceSpec

SOURCE = SourceSpec(name="mathplus", title="MathPlus", files=("mathplus.parquet",), convert=pair_sample)


def read(root: Path, log: SourceLog | None = None, **kwargs) -> Iterator[Sample]:
    """Usable MathPlus records under `root`."""
    return SOURCE.read(root, log, **kwargs)
