"""MiniGemini-Instruction [DocVQA, ChartQA, DVQA, AI2D]: `minigemini_instruction.json` (datasets spec §4.6).

MiniGemini's whole SFT mixture; kept: records whose image's first path component is docvqa, chartqa, dvqa or ai2d
(README 27,670; the rule is inferred).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from loader.records import Sample
from loader.sources._families import llava_sample, prefix_rule
from loader.sources._log import SourceLog
from loader.sources._spec import SourceSpec

SOURCE = SourceSpec(
    name="minigemini_instruction", title="MiniGemini-Instruction", files=("minigemini_instruction.json",),
    convert=llava_sample, select=prefix_rule("docvqa/", "chartqa/", "dvqa/", "ai2d/"),
    rule="image under docvqa/, chartqa/, dvqa/, ai2d/")


def read(root: Path, log: SourceLog | None = None, **kwargs) -> Iterator[Sample]:
    """Usable MiniGemini document/chart/diagram records under `root`."""
    return SOURCE.read(root, log, **kwargs)
