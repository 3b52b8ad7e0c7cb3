"""Curriculum readers, one module per training source, and their registry `SOURCES` (name -> `SourceSpec`).

Every module has ``read(root, log) -> Iterator[Sample]``; `loader.curriculum` combines them into the mixtures.
"""
from __future__ import annotations

from loader.sources import (
    allava_text,
    allava_vflan,
    docdownstream,
    docreason,
    gllava_align,
    gllava_qa,
    mathinstruct,
    mathplus,
    mathvision,
    minigemini_instruction,
    phantom,
    sharegpt4o,
    sharegpt4v_caption,
    sharegpt4v_instruction,
    smr,
)
from loader.sources._log import SourceLog, SourceStats
from loader.sources._spec import DEFAULT_MAX_CHARS, SourceSpec

_MODULES = (sharegpt4o, sharegpt4v_caption, sharegpt4v_instruction, allava_vflan, allava_text,
            minigemini_instruction, smr, docdownstream, docreason, gllava_align, gllava_qa, mathvision, mathinstruct,
            mathplus, phantom)

SOURCES: dict[str, SourceSpec] = {m.SOURCE.name: m.SOURCE for m in _MODULES}


def get_source(name: str) -> SourceSpec:
    """The `SourceSpec` registered under `name`; unknown names fail with the list."""
    if name not in SOURCES:
        raise KeyError(f"unknown training source {name!r}; known: {', '.join(SOURCES)}")
    return SOURCES[name]


__all__ = ["SOURCES", "SourceSpec", "SourceLog", "SourceStats", "DEFAULT_MAX_CHARS", "get_source"]
