"""DocReason: `detailed_explanation.jsonl` of mPLUG/DocReason25K (datasets spec §4.9); DocOwl message format."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from loader.records import Sample
from loader.sources._families import docowl_sample
from loader.sources._log import SourceLog
from loader.sources._spec import SourceSpec

SOURCE = SourceSpec(name="docreason", title="DocReason", files=("detailed_explanation.jsonl",),
                    convert=docowl_sample)


def read(root: Path, log: SourceLog | None = None, **kwargs) -> Iterator[Sample]:
    """Usable DocReason records under `root`."""
    return SOURCE.read(root, log, **kwargs)
