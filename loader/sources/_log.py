"""Bookkeeping for one pass over the training sources: what was found, selected, kept and skipped.

Every skipped record is written to a log file as ``<file>:<position> (<unit>) <kind>: <detail>`` and counted by
kind, so that `python -m loader report` can print one summary line per source and a human can find each bad record.
Positions follow the fixture READMEs: JSON arrays and parquet rows are 0-based indices, JSONL lines 1-based.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

logger = logging.getLogger("loader")

# The kinds of problem a record can have. Counted separately in the report.
MALFORMED = "malformed"
MISSING_IMAGE = "missing image"
UNDECODABLE_IMAGE = "undecodable image"
UNDECODABLE_LINE = "undecodable line"
OVER_LONG = "over-long conversation"
PROBLEM_KINDS = (MISSING_IMAGE, UNDECODABLE_IMAGE, MALFORMED, UNDECODABLE_LINE, OVER_LONG)

UNITS = {"json": "index", "jsonl": "line", "parquet": "row"}


@dataclass
class Problem:
    """One skipped record."""

    source: str
    file: str
    position: int
    unit: str
    kind: str
    detail: str

    def line(self) -> str:
        return f"{self.file}:{self.position} ({self.unit} {self.position}) [{self.source}] {self.kind}: {self.detail}"


@dataclass
class SourceStats:
    """Counts for one source: records in its files, selected by its rule, usable, and the problems."""

    source: str
    found: int = 0
    selected: int = 0
    usable: int = 0
    text_only: int = 0
    problems: Counter = field(default_factory=Counter)
    missing_files: list = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return sum(self.problems.values())

    def to_dict(self) -> dict:
        return {"source": self.source, "found": self.found, "selected": self.selected, "usable": self.usable,
                "text_only": self.text_only, "problems": dict(self.problems), "missing_files": self.missing_files}

    @classmethod
    def from_dict(cls, d: dict) -> "SourceStats":
        return cls(d["source"], d["found"], d["selected"], d["usable"], d.get("text_only", 0),
                   Counter(d.get("problems", {})), list(d.get("missing_files", [])))


class SourceLog:
    """Collects `SourceStats` per source and writes skipped records to `log_file` (if given) as they happen."""

    def __init__(self, log_file: str | Path | None = None) -> None:
        self.stats: dict[str, SourceStats] = {}
        self.problems: list[Problem] = []
        self.log_file = Path(log_file) if log_file is not None else None
        self._fh: TextIO | None = None

    def source(self, name: str) -> SourceStats:
        if name not in self.stats:
            self.stats[name] = SourceStats(name)
        return self.stats[name]

    def skip(self, source: str, file: str, position: int, fmt: str, kind: str, detail: str) -> Problem:
        """Record one skipped record (counted under `kind`) and write it to the log file."""
        problem = Problem(source, file, position, UNITS.get(fmt, fmt), kind, detail)
        self.add_problem(problem)
        return problem

    def add_problem(self, problem: Problem) -> None:
        self.problems.append(problem)
        self.source(problem.source).problems[problem.kind] += 1
        if self.log_file is not None:
            if self._fh is None:
                self.log_file.parent.mkdir(parents=True, exist_ok=True)
                self._fh = self.log_file.open("a", encoding="utf-8")
            self._fh.write(problem.line() + "\n")
            self._fh.flush()
        logger.debug("skipped %s", problem.line())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def summary_line(self, name: str, expected: int | None = None) -> str:
        """One line: found / selected / usable / skipped with reasons / images missing / expected."""
        s = self.source(name)
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(s.problems.items())) or "none"
        exp = "?" if expected is None else str(expected)
        missing = f" FILES MISSING: {', '.join(s.missing_files)};" if s.missing_files else ""
        return (f"{name}:{missing} found {s.found}, selected {s.selected}, usable {s.usable}, skipped {s.skipped} ({reasons}), "
                f"images missing {s.problems.get(MISSING_IMAGE, 0)}, README expects {exp}")
