"""The synthetic shapes task: determinism, the real layouts (same files and fields as the eval fixtures), balanced
answers, and labels that follow from the pixels (a hand-written pixel oracle answers every question)."""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from loader.synthetic import COLOURS, LETTERS, MC_SUFFIX, POPE_SPLITS, POPE_SUFFIX, POSITIONS, generate
from tests.conftest import FIXTURES

POPE_FIX = FIXTURES / "eval" / "pope" / "data"
MMB_FIX = FIXTURES / "eval" / "mmbench-dev-en" / "data"


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("syn") / "a", seed=0, n_train=60, n_eval=40)


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def read_tsv(path: Path) -> list[dict]:
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_deterministic_from_seed(task, tmp_path):
    again = generate(tmp_path / "b", seed=0, n_train=60, n_eval=40)
    other = generate(tmp_path / "c", seed=1, n_train=60, n_eval=40)
    assert tree_digest(task.root) == tree_digest(again.root) != tree_digest(other.root)


def test_eval_layout_matches_the_fixtures(task):
    ev = task.eval_root
    for split in POPE_SPLITS:
        name = f"POPE/coco_pope_{split}.json"
        mine, ref = read_jsonl(ev / name), read_jsonl(POPE_FIX / name)
        assert set(mine[0]) == set(ref[0]) and [type(v) for v in mine[0].values()] == [type(ref[0][k]) for k in mine[0]]
        assert [r["question_id"] for r in mine] == list(range(1, len(mine) + 1))
        for r in mine:
            assert (ev / "coco2014" / "val2014" / r["image"]).is_file()
            assert re.fullmatch(r"COCO_val2014_\d{12}\.jpg", r["image"]) and r["label"] in ("yes", "no")
    mine = read_tsv(ev / "MMBench" / "mmbench_dev_20230712.tsv")
    ref = read_tsv(MMB_FIX / "MMBench" / "mmbench_dev_20230712.tsv")
    assert list(mine[0]) == list(ref[0])
    from PIL import Image

    Image.open(io.BytesIO(base64.b64decode(mine[0]["image"]))).verify()


def test_pope_balanced_and_aligned_across_splits(task):
    splits = {s: read_jsonl(task.eval_root / f"POPE/coco_pope_{s}.json") for s in POPE_SPLITS}
    labels = {s: [r["label"] for r in rows] for s, rows in splits.items()}
    assert labels["random"] == labels["popular"] == labels["adversarial"]
    assert labels["random"].count("yes") == labels["random"].count("no")
    assert all(re.fullmatch(r"Is there a \w+ \w+ in the image\?", r["text"]) for r in splits["random"])


def test_mmbench_letters_balanced_and_circular(task):
    rows = read_tsv(task.eval_root / "MMBench" / "mmbench_dev_20230712.tsv")
    base = [r for r in rows if int(r["index"]) < 1_000_000]
    assert len(base) == 40 and len(rows) == 160
    counts = {L: sum(r["answer"] == L for r in base) for L in LETTERS}
    assert counts == {L: 10 for L in LETTERS}
    by_index = {int(r["index"]): r for r in rows}
    for r in base:
        i = int(r["index"])
        right = r[r["answer"]]
        for k in range(1, 4):
            copy = by_index[i + k * 1_000_000]
            assert copy[copy["answer"]] == right and copy["question"] == r["question"]
            assert [copy[L] for L in LETTERS] == [r[L] for L in LETTERS][k:] + [r[L] for L in LETTERS][:k]
    assert {r["category"] for r in base} == {"attribute_recognition", "object_localization", "image_scene",
                                             "spatial_relationship"}


# --- a pixel oracle: if it answers everything, the labels are consistent with the images ----------------------
def detect(img) -> dict[tuple[str, str], str]:
    a = np.asarray(img.convert("RGB")).astype(int)
    h, w, _ = a.shape
    found = {}
    for colour, rgb in COLOURS.items():
        mask = np.abs(a - np.asarray(rgb)).sum(-1) < 90
        if mask.sum() < 12:
            continue
        ys, xs = np.nonzero(mask)
        box = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        fill = box.mean()
        if fill > 0.92:
            shape = "square"
        elif fill > 0.68:
            shape = "circle"
        else:  # triangle: full bottom row; cross: only the middle third of it
            shape = "triangle" if box[-1].mean() > 0.6 else "cross"
        cy, cx = ys.mean() / h, xs.mean() / w
        found[(colour, shape)] = POSITIONS[(cy >= 0.5) * 2 + (cx >= 0.5)]
    return found


