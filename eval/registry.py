"""The benchmark registry: what a benchmark is, and the table of all of them.

Reading a benchmark's files is I/O and lives in `loader/benchmarks/`; everything about prompting,
answer parsing and scoring lives in the benchmark's module under `eval/benchmarks/`, which registers a
`Benchmark` here at import time.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from loader.records import EvalItem


@dataclass(frozen=True)
class Benchmark:
    """One benchmark as the harness sees it.

    name: the fixture folder name (`pope`, `mmbench-dev-en`, ...), also the `--benchmark` value.
    read: `read(data_root: Path) -> list[EvalItem]`, from `loader/benchmarks/`.
    prompt: `prompt(item, family) -> str`, the question text with the authors' suffix for that model family
        (without chat template and image tokens: the processor adds those).
    max_new_tokens: the authors' generation budget for this benchmark.
    score: pure `score(items, predictions, judge=None, scoring="official") -> dict`, where `predictions`
        maps item id -> raw decoded text. Returns the metrics with the keys and nesting of the fixture's
        `official` block (or `authors` block when scoring == "authors").
    needs_judge: whether part of the metrics comes from an LLM judge.
    layout: the expected file tree under the data root (shown in errors about missing files).
    scorings: the `scoring=` values `score` accepts ("official" always; "authors" where implemented).
    headline: key path of the headline number in the official metrics (e.g. ("circular", "Overall")), shown in
        the printed table; empty = every top-level number.
    """

    name: str
    read: Callable[[Path], list[EvalItem]]
    prompt: Callable[[EvalItem, str], str]
    max_new_tokens: int
    score: Callable[..., dict[str, Any]]
    needs_judge: bool = False
    aliases: Sequence[str] = field(default_factory=tuple)
    layout: str = ""
    scorings: Sequence[str] = ("official",)
    headline: Sequence[str] = ()


BENCHMARKS: dict[str, Benchmark] = {}


def register_benchmark(benchmark: Benchmark) -> Benchmark:
    """Add a benchmark (and its aliases) to the registry; a name may be registered once."""
    for name in (benchmark.name, *benchmark.aliases):
        if name in BENCHMARKS and BENCHMARKS[name] is not benchmark:
            raise ValueError(f"benchmark {name!r} is registered twice")
        BENCHMARKS[name] = benchmark
    return benchmark


def _import_all() -> None:
    package = Path(__file__).with_name("benchmarks")
    for info in pkgutil.iter_modules([str(package)]):
        importlib.import_module(f"eval.benchmarks.{info.name}")


def get_benchmark(name: str) -> Benchmark:
    """The registered benchmark called `name`; an unknown name fails with the list of known ones."""
    _import_all()
    if name not in BENCHMARKS:
        known = ", ".join(sorted({b.name for b in BENCHMARKS.values()}))
        raise KeyError(f"unknown benchmark {name!r}; known benchmarks: {known}")
    return BENCHMARKS[name]


def all_benchmarks() -> list[Benchmark]:
    """Every registered benchmark once (aliases folded), sorted by name."""
    _import_all()
    return sorted({b.name: b for b in BENCHMARKS.values()}.values(), key=lambda b: b.name)
