"""ALLaVA4V-VFLAN: the Vision-FLAN captions and instructions inside MiniGemini's two JSON files (datasets spec §4.4).

Records of `minigemini_pretrain.json` (captions) and `minigemini_instruction.json` (instructions) whose image lies
under `ALLaVA-4V/allava_vflan/` (202,552 + 203,065 = 405,617).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from loader.records import Sample
from loader.sources._families import llava_sample, prefix_rule
from loader.sources._log import SourceLog
from loader.sources._spec import SourceSpec

SOURCE = SourceSpec(
    name="allava_vflan", title="ALLaVA4V-VFLAN", files=("minigemini_pretrain.json", "minigemini_instruction.json"),
    convert=llava_sample, select=prefix_rule("ALLaVA-4V/allava_vflan/"), rule="image under ALLaVA-4V/allava_vflan/")


def read(root: Path, log: SourceLog | None = None, **kwargs) -> Iterator[Sample]:
    """Usable ALLaVA-VFLAN records under `root`."""
    return SOURCE.read(root, log, **kwargs)
