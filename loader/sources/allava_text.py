"""ALLaVA4V-Text: `Evol-Instruct-GPT4-Turbo-143K.json` (datasets spec §4.5).

JSON array ``{idx, conversations}`` (the id field is `idx`), text only, long answers; subject to the length policy.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Iterator

from loader.records import Sample
from loader.sources._families import llava_sample
from loader.sources._log import SourceLog
from loader.sources._spec import SourceSpec

SOURCE = SourceSpec(
    name="allava_text", title="ALLaVA4V-Text", files=("Evol-Instruct-GPT4-Turbo-143K.json",),
    convert=partial(llava_sample, id_field="idx"))


def read(root: Path, log: SourceLog | None = None, **kwargs) -> Iterator[Sample]:
    """Usable ALLaVA-Text records under `root`."""
    return SOURCE.read(root, log, **kwargs)