def oracle_short(question: str, objs: dict) -> str:
    """The answer word/phrase the pixels give."""
    if m := re.fullmatch(r"What is at the (.+)\?", question):
        here = [f"a {c} {s}" for (c, s), where in objs.items() if where == m[1]]
        return here[0] if here else "nothing"
    if m := re.fullmatch(r"What colour is the (\w+)\?", question):
        return next(c for c, s in objs if s == m[1])
    if m := re.fullmatch(r"What shape is the (\w+) object\?", question):
        return next(s for c, s in objs if c == m[1])
    if question == "How many shapes are in the image?":
        return str(len(objs))
    m = re.fullmatch(r"Where is the (\w+) (\w+)\?", question)
    return objs[(m[1], m[2])]


def oracle_mc(question: str, options: list[str], objs: dict) -> str:
    return LETTERS[options.index(oracle_short(question, objs))]


def test_pixel_oracle_answers_every_eval_question(task):
    from PIL import Image

    for split in POPE_SPLITS:
        for r in read_jsonl(task.eval_root / f"POPE/coco_pope_{split}.json"):
            objs = detect(Image.open(task.eval_root / "coco2014" / "val2014" / r["image"]))
            m = re.fullmatch(r"Is there a (\w+) (\w+) in the image\?", r["text"])
            assert ("yes" if (m[1], m[2]) in objs else "no") == r["label"], (split, r)
    for r in read_tsv(task.eval_root / "MMBench" / "mmbench_dev_20230712.tsv"):
        objs = detect(Image.open(io.BytesIO(base64.b64decode(r["image"]))))
        assert oracle_mc(r["question"], [r[L] for L in LETTERS], objs) == r["answer"], r["index"]


def test_training_source_reads_through_the_loader(task, tmp_path):
    from loader.curriculum import build_curriculum

    ds = build_curriculum(task.train_root, "synthetic", cache_dir=tmp_path, progress=False)
    assert len(ds) == task.n_train_records == 60
    types = {"yes": 0, "no": 0, "mc": 0, "caption": 0, "short": 0}
    for i in range(len(ds)):
        s = ds[i]
        assert len(s.images) == 1 and s.images[0].size == (64, 64)
        assert s.turns[0].content.startswith("<image>\n")
        objs = detect(s.images[0])
        for q, a in zip(s.turns[::2], s.turns[1::2]):
            text = q.content.removeprefix("<image>\n")
            if text.endswith(POPE_SUFFIX) and text.startswith("Is there"):
                assert a.content in ("Yes", "No")
                m = re.fullmatch(r"Is there a (\w+) (\w+) in the image\?", text[: -len(POPE_SUFFIX)])
                assert (a.content == "Yes") == ((m[1], m[2]) in objs)
                types[a.content.lower()] += 1
            elif text.endswith(POPE_SUFFIX):  # short-answer form: the attribute itself
                assert a.content == oracle_short(text[: -len(POPE_SUFFIX)], objs)
                types["short"] += 1
            elif text.endswith(MC_SUFFIX):
                lines = text[: -len(MC_SUFFIX)].split("\n")
                options = [line[3:] for line in lines[1:]]
                assert a.content in LETTERS and a.content == oracle_mc(lines[0], options, objs)
                types["mc"] += 1
            else:
                assert a.content.startswith(f"There are {len(objs)} shapes")
                types["caption"] += 1
    assert min(types.values()) > 0
    assert abs(types["yes"] - types["no"]) < 0.25 * (types["yes"] + types["no"])


