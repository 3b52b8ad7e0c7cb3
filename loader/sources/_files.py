"""Streaming and random access to the three container formats: JSON arrays, JSON lines and parquet.

Nothing here loads a whole file. A JSON array is scanned element by element in bounded chunks: the bytes are viewed
as latin-1 text, so that `json.JSONDecoder.raw_decode` finds each element's end and string offsets equal byte
offsets (every JSON structural character is ASCII); the element's own bytes are then decoded as UTF-8 and parsed
properly. JSONL is read line by line, parquet one row group at a time. Each record is addressed by
``(position, start, end)``: position = array index / 1-based line / row, start-end = byte span (rows: start = row).
"""
from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator

CHUNK = 1 << 24  # 16 MiB read size for the JSON array scanner
_WS = " \t\r\n"


class FileFormatError(ValueError):
    """A whole file (not one record) cannot be read further."""


class RecordDecodeError(ValueError):
    """One record's bytes are not valid UTF-8 / JSON."""


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return "jsonl"
    if suffix == ".parquet":
        return "parquet"
    if suffix == ".json":
        return "json"
    raise FileFormatError(f"{path}: unknown container (expected .json, .jsonl or .parquet)")


def parse_json_bytes(data: bytes) -> Any:
    """Decode one record's bytes (UTF-8) and parse them; `RecordDecodeError` says which step failed."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RecordDecodeError(f"not valid UTF-8 ({err.reason} at byte {err.start}: {data[err.start:err.start + 1]!r})"
                                ) from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise RecordDecodeError(f"not valid JSON ({err.msg} at column {err.colno})") from err


class _ArrayScanner:
    """Yields ``(index, start, end, bytes)`` for every element of a top-level JSON array."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.decoder = json.JSONDecoder()

    def __iter__(self) -> Iterator[tuple[int, int, int, bytes]]:
        with self.path.open("rb") as fh:
            self.fh = fh
            self.text = ""
            self.base = 0  # file offset of self.text[0]
            self.eof = False
            i = self._skip_ws(0)
            if self.text[i:i + 1] == "\ufeff" or self.text[i:i + 3] == "\xef\xbb\xbf":  # UTF-8 BOM
                i = self._skip_ws(i + (1 if self.text[i] == "\ufeff" else 3))
            if self.text[i:i + 1] != "[":
                raise FileFormatError(f"{self.path}: not a JSON array (first character {self.text[i:i + 1]!r}); "
                                      "expected a list of records")
            i = self._skip_ws(i + 1)
            index = 0
            while True:
                if i >= len(self.text):
                    raise FileFormatError(f"{self.path}: truncated after element {index - 1} "
                                          f"(byte {self.base + i}); re-download the file")
                if self.text[i] == "]":
                    return
                if index > 0:
                    if self.text[i] != ",":
                        raise FileFormatError(f"{self.path}: expected ',' after element {index - 1} at byte "
                                              f"{self.base + i}, found {self.text[i]!r}")
                    i = self._skip_ws(i + 1)
                while True:
                    try:
                        _, end = self.decoder.raw_decode(self.text, i)
                        if end < len(self.text) or self.eof:
                            break
                    except json.JSONDecodeError as err:
                        if self.eof:
                            raise FileFormatError(f"{self.path}: element {index} (byte {self.base + i}) is not valid "
                                                  f"JSON: {err.msg}; fix or remove that element") from err
                    i = self._more(i)
                start = self.base + i
                yield index, start, self.base + end, self.text[i:end].encode("latin-1")
                index += 1
                i = self._skip_ws(end)

    def _more(self, i: int) -> int:
        """Read another chunk (dropping the consumed prefix); returns the new position of old index i."""
        data = self.fh.read(max(CHUNK, len(self.text) - i))
        if not data:
            self.eof = True
            return i
        self.text = self.text[i:] + data.decode("latin-1")
        self.base += i
        return 0

    def _skip_ws(self, i: int) -> int:
        while True:
            while i < len(self.text) and self.text[i] in _WS:
                i += 1
            if i < len(self.text) or self.eof:
                return i
            i = self._more(i)
            if self.eof and i >= len(self.text):
                return i


def scan(path: Path, fmt: str) -> Iterator[tuple[int, int, int, Any]]:
    """Stream every record of a file as ``(position, start, end, raw)``.

    `raw` is the parsed object, or a `RecordDecodeError` instance for a record whose bytes do not decode.
    Parquet rows come as dicts with start = row, end = -1.
    """
    if fmt == "json":
        for index, start, end, data in _ArrayScanner(path):
            try:
                yield index, start, end, parse_json_bytes(data)
            except RecordDecodeError as err:
                yield index, start, end, err
    elif fmt == "jsonl":
        with path.open("rb") as fh:
            offset = 0
            for lineno, line in enumerate(fh, start=1):
                start, offset = offset, offset + len(line)
                if not line.strip():
                    continue
                try:
                    yield lineno, start, offset, parse_json_bytes(line)
                except RecordDecodeError as err:
                    yield lineno, start, offset, err
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        row = 0
        for rg in range(pf.metadata.num_row_groups):
            for record in pf.read_row_group(rg).to_pylist():
                yield row, row, -1, record
                row += 1
    else:
        raise FileFormatError(f"{path}: unknown format {fmt!r}")


def count_records(path: Path, fmt: str) -> int | None:
    """Cheap record count where the container stores it (parquet); None otherwise."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return None


class RandomAccess:
    """Reads single records back by address. Opens files lazily and reopens after a fork (DataLoader workers)."""

    def __init__(self, path: Path, fmt: str, cached_row_groups: int = 2) -> None:
        self.path = path
        self.fmt = fmt
        self._fh = None
        self._pid: int | None = None
        self._pf = None
        self._rg_starts: list[int] = []
        self._rg_cache: OrderedDict[int, list[dict]] = OrderedDict()
        self._cached_row_groups = cached_row_groups

    def _ensure_open(self) -> None:
        import os

        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._rg_cache.clear()
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            self._pf = pq.ParquetFile(self.path)
            starts, total = [], 0
            for rg in range(self._pf.metadata.num_row_groups):
                starts.append(total)
                total += self._pf.metadata.row_group(rg).num_rows
            self._rg_starts = starts
        else:
            self._fh = self.path.open("rb")

    def get(self, start: int, end: int) -> Any:
        self._ensure_open()
        if self.fmt == "parquet":
            import bisect

            rg = bisect.bisect_right(self._rg_starts, start) - 1
            rows = self._rg_cache.get(rg)
            if rows is None:
                rows = self._pf.read_row_group(rg).to_pylist()
                self._rg_cache[rg] = rows
                while len(self._rg_cache) > self._cached_row_groups:
                    self._rg_cache.popitem(last=False)
            else:
                self._rg_cache.move_to_end(rg)
            return rows[start - self._rg_starts[rg]]
        self._fh.seek(start)
        return parse_json_bytes(self._fh.read(end - start))

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_fh=None, _pid=None, _pf=None, _rg_cache=OrderedDict())
        return state
