"""Predictions files: JSONL with one `{"id": ..., "prediction": "..."}` per line, appended as generated.

A run killed mid-write can leave a truncated last line; `read_predictions` drops it (with a notice) so that
the item is generated again, and `repair` rewrites the file without it before appending resumes.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Iterable, Mapping

log = logging.getLogger(__name__)


def read_predictions(path: Path, strict: bool = False) -> dict[str, str]:
    """id (as a string) -> prediction; the last value wins for a repeated id. With `strict`, any malformed
    line is an error naming the file and line; otherwise only a truncated last line is tolerated."""
    path = Path(path)
    out: dict[str, str] = {}
    if not path.exists():
        return out
    lines = path.read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            key, text = str(record["id"]), record["prediction"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            last = all(not rest.strip() for rest in lines[number:])
            if last and not strict:
                log.warning("%s: ignoring a truncated last line %d (an interrupted run); it is generated again",
                            path, number)
                break
            raise ValueError(f"{path}: line {number} is not a prediction record ({exc}); expected "
                             '{"id": <item id>, "prediction": "<text>"}') from exc
        out[key] = "" if text is None else str(text)
    return out


def repair(path: Path) -> dict[str, str]:
    """Read a partial predictions file and rewrite it with only its complete records."""
    records = read_predictions(path)
    if Path(path).exists():
        write_predictions(path, records.items())
    return records


def write_predictions(path: Path, records: Iterable[tuple[str, str]]) -> None:
    """Write a whole predictions file atomically (temporary file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for key, text in records:
            f.write(json.dumps({"id": key, "prediction": text}, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class PredictionWriter:
    """Appends records and makes each batch durable before the next one is generated."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")

    def write(self, records: Mapping[str, str]) -> None:
        for key, text in records.items():
            self._file.write(json.dumps({"id": key, "prediction": text}, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "PredictionWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
