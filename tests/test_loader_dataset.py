"""Lazy reading: the JSON-array scanner, the on-disk index cache, `build_curriculum` and image decoding in
DataLoader workers."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from loader.curriculum import build_curriculum, report
from loader.sources import SOURCES
from loader.sources import _files
from loader.sources._files import FileFormatError, RandomAccess, scan
from tests.conftest import FIXTURES

GOOD = FIXTURES / "curriculum" / "good"
BAD = FIXTURES / "curriculum" / "bad"


def test_array_scanner_offsets_with_tricky_text(tmp_path, monkeypatch):
    records = [{"id": i, "text": s} for i, s in enumerate(
        ["plain", "brackets ] [ } { inside", 'escaped \\" quote', "ünïcødé 中文 °", "", "x" * 50, "comma, ]"])]
    records.append([1, 2, {"nested": [3, {"a": "]"}]}])
    path = tmp_path / "a.json"
    path.write_text(" \n[ " + " ,\n ".join(json.dumps(r, ensure_ascii=False) for r in records) + " ]\n",
                    encoding="utf-8")
    monkeypatch.setattr(_files, "CHUNK", 7)  # force many refills across element boundaries
    out = list(scan(path, "json"))
    assert [r[3] for r in out] == records
    data = path.read_bytes()
    ra = RandomAccess(path, "json")
    for pos, start, end, rec in out:
        assert json.loads(data[start:end].decode("utf-8")) == rec
        assert ra.get(start, end) == rec


def test_array_scanner_rejects_truncated_and_non_array(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('[{"a": 1}, {"b": ')
    with pytest.raises(FileFormatError, match="element 1"):
        list(scan(path, "json"))
    path.write_text('{"a": 1}')
    with pytest.raises(FileFormatError, match="not a JSON array"):
        list(scan(path, "json"))


def test_truncated_file_keeps_records_before_the_damage(tmp_path):
    raw = json.loads((GOOD / "MathInstruct.json").read_text())
    text = json.dumps(raw)
    (tmp_path / "MathInstruct.json").write_text(text[: text.rindex("{") + 5])
    from loader.sources import SourceLog

    log = SourceLog()
    out = list(SOURCES["mathinstruct"].read(tmp_path, log, progress=False))
    assert len(out) == len(raw) - 1
    assert log.problems[-1].kind == "malformed" and "unreadable" in log.problems[-1].detail


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


def test_curriculum_dataset_matches_streaming_readers(cache):
    ds = build_curriculum(GOOD, "phantom-2.8m", cache_dir=cache, decode_images=False, progress=False)
    assert len(ds) == 63
    streamed = [s for name in ["sharegpt4o", "sharegpt4v_caption", "sharegpt4v_instruction", "allava_vflan",
                               "allava_text", "minigemini_instruction", "smr", "docdownstream", "docreason",
                               "gllava_align", "gllava_qa", "mathvision", "mathinstruct", "mathplus"]
                for s in SOURCES[name].read(GOOD, progress=False)]
    lazy = [ds[i] for i in range(len(ds))]
    assert [(s.id, s.turns, s.images) for s in lazy] == [(s.id, s.turns, s.images) for s in streamed]
    assert int(ds.text_only.sum()) == 12 and len(ds.text_only_indices()) == 12
    lengths = ds.lengths(chars_per_token=4, tokens_per_image=100)
    i = int(ds.text_only_indices()[0])
    assert lengths[i] == -(-sum(len(t.content) for t in lazy[i].turns) // 4)
    assert all(lengths[j] >= 100 for j in range(len(ds)) if not ds.text_only[j])
    assert build_curriculum(GOOD, "trol-2.3m", cache_dir=cache, progress=False).__len__() == 53
    cur = build_curriculum(GOOD, "phantom-curated-2.0m", cache_dir=cache, progress=False)
    assert len(cur) == 5 and all(cur[i].rejected for i in range(5))


def test_images_decoded_in_getitem(cache):
    from PIL import Image

    ds = build_curriculum(GOOD, "trol-2.3m", cache_dir=cache, progress=False, sources=["mathvision", "gllava_qa"])
    s = ds[0]
    assert all(isinstance(im, Image.Image) and im.mode == "RGB" for im in s.images)


def test_index_is_cached_and_invalidated(tmp_path, cache, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(GOOD / "MathInstruct.json", root / "MathInstruct.json")
    log_file = tmp_path / "skip.log"
    ds = build_curriculum(root, "trol-2.3m", cache_dir=cache, progress=False, sources=["mathinstruct"])
    assert len(ds) == 4 and list(cache.glob("mathinstruct-*.npz"))

    def boom(*a, **k):
        raise AssertionError("index rebuilt although cached")

    monkeypatch.setattr(SOURCES["mathinstruct"], "scan", boom)
    again = build_curriculum(root, "trol-2.3m", cache_dir=cache, progress=False, sources=["mathinstruct"],
                             log_file=log_file)
    assert len(again) == 4 and again.stats["mathinstruct"].found == 4
    monkeypatch.undo()
    # A changed file (size / mtime) rebuilds the index; skipped records are logged again from the cache too.
    shutil.copy(BAD / "MathInstruct.json", root / "MathInstruct.json")
    os.utime(root / "MathInstruct.json", ns=(1, 1))
    ds = build_curriculum(root, "trol-2.3m", cache_dir=cache, progress=False, sources=["mathinstruct"])
    assert len(ds) == 4 and ds.stats["mathinstruct"].found == 5
    monkeypatch.setattr(SOURCES["mathinstruct"], "scan", boom)
    build_curriculum(root, "trol-2.3m", cache_dir=cache, progress=False, sources=["mathinstruct"], log_file=log_file)
    assert "MathInstruct.json:4 (index 4)" in log_file.read_text()


def test_report_table_on_bad_copy(cache):
    table = report(BAD, "trol-2.3m", cache_dir=cache, progress=False)
    lines = {line.split("  ")[0].strip(): line for line in table.splitlines()}
    assert "total" in lines and lines["total"].split()[1] == "53" and lines["total"].split()[2] == "2273830"
    gq = lines["GLLaVA-QA"].split()
    assert gq[1:6] == ["5", "4", "1", "1", "117205"]
    assert "undecodable line 1" in lines["DocDownstream"]


def test_dataloader_workers_decode_images(cache):
    import torch
    from PIL import Image

    ds = build_curriculum(GOOD, "phantom-2.8m", cache_dir=cache, progress=False,
                          sources=["sharegpt4o", "gllava_align"])
    def collate(batch):  # runs in the worker processes, after __getitem__ decoded the images there
        return [(s.id, [im.size for im in s.images], all(isinstance(im, Image.Image) for im in s.images))
                for s in batch]

    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate)
    rows = [r for batch in loader for r in batch]
    assert len(rows) == 7 and all(ok for _, _, ok in rows)
    assert sorted(r[0] for r in rows) == sorted(ds.raw_sample(i).id for i in range(len(ds)))


def test_unknown_mixture_and_root_fail_with_names(tmp_path):
    with pytest.raises(KeyError, match="phantom-2.8m"):
        build_curriculum(GOOD, "nope", cache_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_curriculum(tmp_path / "missing", "trol-2.3m", cache_dir=tmp_path)


def test_dataset_pickles_for_spawned_workers(cache, tmp_path):
    import pickle

    ds = build_curriculum(GOOD, "phantom-2.8m", cache_dir=cache, progress=False, decode_images=False)
    first = ds[10]  # opens file handles, which must not travel
    clone = pickle.loads(pickle.dumps(ds))
    assert clone[10] == first and len(clone) == len(ds)


def test_source_with_no_usable_record_gives_empty_index(cache, tmp_path):
    shutil.copy(GOOD / "SMR.json", tmp_path / "SMR.json")  # the images are absent: every record is skipped
    ds = build_curriculum(tmp_path, "phantom-2.8m", cache_dir=cache, progress=False, sources=["smr"])
    assert len(ds) == 0 and ds.stats["smr"].problems["missing image"] == 4
    assert ds.lengths().shape == (0,)
