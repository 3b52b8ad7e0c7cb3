"""DocDownstream: `train.jsonl` of mPLUG/DocDownstream-1.0 (datasets spec §4.8).

JSON lines ``{image: ["./imgs/..."], messages: [{role, content}], task_name, dataset_name}`` with `<|image|>`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from loader.records import Sample
from loader.sources._families import docowl_sample
from loader.sources._log import SourceLog
from loader.sources._spec import SourceSpec

SOURCE = SourceSpec(name="docdownstream", title="DocDownstream", files=("train.jsonl",), convert=docowl_sample)


def read(root: Path, log: SourceLog | None = None, **kwargs) -> Iterator[Sample]:
    """Usable DocDownstream records under `root`."""
    return SOURCE.read(root, log, **kwargs)
