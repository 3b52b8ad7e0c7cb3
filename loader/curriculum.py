"""The training mixtures as data (TroL 2.3M, Phantom 2.8M, Phantom curated 2.0M; datasets spec §5), the per-source
count report, and `build_curriculum`, which returns a lazy dataset of `Sample`s for a mixture.

The curated 2.0M list is the content of `Phantom.json` (spec §4.15, §5.4: it cannot be rebuilt from the gathered
files); its per-source rows are matched by the source prefix of each triple's id (Meteor's convention, inferred).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from loader.dataset import CurriculumDataset, SourceIndex, index_source
from loader.sources import SOURCES, get_source
from loader.sources._log import MISSING_IMAGE, SourceLog
from loader.sources._spec import DEFAULT_MAX_CHARS
from loader.sources.phantom import PhantomSchema, make_source

logger = logging.getLogger("loader")


@dataclass(frozen=True)
class Entry:
    """One row of a README mixture: a source (or, for the curated list, a Phantom.json id prefix) and its count."""

    source: str
    expected: int | None
    category: str
    origin: str | None = None  # curated list only: the id prefix of the triples counted in this row
    title: str | None = None


_RWI, _RWT, _DOC, _MV, _MT = ("Real-World Image", "Real-World Text", "Document & Chart & Diagram & Sign & Symbol",
                              "Math with Vision", "Math with Text only")

_TROL = [
    Entry("sharegpt4v_caption", 91_021, _RWI), Entry("sharegpt4v_instruction", 664_703, _RWI),
    Entry("allava_text", 143_000, _RWT), Entry("minigemini_instruction", 27_670, _DOC),
    Entry("docdownstream", 574_268, _DOC), Entry("docreason", 25_877, _DOC), Entry("gllava_align", 60_252, _MV),
    Entry("gllava_qa", 117_205, _MV), Entry("mathvision", 3_040, _MV), Entry("mathinstruct", 262_040, _MT),
    Entry("mathplus", 304_754, _MT),
]
_PHANTOM = [
    Entry("sharegpt4o", 57_289, _RWI), Entry("sharegpt4v_caption", 91_021, _RWI),
    Entry("sharegpt4v_instruction", 664_703, _RWI), Entry("allava_vflan", 405_617, _RWI),
    Entry("allava_text", 143_000, _RWT), Entry("minigemini_instruction", 27_670, _DOC), Entry("smr", 116_035, _DOC),
    Entry("docdownstream", 574_268, _DOC), Entry("docreason", 25_877, _DOC), Entry("gllava_align", 60_252, _MV),
    Entry("gllava_qa", 117_205, _MV), Entry("mathvision", 3_040, _MV), Entry("mathinstruct", 262_040, _MT),
    Entry("mathplus", 304_754, _MT),
]
# Curated rows: id prefixes follow Meteor's `id` substrings (caption, instruction, minigemini, docdownstream,
# docreason, gllava, mathvision, mathinstruct, mathplus) plus the three Phantom-only sources [inferred, spec §4.15].
_CURATED = [
    Entry("phantom", 40_106, _RWI, "sharegpt4o", "ShareGPT4O-Images"),
    Entry("phantom", 64_925, _RWI, "caption", "ShareGPT4V-Caption"),
    Entry("phantom", 475_669, _RWI, "instruction", "ShareGPT4V-Instruction"),
    Entry("phantom", 290_460, _RWI, "allava_vflan", "ALLaVA4V-VFLAN"),
    Entry("phantom", 102_389, _RWT, "allava_text", "ALLaVA4V-Text"),
    Entry("phantom", 19_363, _DOC, "minigemini", "MiniGemini-Instruction"),
    Entry("phantom", 82_843, _DOC, "smr", "SMR"),
    Entry("phantom", 409_140, _DOC, "docdownstream", "DocDownstream"),
    Entry("phantom", 18_363, _DOC, "docreason", "DocReason"),
    Entry("phantom", 127_484, _MV, "gllava", "GLLaVA"),
    Entry("phantom", 2_210, _MV, "mathvision", "MathVision"),
    Entry("phantom", 188_288, _MT, "mathinstruct", "MathInstruct"),
    Entry("phantom", 218_946, _MT, "mathplus", "MathPlus"),
]

MIXTURES: dict[str, list[Entry]] = {
    "trol-2.3m": _TROL,
    "phantom-2.8m": _PHANTOM,
    "phantom-curated-2.0m": _CURATED,
    # The synthetic task (loader.synthetic) writes one ShareGPT4V-format source; its size is a parameter.
    "synthetic": [Entry("sharegpt4v_instruction", None, "synthetic")],
}
README_TOTALS = {"trol-2.3m": 2_273_830, "phantom-2.8m": 2_852_771, "phantom-curated-2.0m": 2_040_186}


def mixture(name: str) -> list[Entry]:
    """The entries of a mixture; unknown names fail with the list."""
    if name not in MIXTURES:
        raise KeyError(f"unknown mixture {name!r}; known: {', '.join(MIXTURES)}")
    return MIXTURES[name]


def _sources_of(name: str) -> list[str]:
    seen: list[str] = []
    for e in mixture(name):
        if e.source not in seen:
            seen.append(e.source)
    return seen


def build_indexes(root: Path, mixture_name: str, *, log: SourceLog, cache_dir: Path | None = None,
                  check_images: str = "header", max_chars: int | None = DEFAULT_MAX_CHARS, rebuild: bool = False,
                  progress: bool = True, phantom_schema: PhantomSchema | None = None,
                  sources: Iterable[str] | None = None) -> list[SourceIndex]:
    """Index every source of a mixture (cached); `sources` restricts to a subset of its source names."""
    names = _sources_of(mixture_name)
    if sources is not None:
        wanted = list(sources)
        unknown = [s for s in wanted if s not in names]
        if unknown:
            raise KeyError(f"sources {unknown} are not part of mixture {mixture_name!r} ({', '.join(names)})")
        names = [n for n in names if n in wanted]
    indexes = []
    for name in names:
        spec = make_source(phantom_schema) if name == "phantom" and phantom_schema else get_source(name)
        indexes.append(index_source(spec, root, log, cache_dir=cache_dir, check_images=check_images,
                                    max_chars=max_chars, rebuild=rebuild, progress=progress))
    return indexes


def build_curriculum(root: str | Path, mixture_name: str, *, cache_dir: str | Path | None = None,
                     log_file: str | Path | None = None, check_images: str = "header",
                     max_chars: int | None = DEFAULT_MAX_CHARS, decode_images: bool = True, rebuild: bool = False,
                     progress: bool = True, phantom_schema: PhantomSchema | None = None,
                     sources: Iterable[str] | None = None) -> CurriculumDataset:
    """A lazy `CurriculumDataset` of the usable records of `mixture_name` under the dataset `root`.

    The first call streams each source once (progress bar) and caches its index in `cache_dir`; skipped records go
    to `log_file` with file:position and reason, and one summary line per source is logged at INFO level.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset root {root} does not exist; pass the folder laid out as the README's "
                                "TroL_Dataset_Path / Phantom_Dataset_Path")
    log = SourceLog(log_file)
    try:
        indexes = build_indexes(root, mixture_name, log=log, cache_dir=Path(cache_dir) if cache_dir else None,
                                check_images=check_images, max_chars=max_chars, rebuild=rebuild, progress=progress,
                                phantom_schema=phantom_schema, sources=sources)
    finally:
        log.close()
    for row in report_rows(mixture_name, indexes, log):
        logger.info(row.line())
    return CurriculumDataset(indexes, decode_images=decode_images, log=log)


