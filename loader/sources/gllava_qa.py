"""GLLaVA-QA: `gllava_qa.parquet` (Geo170K `qa_tuning`, datasets spec §4.10); same columns as GLLaVA-Align."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from loader.records import Sample
from loader.sources._families import llava_sample
from loader.sources._log import SourceLog
from loader.sources._spec import SourceSpec

SOURCE = SourceSpec(name="gllava_qa", title="GLLaVA-QA", files=("gllava_qa.parquet",), convert=llava_sample)


def read(root: Path, log: SourceLog | None = None, **kwargs) -> Iterator[Sample]:
    """Usable GLLaVA QA records under `root`."""
    return SOURCE.read(root, log, **kwargs)
