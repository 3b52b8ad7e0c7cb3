"""Readers of the open benchmarks: fixture layouts load with the right ids and fields; a missing file or folder
raises an error naming the expected path and the benchmark's layout tree."""
from __future__ import annotations

import json
import shutil

import pytest

from eval.registry import get_benchmark
from loader.benchmarks.common import BenchmarkLayoutError
from loader.benchmarks.mmvet import split_v2_question
from tests.test_open_support import OPEN_BENCHMARKS, fixture_dir, load_predictions

COUNTS = {"mathvista": 24, "mathverse": 24, "visualwebbench": 24, "mm-vet": 16, "mm-vet-v2": 12,
          "llava-bench-in-the-wild": 12, "llava-bench-wilder": 8}


@pytest.mark.parametrize("name", OPEN_BENCHMARKS)
def test_fixture_items_match_the_prediction_ids(name: str) -> None:
    items = get_benchmark(name).read(fixture_dir(name) / "data")
    assert len(items) == COUNTS[name]
    assert {i.id for i in items} == set(load_predictions(name))
    assert all(i.benchmark == name and i.images for i in items if not i.id.startswith("testmini_text_only"))


@pytest.mark.parametrize("name", OPEN_BENCHMARKS)
def test_an_empty_data_root_names_the_expected_path_and_layout(name: str, tmp_path) -> None:
    benchmark = get_benchmark(name)
    with pytest.raises(BenchmarkLayoutError) as info:
        benchmark.read(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message and benchmark.layout.splitlines()[0].split()[0] in message
    assert benchmark.layout.strip() in message


@pytest.mark.parametrize("name, relative", [
    ("mathvista", "MathVista/images/7.jpg"),
    ("mathverse", "MathVerse/testmini_text_only.json"),
    ("visualwebbench", "VisualWebBench/webqa/test-00000-of-00001.parquet"),
    ("mm-vet", "mm-vet/images/v1_3.png"),
    ("mm-vet-v2", "mm-vet-v2/images/v2_7.jpeg"),
    ("llava-bench-in-the-wild", "llava-bench-in-the-wild/context.jsonl"),
])
def test_a_single_missing_file_is_named(name: str, relative: str, tmp_path) -> None:
    root = tmp_path / "data"
    shutil.copytree(fixture_dir(name) / "data", root)
    (root / relative).unlink()
    with pytest.raises(BenchmarkLayoutError, match="is missing") as info:
        get_benchmark(name).read(root)
    assert str(root / relative) in str(info.value)


def test_mathvista_record_fields() -> None:
    items = {i.id: i for i in get_benchmark("mathvista").read(fixture_dir("mathvista") / "data")}
    assert items["22"].meta["precision"] == 2.0 and items["22"].meta["answer_type"] == "float"
    assert items["9"].meta["precision"] is None and items["9"].options is None
    assert items["6"].options == ["A", "B", "C", "D", "E"]
    assert items["1"].question.startswith("Hint: Please answer the question and provide the correct option letter")
    assert items["1"].images[0].endswith("MathVista/images/1.jpg")


def test_mathverse_ids_and_text_only_records() -> None:
    items = get_benchmark("mathverse").read(fixture_dir("mathverse") / "data")
    text_only = [i for i in items if i.meta["file"] == "testmini_text_only"]
    assert [i.id for i in text_only] == [f"testmini_text_only/{k}" for k in range(1, 5)]
    assert all(i.images == [] and i.meta["problem_version"] == "Text Only" for i in text_only)
    vision_only = [i for i in items if i.meta["problem_version"] == "Vision Only"]
    assert all(i.meta["raw_question"] == "" and i.question.startswith("According to the question shown in the image")
               for i in vision_only)


def test_mmvet_v2_image_segments_and_canvas() -> None:
    assert split_v2_question("Image 1: <IMG>a.png<IMG> Image 2: <IMG>b.jpeg<IMG> What moved?") == \
        ("Image 1:  Image 2:  What moved?", ["a.png", "b.jpeg"])
    items = {i.id: i for i in get_benchmark("mm-vet-v2").read(fixture_dir("mm-vet-v2") / "data")}
    assert items["v2_7"].meta["image_names"] == ["v2_7.jpeg"] and "jpeg" not in items["v2_7"].question
    canvas = items["v2_11"].images[0]  # three slides pasted left to right with 10 px gaps
    from PIL import Image

    parts = [Image.open(fixture_dir("mm-vet-v2") / "data" / "mm-vet-v2" / "images" / f"v2_11_{k}.png")
             for k in range(3)]
    assert canvas.size == (sum(p.width for p in parts) + 20, max(p.height for p in parts))


def test_llava_readers_pair_references_and_refuse_misaligned_files(tmp_path) -> None:
    items = get_benchmark("llava-bench-in-the-wild").read(fixture_dir("llava-bench-in-the-wild") / "data")
    by_id = {i.id: i for i in items}
    assert by_id["0"].answer == "The bus is red." and by_id["0"].meta["category"] == "llava_bench_conv"
    assert "\n" in by_id["2"].meta["caption"]  # list caption joined with newlines
    root = tmp_path / "data"
    shutil.copytree(fixture_dir("llava-bench-in-the-wild") / "data", root)
    answers = root / "llava-bench-in-the-wild" / "answers_gpt4.jsonl"
    lines = answers.read_text().splitlines()
    answers.write_text("\n".join([lines[1], lines[0], *lines[2:]]) + "\n")
    with pytest.raises(ValueError, match="line 1: questions.jsonl has question_id 0 but answers_gpt4.jsonl has 1"):
        get_benchmark("llava-bench-in-the-wild").read(root)
    wilder = get_benchmark("llava-bench-wilder").read(fixture_dir("llava-bench-wilder") / "data")
    derived = [json.loads(x) for x in (fixture_dir("llava-bench-wilder") / "derived" / "questions.jsonl")
               .read_text().splitlines()]
    assert [(i.id, i.question) for i in wilder] == [(d["question_id"], d["text"]) for d in derived]
    assert all(isinstance(i.images[0], bytes) for i in wilder)