@dataclass
class ReportRow:
    """One line of the count report."""

    title: str
    files: str
    found: int | None
    selected: int | None
    usable: int
    problems: dict[str, int]
    expected: int | None

    @property
    def images_missing(self) -> int:
        return self.problems.get(MISSING_IMAGE, 0)

    def line(self) -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.problems.items())) or "none"
        exp = "-" if self.expected is None else f"{self.expected:,}"
        found = "-" if self.found is None else f"{self.found:,}"
        return (f"{self.title}: found {found}, usable {self.usable:,}, skipped {sum(self.problems.values())} "
                f"({reasons}), images missing {self.images_missing}, README expects {exp}")


def report_rows(mixture_name: str, indexes: Sequence[SourceIndex], log: SourceLog) -> list[ReportRow]:
    """Per-source rows (curated list: per id prefix) from built indexes and their log."""
    by_name = {ix.spec.name: ix for ix in indexes}
    rows = []
    for e in mixture(mixture_name):
        ix = by_name.get(e.source)
        if ix is None:
            continue
        st = log.source(e.source)
        spec = ix.spec
        files = ", ".join(spec.files) + (" (MISSING)" if st.missing_files else "")
        if e.origin is None:
            rows.append(ReportRow(spec.title, files, st.found, st.selected, st.usable, dict(st.problems), e.expected))
        else:
            code = ix.groups.index(e.origin) if e.origin in ix.groups else -1
            usable = int((ix.arrays["group"] == code).sum()) if code >= 0 else 0
            rows.append(ReportRow(f"{e.title} [{e.origin}-*]", files, None, None, usable, {}, e.expected))
    if mixture_name == "phantom-curated-2.0m" and "phantom" in by_name:
        ix = by_name["phantom"]
        st = log.source("phantom")
        known = {e.origin for e in mixture(mixture_name)}
        other = sum(int((ix.arrays["group"] == c).sum()) for c, g in enumerate(ix.groups) if g not in known)
        rows.append(ReportRow("Phantom.json total (other prefixes: %d)" % other, ", ".join(ix.spec.files), st.found,
                              st.selected, st.usable, dict(st.problems), README_TOTALS[mixture_name]))
    return rows


def format_report(mixture_name: str, rows: Sequence[ReportRow]) -> str:
    """The report as a fixed-width table with a total line."""
    head = f"{'source':<42} {'found':>9} {'usable':>9} {'skipped':>8} {'img miss':>8} {'README':>10}  reasons"
    lines = [f"mixture {mixture_name}", head, "-" * len(head)]
    for r in rows:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(r.problems.items())) or "-"
        lines.append(f"{r.title[:42]:<42} {'-' if r.found is None else r.found:>9} {r.usable:>9} "
                     f"{sum(r.problems.values()):>8} {r.images_missing:>8} "
                     f"{'-' if r.expected is None else r.expected:>10}  {reasons}")
    if mixture_name != "phantom-curated-2.0m":
        total = sum(r.usable for r in rows)
        lines.append("-" * len(head))
        lines.append(f"{'total':<42} {'':>9} {total:>9} {'':>8} {'':>8} {README_TOTALS.get(mixture_name, '-'):>10}")
    return "\n".join(lines)


def report(root: str | Path, mixture_name: str, **kwargs) -> str:
    """Index a mixture under `root` and return the printed table (see `python -m loader report`)."""
    log_file = kwargs.pop("log_file", None)
    log = SourceLog(log_file)
    try:
        indexes = build_indexes(Path(root), mixture_name, log=log, **kwargs)
    finally:
        log.close()
    return format_report(mixture_name, report_rows(mixture_name, indexes, log))


__all__ = ["MIXTURES", "Entry", "build_curriculum", "report", "report_rows", "format_report", "mixture", "SOURCES"]
