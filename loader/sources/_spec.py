"""`SourceSpec`: what every curriculum reader declares (files, selection rule, record conversion) and the one
pipeline that applies it: stream raw records -> selection rule -> conversion -> image check -> length policy.

Each reader module in `loader.sources` defines ``SOURCE = SourceSpec(...)`` and a module-level
``read(root, log) -> Iterator[Sample]`` (the contract in docs/CONTRACTS.md); `loader.dataset` uses `scan` to build
its on-disk index and `convert_at` to rebuild one record lazily.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from tqdm import tqdm

from loader.records import Sample
from loader.sources._convert import RecordError
from loader.sources._files import FileFormatError, RecordDecodeError, detect_format, scan
from loader.sources._images import check_image
from loader.sources._log import MALFORMED, OVER_LONG, UNDECODABLE_LINE, SourceLog

logger = logging.getLogger("loader")

# Default length policy: skip a conversation longer than this many characters (about 4k tokens at ~4 chars per
# token); the bad fixture's over-long ALLaVA-Text record has 20,935 characters. None disables the policy.
DEFAULT_MAX_CHARS = 16_384


@dataclass
class Context:
    """Where a raw record came from; converters use it for ids, paths and error messages."""

    root: Path
    source: str
    file: str
    position: int


ConvertFn = Callable[[Any, Context], Sample]
SelectFn = Callable[[Any], bool]


def sample_chars(sample: Sample) -> int:
    """Characters of text a sample carries (turns plus a rejected answer), the unit of the length policy."""
    n = sum(len(t.content) for t in sample.turns)
    return n + (len(sample.rejected) if sample.rejected else 0)


@dataclass
class SourceSpec:
    """One training source: its README name, its files under the dataset root, and how to read them."""

    name: str
    title: str
    files: tuple[str, ...]
    convert: ConvertFn
    select: SelectFn | None = None
    rule: str = "none (whole file)"
    # Called with the first records of each file before anything else; raises to reject a file whose shape differs.
    validate_head: Callable[[list[Any], Path], None] | None = None
    head_size: int = 5
    extra: dict[str, Any] = field(default_factory=dict)

    def paths(self, root: Path) -> list[Path]:
        return [Path(root) / f for f in self.files]

    def scan(self, root: Path, log: SourceLog, check_images: str = "header",
             max_chars: int | None = DEFAULT_MAX_CHARS, progress: bool = True
             ) -> Iterator[tuple[int, int, int, int, Sample]]:
        """Yield ``(file_id, position, start, end, sample)`` for every usable record; count and log the rest."""
        root = Path(root)
        stats = log.source(self.name)
        for file_id, path in enumerate(self.paths(root)):
            rel = self.files[file_id]
            if not path.is_file():
                stats.missing_files.append(rel)
                logger.warning("%s: %s not found under %s; the source contributes nothing", self.name, rel, root)
                continue
            fmt = detect_format(path)
            records = scan(path, fmt)
            if self.validate_head is not None:
                records = self._checked(records, path)
            bar = tqdm(records, desc=f"{self.name} ({rel})", unit=" rec", disable=not progress, leave=False,
                       mininterval=1.0)
            try:
                for position, start, end, raw in bar:
                    stats.found += 1
                    ctx = Context(root, self.name, rel, position)
                    if isinstance(raw, RecordDecodeError):
                        log.skip(self.name, rel, position, fmt, UNDECODABLE_LINE, str(raw))
                        continue
                    try:
                        if self.select is not None and not self.select(raw):
                            continue
                    except (KeyError, TypeError, AttributeError) as err:
                        stats.selected += 1
                        log.skip(self.name, rel, position, fmt, MALFORMED, f"selection rule failed: {err!r}")
                        continue
                    stats.selected += 1
                    try:
                        sample = self.convert(raw, ctx)
                        for ref in sample.images:
                            check_image(ref, check_images)
                        n_chars = sample_chars(sample)
                        if max_chars is not None and n_chars > max_chars:
                            raise RecordError(OVER_LONG, f"{n_chars} characters > max_chars={max_chars} "
                                              "(raise max_chars to keep it)")
                    except RecordError as err:
                        log.skip(self.name, rel, position, fmt, err.kind, f"{_rid(raw)}{err.detail}")
                        continue
                    stats.usable += 1
                    stats.text_only += not sample.images
                    yield file_id, position, start, end, sample
            except FileFormatError as err:
                log.skip(self.name, rel, stats.found, fmt, MALFORMED, f"file unreadable from here on: {err}")
            finally:
                bar.close()

    def _checked(self, records: Iterator, path: Path) -> Iterator:
        head: list = []
        for item in records:
            if len(head) < self.head_size:
                head.append(item)
                if len(head) == self.head_size:
                    self.validate_head([r[3] for r in head], path)
                    yield from head
                continue
            yield item
        if len(head) < self.head_size:
            self.validate_head([r[3] for r in head], path)
            yield from head

    def read(self, root: Path, log: SourceLog | None = None, **kwargs: Any) -> Iterator[Sample]:
        """Stream the usable records of this source as `Sample`s (nothing is held in memory)."""
        log = log if log is not None else SourceLog()
        for *_, sample in self.scan(Path(root), log, **kwargs):
            yield sample

    def convert_at(self, root: Path, file_id: int, position: int, raw: Any) -> Sample:
        """Rebuild the sample of an indexed record (raises `RecordError` if it no longer converts)."""
        return self.convert(raw, Context(Path(root), self.name, self.files[file_id], position))


def _rid(raw: Any) -> str:
    if isinstance(raw, dict):
        for key in ("id", "idx", "question_id"):
            if raw.get(key) is not None:
                return f"{key} {raw[key]!r}: "
    return ""
