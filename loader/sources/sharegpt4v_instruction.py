"""ShareGPT4V-Instruction: `sharegpt4v_mix665k_cap23k_coco-ap9k_lcs3k_sam9k_div2k.json` (datasets spec §4.2).

JSON array; multi-turn VQA, region boxes and text-only ShareGPT chats (no `image` key). The README's count is the
file minus the records whose image is missing (the 355 undownloadable OCR-VQA images), which the generic image
check does; those are reported as missing images.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from loader.records import Sample
from loader.sources._families import llava_sample
from loader.sources._log import SourceLog
from loader.sources._spec import SourceSpec

SOURCE = SourceSpec(
    name="sharegpt4v_instruction", title="ShareGPT4V-Instruction",
    files=("sharegpt4v_mix665k_cap23k_coco-ap9k_lcs3k_sam9k_div2k.json",),
    convert=llava_sample, rule="drop records whose image is missing")


def read(root: Path, log: SourceLog | None = None, **kwargs) -> Iterator[Sample]:
    """Usable ShareGPT4V-Instruction records under `root`."""
    return SOURCE.read(root, log, **kwargs)
