"""ShareGPT4O-Images: `ShareGPT-4o/image_conversations/gpt-4o.jsonl` (datasets spec §4.3; location proposed by the
spec, absent from the README layout).

JSON lines ``{image: bare file name, width, height, conversations}``; images in `ShareGPT-4o/images/`. No id field:
ids are ``sharegpt4o-<line>``.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Iterator

from loader.records import Sample
from loader.sources._families import llava_sample
from loader.sources._log import SourceLog
from loader.sources._spec import SourceSpec

IMAGE_DIR = "ShareGPT-4o/images"

SOURCE = SourceSpec(
    name="sharegpt4o", title="ShareGPT4O-Images", files=("ShareGPT-4o/image_conversations/gpt-4o.jsonl",),
    convert=partial(llava_sample, image_dir=IMAGE_DIR))


def read(root: Path, log: SourceLog | None = None, **kwargs) -> Iterator[Sample]:
    """Usable ShareGPT-4o image-caption records under `root`."""
    return SOURCE.read(root, log, **kwargs)
