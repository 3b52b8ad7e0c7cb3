"""SMR [ArXivQA, TextbookQA]: `SMR.json` (datasets spec §4.7).

LLaVA-format JSON array; kept: records whose image is under `arxivqa/` or `TextbookQA/` (README 116,035; the rule is
inferred). The other parts (ScienceQA, Geometry3K, MathVision, ...) are dropped.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from loader.records import Sample
from loader.sources._families import llava_sample, prefix_rule
from loader.sources._log import SourceLog
from loader.sources._spec import SourceSpec

SOURCE = SourceSpec(
    name="smr", title="SMR", files=("SMR.json",), convert=llava_sample,
    select=prefix_rule("arxivqa/", "TextbookQA/"), rule="image under arxivqa/ or TextbookQA/")


def read(root: Path, log: SourceLog | None = None, **kwargs) -> Iterator[Sample]:
    """Usable SMR (ArxivQA, TextbookQA) records under `root`."""
    return SOURCE.read(root, log, **kwargs)
