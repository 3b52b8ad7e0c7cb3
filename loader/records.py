"""The two record types every reader in `loader/` produces.

`Sample` is one training conversation (any curriculum source, the synthetic task, the Phantom triples);
`EvalItem` is one benchmark question. Readers turn their own file formats into these, so that collation,
training and evaluation never see a source's raw layout.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

# An image reference: a path (absolute, or already joined with the dataset root), raw encoded bytes
# (parquet sources embed them), or an already decoded PIL image.
ImageRef = Union[str, bytes, Any]

IMAGE_PLACEHOLDER = "<image>"


@dataclass
class Turn:
    """One chat turn. `role` is "system", "user" or "assistant"; user text carries one
    `IMAGE_PLACEHOLDER` per image of the sample."""

    role: str
    content: str


@dataclass
class Sample:
    """One training conversation in the canonical form."""

    id: str
    source: str
    turns: list[Turn]
    images: list[ImageRef] = field(default_factory=list)
    # Phantom Optimization triples: the preferred and the rejected final answer (None for plain SFT data).
    chosen: str | None = None
    rejected: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalItem:
    """One benchmark question. `id` is the item id the fixture READMEs use in predictions files."""

    id: str
    benchmark: str
    question: str
    images: list[ImageRef] = field(default_factory=list)
    answer: Any = None
    options: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
