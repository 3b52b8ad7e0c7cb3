"""Reading helpers shared by the benchmark readers: layout errors, JSON / JSONL / parquet / TSV reading,
and normalisation of embedded images to bytes."""
from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any


class BenchmarkLayoutError(FileNotFoundError):
    """A benchmark file or folder is missing or malformed; the message names the path and the layout."""


def layout_error(benchmark: str, data_root: Path, missing: Path, layout: str, what: str = "missing") -> BenchmarkLayoutError:
    """The error for a missing/malformed path: names it, shows the expected tree, says how to fix it."""
    return BenchmarkLayoutError(
        f"{benchmark}: {missing} is {what}.\n"
        f"Expected layout under the data root {data_root} (the TroL/Phantom Evaluation_Dataset_Path):\n"
        f"{layout.rstrip()}\n"
        f"Fix: place the benchmark's files as shown, or pass the folder that contains them as --data-root."
    )


def require(path: Path, benchmark: str, data_root: Path, layout: str) -> Path:
    """`path` if it exists, else a `BenchmarkLayoutError` naming it and the layout."""
    if not path.exists():
        raise layout_error(benchmark, data_root, path, layout)
    return path


def read_json(path: Path, benchmark: str, data_root: Path, layout: str) -> Any:
    """Parse a JSON file; missing or invalid files raise `BenchmarkLayoutError`."""
    require(path, benchmark, data_root, layout)
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise layout_error(benchmark, data_root, path, layout, f"not valid JSON ({exc})") from exc


def read_json_or_lines(path: Path, benchmark: str, data_root: Path, layout: str) -> list[Any]:
    """A JSON list, or JSON lines (POPE's files, LLaVA's .jsonl), whichever the file holds."""
    require(path, benchmark, data_root, layout)
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise layout_error(benchmark, data_root, path, layout, f"not valid JSON ({exc})") from exc
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise layout_error(benchmark, data_root, path, layout, f"not valid JSON lines (line {number}: {exc})") from exc
    return records


def read_parquet(path: Path, benchmark: str, data_root: Path, layout: str) -> list[dict[str, Any]]:
    """Rows of a parquet file as dicts (pyarrow; nested structs become dicts, lists become lists)."""
    import pyarrow.parquet as pq

    require(path, benchmark, data_root, layout)
    with path.open("rb") as f:  # opened from Python so that the file shows in audit hooks and errors
        return pq.read_table(f).to_pylist()


def read_tsv(path: Path, benchmark: str, data_root: Path, layout: str) -> list[dict[str, Any]]:
    """Rows of a tab-separated file read as pandas.read_table does (NaN for empty cells -> None here)."""
    import pandas as pd

    require(path, benchmark, data_root, layout)
    frame = pd.read_table(path)
    rows = frame.to_dict(orient="records")
    return [{k: (None if _is_nan(v) else v) for k, v in row.items()} for row in rows]


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def image_bytes(value: Any, where: str) -> bytes | None:
    """Normalise an embedded image to encoded bytes: raw bytes, a base64 string, or a HF image struct
    {bytes, path}; None for a missing image. `where` names the file and record for the error."""
    if value is None:
        return None
    if isinstance(value, dict):
        if value.get("bytes") is not None:
            return image_bytes(value["bytes"], where)
        if value.get("path"):
            raise ValueError(f"{where}: the image struct has only a path ({value['path']!r}), no bytes; "
                             "re-download the parquet file with embedded images")
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"{where}: the image is a string but not base64 ({exc}); expected PNG/JPEG bytes or "
                             "base64") from exc
    raise ValueError(f"{where}: unsupported image encoding {type(value).__name__}; expected bytes, base64 or "
                     "{bytes, path}")
