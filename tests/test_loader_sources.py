"""Curriculum readers on the miniature roots: per-source counts of the READMEs, the ten broken records of the bad
copy (skipped, counted, logged with file and position), conversion rules and the Phantom triples."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from loader.records import IMAGE_PLACEHOLDER
from loader.sources import SOURCES, SourceLog
from loader.sources.phantom import PhantomSchema, PhantomSchemaError
from tests.conftest import FIXTURES

GOOD = FIXTURES / "curriculum" / "good"
BAD = FIXTURES / "curriculum" / "bad"

# "records in file" and "selected by the source rule" columns of good/README.md.
GOOD_COUNTS = {
    "sharegpt4v_caption": (7, 6), "sharegpt4v_instruction": (8, 8), "sharegpt4o": (3, 3),
    "allava_vflan": (12, 3), "allava_text": (3, 3), "minigemini_instruction": (8, 4), "smr": (7, 4),
    "docdownstream": (8, 8), "docreason": (4, 4), "gllava_align": (4, 4), "gllava_qa": (4, 4),
    "mathvision": (4, 4), "mathinstruct": (4, 4), "mathplus": (4, 4), "phantom": (5, 5),
}
# bad/README.md: (file, position, kind) of the ten broken records.
BAD_RECORDS = {
    ("sharegpt4v_instruct_gpt4-vision_cap100k.json", 7, "undecodable image"),
    ("sharegpt4v_instruct_gpt4-vision_cap100k.json", 8, "malformed"),
    ("sharegpt4v_mix665k_cap23k_coco-ap9k_lcs3k_sam9k_div2k.json", 8, "missing image"),
    ("sharegpt4v_mix665k_cap23k_coco-ap9k_lcs3k_sam9k_div2k.json", 9, "malformed"),
    ("Evol-Instruct-GPT4-Turbo-143K.json", 3, "over-long conversation"),
    ("train.jsonl", 4, "undecodable line"),
    ("detailed_explanation.jsonl", 5, "malformed"),
    ("MathInstruct.json", 4, "malformed"),
    ("gllava_qa.parquet", 4, "missing image"),
    ("mathvision.parquet", 4, "undecodable image"),
}


def read_all(root: Path, log: SourceLog) -> dict[str, list]:
    return {name: list(spec.read(root, log, progress=False)) for name, spec in SOURCES.items()}


@pytest.fixture(scope="module")
def good() -> tuple[dict, SourceLog]:
    log = SourceLog()
    return read_all(GOOD, log), log


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> tuple[dict, SourceLog, Path]:
    log_file = tmp_path_factory.mktemp("badlog") / "skipped.log"
    log = SourceLog(log_file)
    out = read_all(BAD, log)
    log.close()
    return out, log, log_file


def test_registry_covers_every_readme_source():
    titles = {s.title for s in SOURCES.values()}
    for t in ["ShareGPT4V-Caption", "ShareGPT4V-Instruction", "ShareGPT4O-Images", "ALLaVA4V-VFLAN", "ALLaVA4V-Text",
              "MiniGemini-Instruction", "SMR", "DocDownstream", "DocReason", "GLLaVA-Align", "GLLaVA-QA",
              "MathVision", "MathInstruct", "MathPlus", "Phantom triples"]:
        assert t in titles


@pytest.mark.parametrize("name", sorted(GOOD_COUNTS))
def test_good_counts(good, name):
    samples, log = good
    found, selected = GOOD_COUNTS[name]
    st = log.stats[name]
    assert (st.found, st.selected, st.usable) == (found, selected, selected)
    assert len(samples[name]) == selected
    assert not st.problems


def test_good_totals_and_text_only(good):
    samples, _ = good
    trol = ["sharegpt4v_caption", "sharegpt4v_instruction", "allava_text", "minigemini_instruction", "docdownstream",
            "docreason", "gllava_align", "gllava_qa", "mathvision", "mathinstruct", "mathplus"]
    assert sum(len(samples[n]) for n in trol) == 53
    assert sum(len(samples[n]) for n in trol + ["sharegpt4o", "allava_vflan", "smr"]) == 63
    text_only = sum(1 for n in trol for s in samples[n] if not s.images)
    assert text_only == 1 + 3 + 4 + 4
    assert sum(1 for s in samples["phantom"] if not s.images) == 2


def test_every_sample_is_canonical(good):
    samples, _ = good
    for name, items in samples.items():
        ids = [s.id for s in items]
        assert len(set(ids)) == len(ids), name
        for s in items:
            assert s.source == name
            assert s.turns[0].role == "user" and any(t.role == "assistant" for t in s.turns)
            roles = [t.role for t in s.turns]
            assert all(a != b for a, b in zip(roles, roles[1:]))
            n_ph = sum(t.content.count(IMAGE_PLACEHOLDER) for t in s.turns)
            assert n_ph == len(s.images), (name, s.id)
            if s.images:
                assert s.turns[0].content.startswith(IMAGE_PLACEHOLDER)
            for t in s.turns:
                assert "<|image|>" not in t.content and "<image1>" not in t.content
            for ref in s.images:
                assert isinstance(ref, bytes) or Path(ref).is_file()


def test_placeholder_at_end_is_moved_to_front(good):
    samples, _ = good
    raw = json.loads((GOOD / "sharegpt4v_instruct_gpt4-vision_cap100k.json").read_text())
    at_end = [r for r in raw if r["conversations"][0]["value"].endswith("<image>")]
    assert at_end, "fixture has records with the placeholder at the end"
    by_id = {s.id: s for s in samples["sharegpt4v_caption"]}
    for r in at_end:
        if r["id"] in by_id:
            text = by_id[r["id"]].turns[0].content
            assert text == "<image>\n" + r["conversations"][0]["value"][:-len("<image>")].strip()


def test_source_specific_conversion(good):
    samples, _ = good
    doc = samples["docdownstream"][0]
    assert doc.images[0].endswith("imgs/DUE_Benchmark/DocVQA/pngs/abcd0001_1.png") and "/./" not in doc.images[0]
    assert doc.turns[0].content == "<image>\nwhat is the title of this form?"
    assert doc.meta["dataset_name"] == "DocVQA"
    mv = samples["mathvision"][0]
    assert isinstance(mv.images[0], bytes) and mv.images[0][:2] == b"\xff\xd8"
    assert "A. 1" in mv.turns[0].content and mv.turns[-1].content.endswith("Answer: C")
    raw = json.loads((GOOD / "Evol-Instruct-GPT4-Turbo-143K.json").read_text())
    assert [s.id for s in samples["allava_text"]] == [r["idx"] for r in raw]  # ALLaVA-Text's id field is `idx`
    assert all(s.images[0].startswith(str(GOOD / "ShareGPT-4o" / "images")) for s in samples["sharegpt4o"])
    assert all("/ALLaVA-4V/allava_vflan/" in s.images[0] for s in samples["allava_vflan"])
    assert all(s.id.startswith(("arxivqa", "tqa")) for s in samples["smr"])
    mi = samples["mathinstruct"][0]
    assert [t.role for t in mi.turns] == ["user", "assistant"] and not mi.images


def test_phantom_triples(good):
    triples = good[0]["phantom"]
    first = triples[0]
    assert first.chosen == "A single red circle on a white background."
    assert first.rejected == "Two blue squares on a black background."
    assert first.turns[-1].content == first.chosen
    assert first.meta["origin"] == "caption"
    doc = [t for t in triples if t.id.startswith("docdownstream")][0]
    assert doc.images[0].endswith("imgs/DUE_Benchmark/DocVQA/pngs/abcd0001_1.png")
    assert all(t.chosen and t.rejected and t.chosen != t.rejected for t in triples)


def test_phantom_other_schema_fails_with_fields_found(tmp_path):
    rec = [{"id": "x-1", "question": "q?", "answer": "a", "wrong": "b"}] * 3
    (tmp_path / "Phantom.json").write_text(json.dumps(rec))
    with pytest.raises(PhantomSchemaError) as err:
        list(SOURCES["phantom"].read(tmp_path, progress=False))
    msg = str(err.value)
    assert "Phantom.json" in msg and "'answer'" in msg and "'question'" in msg and "'wrong'" in msg
    # ...and a matching schema reads a file whose keys differ from the assumed ones.
    rec = [{"id": "mathplus-1", "conversations": [{"role": "human", "text": "2+2?"},
                                                  {"role": "gpt", "text": "4", "bad": "5"}]}]
    (tmp_path / "Phantom.json").write_text(json.dumps(rec))
    from loader.sources.phantom import read

    out = list(read(tmp_path, schema=PhantomSchema(role="role", text="text", rejected="bad"), progress=False))
    assert [(s.chosen, s.rejected) for s in out] == [("4", "5")]


def test_bad_copy_skips_counts_and_logs_each_broken_record(bad):
    samples, log, log_file = bad
    got = {(p.file, p.position, p.kind) for p in log.problems}
    assert got == BAD_RECORDS
    # The good records still load: usable totals equal the good copy's.
    for name, (_, selected) in GOOD_COUNTS.items():
        assert len(samples[name]) == selected, name
    lines = log_file.read_text().splitlines()
    assert len(lines) == 10
    assert any(line.startswith("train.jsonl:4 (line 4)") for line in lines)
    assert any(line.startswith("gllava_qa.parquet:4 (row 4)") for line in lines)
    kinds = {}
    for p in log.problems:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
    assert kinds == {"missing image": 2, "undecodable image": 2, "malformed": 4, "undecodable line": 1,
                     "over-long conversation": 1}


def test_over_long_record_kept_when_policy_relaxed():
    log = SourceLog()
    out = list(SOURCES["allava_text"].read(BAD, log, max_chars=None, progress=False))
    assert len(out) == 4 and not log.problems


def test_missing_source_file_is_reported_not_fatal(tmp_path):
    log = SourceLog()
    assert list(SOURCES["mathplus"].read(tmp_path, log, progress=False)) == []
    assert log.stats["mathplus"].missing_files == ["mathplus.parquet"]
    assert "FILES MISSING" in log.summary_line("mathplus", 304_754)


def test_selection_rule_applies_before_images(tmp_path):
    """Records excluded by a rule are not counted as missing images (their images are absent on purpose)."""
    shutil.copy(GOOD / "SMR.json", tmp_path / "SMR.json")
    log = SourceLog()
    out = list(SOURCES["smr"].read(tmp_path, log, progress=False))
    assert out == [] and log.stats["smr"].selected == 4
    assert log.stats["smr"].problems["missing image"] == 4
