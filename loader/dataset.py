"""Lazy training datasets: an on-disk index of the usable records of each source, and a map-style dataset over it.

Building the index streams each source once (selection rule, conversion, image check, length policy; see
`loader.sources._spec`) and stores, per usable record, its file, position, byte span (parquet: row), text length
and image count as numpy arrays in a cache directory (``.npz`` + a JSON sidecar with the counts and the skipped
records). Later runs reuse it while the files' sizes and modification times are unchanged. `__getitem__` re-reads
one record by its byte span / row and decodes its images, so decoding happens in DataLoader workers and a 2.8M
mixture never sits in memory.
"""
from __future__ import annotations

import hashlib
import json
from array import array
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from torch.utils.data import Dataset

from loader.records import Sample
from loader.sources._convert import RecordError
from loader.sources._files import RandomAccess, RecordDecodeError, detect_format
from loader.sources._images import decode
from loader.sources._log import Problem, SourceLog, SourceStats
from loader.sources._spec import DEFAULT_MAX_CHARS, SourceSpec

logger = logging.getLogger("loader")

INDEX_VERSION = 1
_ARRAYS = ("file_id", "position", "start", "end", "chars", "n_images", "group")


def default_cache_dir() -> Path:
    """`$TROL_PHANTOM_CACHE/loader`, else `~/.cache/trol-phantom/loader` (data roots are often read-only)."""
    base = os.environ.get("TROL_PHANTOM_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "trol-phantom") / "loader"


@dataclass(eq=False)
class SourceIndex:
    """The usable records of one source under one root."""

    spec: SourceSpec
    root: Path
    arrays: dict[str, np.ndarray]
    groups: list[str]  # names for arrays["group"] (Phantom triples: the source prefix of the id)

    def __len__(self) -> int:
        return int(self.arrays["file_id"].shape[0])


def _cache_key(spec: SourceSpec, root: Path, check_images: str, max_chars: int | None) -> str:
    files = []
    for path in spec.paths(root):
        st = path.stat() if path.is_file() else None
        files.append([str(path), st.st_size if st else None, st.st_mtime_ns if st else None])
    blob = json.dumps([INDEX_VERSION, spec.name, spec.rule, repr(spec.select), repr(spec.extra), files,
                       check_images, max_chars], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def index_source(spec: SourceSpec, root: Path, log: SourceLog, *, cache_dir: Path | None = None,
                 check_images: str = "header", max_chars: int | None = DEFAULT_MAX_CHARS, rebuild: bool = False,
                 progress: bool = True) -> SourceIndex:
    """Build (or load from the cache) the index of `spec`'s usable records under `root`; counts go to `log`."""
    root = Path(root).resolve()
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = _cache_key(spec, root, check_images, max_chars)
    npz, side = cache_dir / f"{spec.name}-{key}.npz", cache_dir / f"{spec.name}-{key}.json"
    if not rebuild and npz.is_file() and side.is_file():
        meta = json.loads(side.read_text(encoding="utf-8"))
        with np.load(npz, allow_pickle=False) as data:
            arrays = {k: data[k] for k in _ARRAYS}
        log.stats[spec.name] = SourceStats.from_dict(meta["stats"])
        log.source(spec.name).problems.clear()
        for p in meta["problems"]:
            log.add_problem(Problem(**p))
        logger.debug("%s: index loaded from %s", spec.name, npz)
        return SourceIndex(spec, root, arrays, meta["groups"])

    cols = {k: array("q") for k in _ARRAYS}  # 8 bytes per entry while streaming (Python lists would be ~4x)
    groups: dict[str, int] = {}
    first_problem = len(log.problems)
    log.stats.pop(spec.name, None)
    for file_id, position, start, end, sample in spec.scan(root, log, check_images=check_images,
                                                          max_chars=max_chars, progress=progress):
        origin = sample.meta.get("origin", "")
        for k, v in zip(_ARRAYS, (file_id, position, start, end, sum(len(t.content) for t in sample.turns),
                                  len(sample.images), groups.setdefault(origin, len(groups)))):
            cols[k].append(v)
    dtypes = {"file_id": np.int16, "position": np.int64, "start": np.int64, "end": np.int64, "chars": np.int64,
              "n_images": np.int16, "group": np.int16}
    arrays = {k: np.frombuffer(cols[k], dtype=np.int64).astype(dtypes[k]) for k in _ARRAYS}
    group_names = sorted(groups, key=groups.get)
    meta = {"stats": log.source(spec.name).to_dict(), "groups": group_names,
            "problems": [p.__dict__ for p in log.problems[first_problem:] if p.source == spec.name]}
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = npz.with_name(npz.stem + f".tmp{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, npz)
    tmp_side = side.with_suffix(f".tmp{os.getpid()}")
    tmp_side.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(tmp_side, side)
    return SourceIndex(spec, root, arrays, group_names)


class CurriculumDataset(Dataset):
    """Map-style dataset of `Sample`s over one or more `SourceIndex`es (concatenated in the given order).

    `decode_images=True` turns every image reference into an RGB PIL image inside `__getitem__` (so in the
    DataLoader worker). A record that fails at read time (file changed since indexing) is logged and replaced by
    the next index, at most `max_retries` times.
    """

    def __init__(self, indexes: Sequence[SourceIndex], decode_images: bool = True, max_retries: int = 8,
                 log: SourceLog | None = None) -> None:
        self.indexes = [ix for ix in indexes]
        self.decode_images = decode_images
        self.max_retries = max_retries
        self.log = log
        self.offsets = np.cumsum([0] + [len(ix) for ix in self.indexes])
        self._readers: dict[tuple[int, int], RandomAccess] = {}
        self.runtime_skips = 0

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def stats(self) -> dict[str, SourceStats]:
        return self.log.stats if self.log is not None else {}

    def locate(self, i: int) -> tuple[int, int]:
        """(which index, position inside it) of dataset index `i`."""
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for a dataset of {len(self)} samples")
        k = int(np.searchsorted(self.offsets, i, side="right") - 1)
        return k, i - int(self.offsets[k])

    def _reader(self, k: int, file_id: int) -> RandomAccess:
        key = (k, file_id)
        if key not in self._readers:
            ix = self.indexes[k]
            path = ix.spec.paths(ix.root)[file_id]
            self._readers[key] = RandomAccess(path, detect_format(path))
        return self._readers[key]

    def raw_sample(self, i: int) -> Sample:
        """The sample at `i` with images as references (paths / bytes), no decoding."""
        k, j = self.locate(i)
        ix = self.indexes[k]
        a = ix.arrays
        file_id, position = int(a["file_id"][j]), int(a["position"][j])
        raw = self._reader(k, file_id).get(int(a["start"][j]), int(a["end"][j]))
        return ix.spec.convert_at(ix.root, file_id, position, raw)

    def __getitem__(self, i: int) -> Sample:
        for attempt in range(self.max_retries + 1):
            j = (i + attempt) % len(self)
            try:
                sample = self.raw_sample(j)
                if self.decode_images:
                    sample.images = [decode(ref) for ref in sample.images]
                return sample
            except (RecordError, RecordDecodeError, OSError, ValueError) as err:
                self.runtime_skips += 1
                k, jj = self.locate(j)
                ix = self.indexes[k]
                where = f"{ix.spec.files[int(ix.arrays['file_id'][jj])]}:{int(ix.arrays['position'][jj])}"
                logger.warning("skipping %s record %s at read time: %s", ix.spec.name, where, err)
        raise RuntimeError(f"{self.max_retries + 1} consecutive records from index {i} failed to read; the data "
                           "changed since the index was built: rebuild it (build_curriculum(..., rebuild=True))")

    # --- lengths and modality, for the sampler and for packing text-only records -------------------------------
    def _column(self, name: str) -> np.ndarray:
        parts = [ix.arrays[name] for ix in self.indexes]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    @property
    def n_images(self) -> np.ndarray:
        return self._column("n_images").astype(np.int64)

    @property
    def text_only(self) -> np.ndarray:
        """Boolean mask of records without images (candidates for sequence packing)."""
        return self.n_images == 0

    def text_only_indices(self) -> np.ndarray:
        return np.flatnonzero(self.text_only)

    def lengths(self, chars_per_token: float = 4.0, tokens_per_image: int = 256) -> np.ndarray:
        """Approximate token lengths (text characters / `chars_per_token` + images x `tokens_per_image`)."""
        return (np.ceil(self._column("chars") / chars_per_token).astype(np.int64)
                + self.n_images * int(tokens_per_image))

    def source_names(self) -> np.ndarray:
        """Per record, the source name (for per-source statistics or weighting)."""
        names = [ix.spec.name for ix in self.indexes]
        return np.repeat(np.asarray(names, dtype=object), [len(ix) for ix in self.indexes])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_readers"] = {}
        return state


class SampleListDataset(Dataset):
    """In-memory dataset over a list of `Sample`s (small synthetic or test data), same interface as above."""

    def __init__(self, samples: Sequence[Sample], decode_images: bool = True) -> None:
        self.samples = list(samples)
        self.decode_images = decode_images

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> Sample:
        s = self.samples[i]
        if not self.decode_images:
            return s
        return Sample(s.id, s.source, s.turns, [decode(r) for r in s.images], s.chosen, s.rejected, dict(s.meta))

    @property
    def text_only(self) -> np.ndarray:
        return np.asarray([not s.images for s in self.samples], dtype=bool)

    def text_only_indices(self) -> np.ndarray:
        return np.flatnonzero(self.text_only)

    def lengths(self, chars_per_token: float = 4.0, tokens_per_image: int = 256) -> np.ndarray:
        return np.asarray([int(np.ceil(sum(len(t.content) for t in s.turns) / chars_per_token))
                           + len(s.images) * tokens_per_image for s in self.samples], dtype=np.int64)
