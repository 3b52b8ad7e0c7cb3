"""MathInstruct: `MathInstruct.json` (datasets spec §4.12): JSON array ``{source, output, instruction}``, text only."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from loader.records import Sample
from loader.sources._families import pair_sample
from loader.sources._log import SourceLog
from loader.sources._spec import SourceSpec

SOURCE = SourceSpec(name="mathinstruct", title="MathInstruct", files=("MathInstruct.json",), convert=pair_sample)


def read(root: Path, log: SourceLog | None = None, **kwargs) -> Iterator[Sample]:
    """Usable MathInstruct records under `root`."""
    return SOURCE.read(root, log, **kwargs)
