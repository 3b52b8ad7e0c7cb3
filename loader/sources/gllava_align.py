"""GLLaVA-Align: `gllava_align.parquet` (Geo170K `alignment`, datasets spec §4.10).

Parquet columns `image` (root-relative path) and `conversations` (list of {from, value}); no id column, so ids are
``gllava_align-<row>``; no embedded bytes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from loader.records import Sample
from loader.sources._families import llava_sample
from loader.sources._log import SourceLog
from loader.sources._spec import SourceSpec

SOURCE = SourceSpec(name="gllava_align", title="GLLaVA-Align", files=("gllava_align.parquet",),
                    convert=llava_sample)


def read(root: Path, log: SourceLog | None = None, **kwargs) -> Iterator[Sample]:
    """Usable GLLaVA alignment records under `root`."""
    return SOURCE.read(root, log, **kwargs)
