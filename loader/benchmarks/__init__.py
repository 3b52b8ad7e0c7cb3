"""Benchmark readers: one module per benchmark layout under the authors' `Evaluation_Dataset_Path`.

Each module exposes `read(data_root: Path) -> list[EvalItem]` (and `LAYOUT`, the expected file tree) and opens
only its own benchmark's files; images are not decoded here (items carry paths or encoded bytes). Shared
helpers (layout errors, JSON/parquet reading, image normalisation) are in `loader.benchmarks.common`.
"""