def test_parameters_change_sizes(tmp_path):
    t = generate(tmp_path / "s", seed=2, n_train=5, n_eval=4, image_size=32, qa_per_image=3, multi_turn=False)
    from PIL import Image

    rows = json.loads((t.train_root / "sharegpt4v_mix665k_cap23k_coco-ap9k_lcs3k_sam9k_div2k.json").read_text())
    assert all(len(r["conversations"]) == 2 for r in rows) and len(rows) >= 15
    assert Image.open(t.eval_root / "coco2014" / "val2014" / "COCO_val2014_000000000000.jpg").size == (32, 32)
    assert t.n_pope_per_split == 16 and t.n_mmbench_rows == 16


def test_eval_readers_of_the_eval_area_read_the_splits(task):
    """Cross-area check, active once the eval engineers' readers exist."""
    pope = pytest.importorskip("loader.benchmarks.pope")
    mmbench = pytest.importorskip("loader.benchmarks.mmbench")
    assert len(pope.read(task.eval_root)) == 3 * task.n_pope_per_split
    assert len(mmbench.read(task.eval_root)) == task.n_mmbench_rows


def test_pope_negative_kinds(task):
    from PIL import Image

    for split in POPE_SPLITS:
        for r in read_jsonl(task.eval_root / f"POPE/coco_pope_{split}.json"):
            if r["label"] != "no":
                continue
            objs = detect(Image.open(task.eval_root / "coco2014" / "val2014" / r["image"]))
            m = re.fullmatch(r"Is there a (\w+) (\w+) in the image\?", r["text"])
            colour_there = m[1] in {c for c, _ in objs}
            shape_there = m[2] in {s for _, s in objs}
            if split == "random":
                assert not (colour_there and shape_there)
            elif split == "popular":
                assert not colour_there and shape_there
            else:
                assert colour_there and shape_there


def _curriculum(tmp_path, name: str, seed: int, n_train: int, spec: str):
    """A generated curriculum (4 evaluation images) and its records read through the loader."""
    from loader.curriculum import build_curriculum

    t = generate(tmp_path / name, seed=seed, n_train=n_train, n_eval=4, curriculum=spec)
    return t, build_curriculum(t.train_root, "synthetic", cache_dir=tmp_path / "index", progress=False)


def _question_and_answer(sample) -> tuple[str, str]:
    """A single-turn record's question (without the image placeholder) and answer."""
    return sample.turns[0].content.removeprefix("<image>\n"), sample.turns[1].content


def test_curriculum_writes_its_phases_in_order(tmp_path):
    t, ds = _curriculum(tmp_path, "cur", 3, 12, "caption:5,existence:40,mix:30")
    assert len(ds) == t.n_train_records == 75
    kinds = []
    for i in range(len(ds)):
        s = ds[i]
        assert len(s.turns) == 2 and s.turns[0].content.startswith("<image>\n")
        text, answer = _question_and_answer(s)
        objs = detect(s.images[0])
        if text == "Describe the image briefly.":
            assert answer.startswith(f"There are {len(objs)} shapes")
            kinds.append("caption")
        elif text.startswith("Is there"):
            m = re.fullmatch(r"Is there a (\w+) (\w+) in the image\?", text[: -len(POPE_SUFFIX)])
            assert (answer == "Yes") == ((m[1], m[2]) in objs)
            kinds.append("existence")
        else:
            kinds.append("other")
    assert kinds[:5] == ["caption"] * 5 and kinds[5:45] == ["existence"] * 40
    assert "other" in kinds[45:] and "existence" in kinds[45:]
    manifest = json.loads((t.root / "synthetic.json").read_text())
    assert manifest["curriculum"] == "caption:5,existence:40,mix:30"


@pytest.mark.parametrize("spec", ["caption", "caption:0", "pictures:5", "caption:5,,mix:3", "", "existence*0:5",
                                  "existence*x:5", "existence+pictures*2:5", "existence*:5"])
def test_curriculum_spec_errors_say_how_to_write_it(tmp_path, spec):
    from loader.synthetic import parse_curriculum

    with pytest.raises(ValueError, match="KIND:N_RECORDS|empty curriculum"):
        parse_curriculum(spec)


