"""Training and evaluation data: curriculum readers and mixtures, lazy datasets, the sampler, the synthetic task.

Public API (imported lazily, so that `import loader.records` or a benchmark reader stays light):
`build_curriculum(root, mixture_name, ...)`, `build_dataset(samples)`, `ResumableBatchSampler`, `MIXTURES`,
`SOURCES`, `generate_synthetic(root, seed, ...)`, `read_benchmark(name, data_root)`.
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "build_curriculum": ("loader.curriculum", "build_curriculum"),
    "MIXTURES": ("loader.curriculum", "MIXTURES"),
    "report": ("loader.curriculum", "report"),
    "SOURCES": ("loader.sources", "SOURCES"),
    "CurriculumDataset": ("loader.dataset", "CurriculumDataset"),
    "SampleListDataset": ("loader.dataset", "SampleListDataset"),
    "ResumableBatchSampler": ("loader.sampler", "ResumableBatchSampler"),
    "generate_synthetic": ("loader.synthetic", "generate"),
}


def build_dataset(samples: Any, decode_images: bool = True) -> Any:
    """An in-memory dataset over a list of `Sample`s (same interface as `build_curriculum`'s result)."""
    from loader.dataset import SampleListDataset

    return SampleListDataset(samples, decode_images=decode_images)


def read_benchmark(name: str, data_root: Any) -> list:
    """`loader.benchmarks.<name>.read(data_root)` (the benchmark readers of the eval area)."""
    return importlib.import_module(f"loader.benchmarks.{name}").read(data_root)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'loader' has no attribute {name!r}")


__all__ = ["build_dataset", "read_benchmark", *_LAZY]
