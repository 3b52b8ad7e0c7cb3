"""ShareGPT4V-Caption: `sharegpt4v_instruct_gpt4-vision_cap100k.json` (datasets spec §4.1).

JSON array of LLaVA conversations; README rule "without SAM": records whose image is under `sam/` are dropped
(102,025 -> 91,021).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from loader.records import Sample
from loader.sources._families import llava_sample, prefix_rule
from loader.sources._log import SourceLog
from loader.sources._spec import SourceSpec

SOURCE = SourceSpec(
    name="sharegpt4v_caption", title="ShareGPT4V-Caption", files=("sharegpt4v_instruct_gpt4-vision_cap100k.json",),
    convert=llava_sample, select=prefix_rule("sam/", keep=False), rule="drop images under sam/")


def read(root: Path, log: SourceLog | None = None, **kwargs) -> Iterator[Sample]:
    """Usable ShareGPT4V-Caption records under `root`."""
    return SOURCE.read(root, log, **kwargs)