def test_scenes_file_lists_what_every_training_image_shows(task):
    from PIL import Image

    from loader.synthetic import read_scenes

    scenes = read_scenes(task.train_root)
    assert len(scenes) == 60
    for path, objs in scenes:
        assert path.is_file()
        assert detect(Image.open(path)) == {(o.colour, o.shape): o.position for o in objs}


def test_scenes_file_errors_name_the_file_and_line(tmp_path):
    from loader.synthetic import SCENES_FILE, read_scenes

    with pytest.raises(FileNotFoundError, match="delete the synthetic directory"):
        read_scenes(tmp_path)
    (tmp_path / SCENES_FILE).write_text('{"image": "a.jpg", "objects": []}\n{"image": "b.jpg"}\n')
    with pytest.raises(ValueError, match=rf"{SCENES_FILE}:2"):
        read_scenes(tmp_path)


def test_curriculum_retrieval_phase_asks_one_attribute_by_the_other(tmp_path):
    _, ds = _curriculum(tmp_path, "ret", 4, 10, "retrieval:30,existence:6")
    asked = set()
    for i in range(30):
        s = ds[i]
        text, answer = _question_and_answer(s)
        assert text.endswith(POPE_SUFFIX)
        question = text[: -len(POPE_SUFFIX)]
        assert re.fullmatch(r"What (colour is the \w+|shape is the \w+ object)\?", question)
        assert answer == oracle_short(question, detect(s.images[0]))
        asked.add(question.split()[1])
    assert asked == {"colour", "shape"}
    assert _question_and_answer(ds[30])[0].startswith("Is there")


def test_weighted_phase_mixes_kinds_record_by_record(tmp_path):
    from loader.synthetic import parse_curriculum, phase_kinds

    assert parse_curriculum("retrieval:3,existence*3+mc:8") == [("retrieval", 3), ("existence*3+mc", 8)]
    assert phase_kinds("existence*3+mc") == (["existence", "mc"], [0.75, 0.25])
    _, ds = _curriculum(tmp_path, "mixed", 5, 10, "retrieval:4,existence*3+mc:200")
    kinds = []
    for i in range(4, len(ds)):
        s = ds[i]
        text, answer = _question_and_answer(s)
        if text.endswith(MC_SUFFIX):
            lines = text[: -len(MC_SUFFIX)].split("\n")
            assert answer == oracle_mc(lines[0], [line[3:] for line in lines[1:]], detect(s.images[0]))
            kinds.append("mc")
        else:
            assert text.startswith("Is there") and answer in ("Yes", "No")
            kinds.append("existence")
    assert 0.15 < kinds.count("mc") / len(kinds) < 0.35  # 0.25 expected, sd 0.03


def test_curriculum_lookup_phase_names_one_option_and_asks_its_letter(tmp_path):
    _, ds = _curriculum(tmp_path, "look", 6, 10, "lookup:80")
    letters = []
    for i in range(len(ds)):
        text, answer = _question_and_answer(ds[i])
        assert text.endswith(MC_SUFFIX)
        lines = text[: -len(MC_SUFFIX)].split("\n")
        named = re.fullmatch(r"Which option is (.+)\?", lines[0]).group(1)
        options = [line[3:] for line in lines[1:]]
        assert [line[:3] for line in lines[1:]] == [f"{x}. " for x in LETTERS] and len(set(options)) == 4
        assert options[LETTERS.index(answer)] == named  # the letter points at the named option
        letters.append(answer)
    assert set(letters) == set(LETTERS)


def test_curriculum_where_phase_asks_an_objects_place_and_the_picture_answers_it(tmp_path):
    _, ds = _curriculum(tmp_path, "where", 7, 20, "where:80")
    answers = []
    for i in range(len(ds)):
        s = ds[i]
        text, answer = _question_and_answer(s)
        m = re.fullmatch(r"Where is the (\w+) (\w+)\?", text.removesuffix(POPE_SUFFIX))
        assert text.endswith(POPE_SUFFIX) and m, text
        assert detect(s.images[0])[(m[1], m[2])] == answer  # where the picture shows that object
        answers.append(answer)
    assert set(answers) == set(POSITIONS)
