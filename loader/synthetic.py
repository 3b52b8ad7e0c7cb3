"""The synthetic visual task behind the CPU quickstart and the tests: coloured shapes, questions about colour,
shape, count, position and existence, written to disk in the real layouts.

`generate(root, seed)` writes, deterministically from `seed`:

* ``root/train/``: a ShareGPT4V-format source (`sharegpt4v_mix665k_cap23k_coco-ap9k_lcs3k_sam9k_div2k.json`, read
  by `loader.sources.sharegpt4v_instruction`, mixture ``"synthetic"``) with images under `synthetic/train/`, and
  `synthetic_scenes.jsonl`, the objects of every training image (`read_scenes`; labels for
  `trainer.vision_pretrain`);
* ``root/eval/`` (an `Evaluation_Dataset_Path`): POPE (`POPE/coco_pope_{random,popular,adversarial}.json`, images in
  `coco2014/val2014/`) and MMBench dev (`MMBench/mmbench_dev_20230712.tsv`, base64 images, circular copies at
  ``index + k * 1_000_000``) with exactly the files and fields of the eval fixtures.

Each image holds 2-4 large shapes, one per quadrant, each of a different colour and a different shape, so every
question has one answer. Training turns use the evaluation prompts (the authors' suffixes, eval spec §0.2) and the
exact short answers ("Yes"/"No", an option letter), plus caption turns and, as an easier auxiliary signal for models
trained from scratch, the same questions answered by the attribute word itself. POPE negatives per split: random = a
pair whose colour or shape is absent from the image; popular = an absent colour with a shape that is present;
adversarial = a present colour with the present shape of another object (the binding case, the hardest, as
adversarial POPE is). Training questions draw negatives of all three kinds. Labels align position by position across
the splits.
"""
from __future__ import annotations

import base64
import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

COLOURS = {"red": (220, 30, 30), "green": (30, 170, 50), "blue": (40, 80, 235), "yellow": (240, 215, 20),
           "purple": (150, 50, 200), "white": (245, 245, 245)}
SHAPES = ("circle", "square", "triangle", "cross")
POSITIONS = ("top left", "top right", "bottom left", "bottom right")
BACKGROUND = (45, 45, 45)
LETTERS = "ABCD"
POPE_SUFFIX = "\nAnswer the question using a single word or phrase."
MC_SUFFIX = "\nAnswer with the option's letter from the given choices directly."
TRAIN_FILE = "sharegpt4v_mix665k_cap23k_coco-ap9k_lcs3k_sam9k_div2k.json"
SCENES_FILE = "synthetic_scenes.jsonl"  # beside TRAIN_FILE: the objects of every training image
POPE_SPLITS = ("random", "popular", "adversarial")
# MMBench category / l2-category per question type (names from the MMBench taxonomy, as in the eval fixture).
MC_CATEGORY = {"colour": ("attribute_recognition", "finegrained_perception (instance-level)"),
               "shape": ("object_localization", "finegrained_perception (instance-level)"),
               "count": ("image_scene", "coarse_perception"),
               "position": ("spatial_relationship", "relation_reasoning")}
MC_TYPES = tuple(MC_CATEGORY)


@dataclass(frozen=True)
class Obj:
    colour: str
    shape: str
    position: str


@dataclass
class SyntheticTask:
    """Where `generate` wrote the task, and how many of each."""

    root: Path
    train_root: Path
    eval_root: Path
    n_train_records: int
    n_pope_per_split: int
    n_mmbench_questions: int
    n_mmbench_rows: int


def sample_scene(rng: np.random.Generator, min_objects: int = 2, max_objects: int = 4) -> list[Obj]:
    """2-4 objects with distinct colours, distinct shapes and distinct quadrants."""
    n = int(rng.integers(min_objects, max_objects + 1))
    colours = rng.choice(list(COLOURS), size=n, replace=False)
    shapes = rng.choice(SHAPES, size=n, replace=False)
    positions = rng.choice(POSITIONS, size=n, replace=False)
    return [Obj(str(c), str(s), str(p)) for c, s, p in zip(colours, shapes, positions)]


def render(objs: list[Obj], rng: np.random.Generator, size: int = 64) -> "Image.Image":
    """Draw the scene: each shape fills 60-90% of its quadrant, jittered inside it."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(img)
    cell = size / 2
    for o in objs:
        q = POSITIONS.index(o.position)
        cx0, cy0 = (q % 2) * cell, (q // 2) * cell
        side = cell * float(rng.uniform(0.6, 0.9))
        x0 = cx0 + float(rng.uniform(0, cell - side))
        y0 = cy0 + float(rng.uniform(0, cell - side))
        x1, y1 = x0 + side, y0 + side
        fill = COLOURS[o.colour]
        if o.shape == "circle":
            draw.ellipse([x0, y0, x1, y1], fill=fill)
        elif o.shape == "square":
            draw.rectangle([x0, y0, x1, y1], fill=fill)
        elif o.shape == "triangle":
            draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=fill)
        else:  # cross: two bars of a third of the side
            t = side / 3
            draw.rectangle([x0 + t, y0, x1 - t, y1], fill=fill)
            draw.rectangle([x0, y0 + t, x1, y1 - t], fill=fill)
    return img


def jpeg_bytes(img: "Image.Image") -> bytes:
    """JPEG-encode an image (the layouts' `.jpg` files and the TSV's base64 column)."""
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=95, subsampling=0)  # 4:4:4 keeps the colours of small shapes clean
    return buf.getvalue()


def caption(objs: list[Obj], order_rng: np.random.Generator | None = None) -> str:
    """The caption turn's answer: every shape with its colour and quadrant, in reading order (in a random order
    drawn from `order_rng` when given)."""
    if order_rng is None:
        order = sorted(objs, key=lambda o: POSITIONS.index(o.position))
    else:
        order = [objs[int(k)] for k in order_rng.permutation(len(objs))]
    parts = [f"a {o.colour} {o.shape} at the {o.position}" for o in order]
    listed = ", ".join(parts[:-1]) + f" and {parts[-1]}"
    return f"There are {len(objs)} shapes: {listed}."


def negative(objs: list[Obj], rng: np.random.Generator, kind: str) -> tuple[str, str]:
    """An absent (colour, shape) pair of the given POPE negative kind."""
    present = {(o.colour, o.shape) for o in objs}
    colours, shapes = {o.colour for o in objs}, {o.shape for o in objs}
    pairs = [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in present]
    if kind == "random":
        pairs = [(c, s) for c, s in pairs if c not in colours or s not in shapes]
    elif kind == "popular":
        pairs = [(c, s) for c, s in pairs if c not in colours and s in shapes]
    elif kind == "adversarial":
        pairs = [(c, s) for c, s in pairs if c in colours and s in shapes]
    else:
        raise ValueError(f"unknown POPE negative kind {kind!r}; use one of {POPE_SPLITS}")
    return pairs[int(rng.integers(len(pairs)))]


def existence_question(colour: str, shape: str) -> str:
    """The POPE question (without the prompt suffix)."""
    return f"Is there a {colour} {shape} in the image?"


def retrieval_question(target: Obj, ask_colour: bool) -> tuple[str, str]:
    """ "What colour is the <shape>?" (ask_colour) or "What shape is the <colour> object?", and the answer word:
    the object found by one attribute (unique in a scene), the other read off it."""
    if ask_colour:
        return f"What colour is the {target.shape}?", target.colour
    return f"What shape is the {target.colour} object?", target.shape


def where_question(target: Obj) -> tuple[str, str]:
    """ "Where is the <colour> <shape>?" and the answer: the object's quadrant ("top left", ...)."""
    return f"Where is the {target.colour} {target.shape}?", target.position


def mc_question(objs: list[Obj], rng: np.random.Generator, qtype: str, letter: int) -> tuple[str, list[str], int]:
    """(question, 4 options, answer index) with the right option placed at `letter`."""
    target = objs[int(rng.integers(len(objs)))]
    if qtype == "colour":
        q, right = retrieval_question(target, ask_colour=True)
        pool = [c for c in COLOURS if c != right]
    elif qtype == "shape":
        q, right = retrieval_question(target, ask_colour=False)
        pool = [s for s in SHAPES if s != right]
    elif qtype == "count":
        q, right = "How many shapes are in the image?", str(len(objs))
        pool = [str(k) for k in range(1, 6) if k != len(objs)]
    else:
        q, right = where_question(target)
        pool = [p for p in POSITIONS if p != right]
    distractors = [str(x) for x in rng.choice(pool, size=3, replace=False)]
    rng.shuffle(distractors)
    options = distractors[:letter] + [right] + distractors[letter:]
    return q, options, letter


def mc_prompt(question: str, options: list[str]) -> str:
    """The authors' MMBench prompt body (hint empty): question, lettered options, suffix (eval spec §5)."""
    return question + "\n" + "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options)) + MC_SUFFIX


def short_question(objs: list[Obj], rng: np.random.Generator) -> tuple[str, str]:
    """A question answered by a word or phrase (auxiliary training signal: the attribute itself, no option
    letter to match); also "What is at the <position>?", conditioned only on a place in the image."""
    target = objs[int(rng.integers(len(objs)))]
    kind = int(rng.integers(5))
    if kind in (0, 1):
        return retrieval_question(target, ask_colour=kind == 0)
    if kind == 2:
        return "How many shapes are in the image?", str(len(objs))
    if kind == 3:
        return where_question(target)
    where = POSITIONS[int(rng.integers(4))]
    here = [o for o in objs if o.position == where]
    return f"What is at the {where}?", f"a {here[0].colour} {here[0].shape}" if here else "nothing"


CURRICULUM_KINDS = ("caption", "retrieval", "where", "existence", "short", "mc", "lookup", "mix")


def _phase_error(part: str) -> ValueError:
    return ValueError(f"curriculum phase {part!r}: write KIND:N_RECORDS with KIND one of {CURRICULUM_KINDS} (or a "
                      f"weighted mix such as existence*70+retrieval*30) and N_RECORDS >= 1, phases separated by "
                      f"commas (e.g. 'caption:4800,mix:16000')")


def parse_curriculum(spec: str) -> list[tuple[str, int]]:
    """ "caption:4800,existence:17600,mix:16000" -> [(kind, n_records), ...] (kinds: CURRICULUM_KINDS). A phase may
    mix kinds record by record: "existence*70+retrieval*30:8000" (weights, default 1; see `phase_kinds`)."""
    phases = []
    for part in (p.strip() for p in spec.split(",")):
        kind, sep, count = part.partition(":")
        if not sep or not count.isdigit() or int(count) < 1:
            raise _phase_error(part)
        phase_kinds(kind, part)
        phases.append((kind, int(count)))
    if not phases:
        raise ValueError("empty curriculum; e.g. 'caption:4800,existence:17600,mix:16000'")
    return phases


def phase_kinds(kind: str, part: str | None = None) -> tuple[list[str], list[float]]:
    """ "existence*70+retrieval*30" -> (["existence", "retrieval"], [0.7, 0.3]); "caption" -> (["caption"], [1.0])."""
    names, weights = [], []
    for item in kind.split("+"):
        name, star, weight = item.partition("*")
        ok = name in CURRICULUM_KINDS and (not star or weight.replace(".", "", 1).isdigit())
        if not ok or (star and float(weight) <= 0):
            raise _phase_error(part or kind)
        names.append(name)
        weights.append(float(weight) if star else 1.0)
    total = sum(weights)
    return names, [w / total for w in weights]


def short_turn(objs: list[Obj], rng: np.random.Generator) -> tuple[str, str]:
    """A short-answer question (with the POPE suffix) and its word/phrase answer."""
    q, a = short_question(objs, rng)
    return q + POPE_SUFFIX, a


def retrieval_turn(objs: list[Obj], rng: np.random.Generator) -> tuple[str, str]:
    """ "What colour is the <shape>?" or "What shape is the <colour> object?" (with the POPE suffix): one object
    found by one attribute, the other attribute read off it. A curriculum phase of these before the existence
    questions is what lets the tiny model bind colour and shape (docs/quickstart.md, "Diagnosis" 5)."""
    target = objs[int(rng.integers(len(objs)))]
    q, a = retrieval_question(target, ask_colour=rng.random() < 0.5)
    return q + POPE_SUFFIX, a


def where_turn(objs: list[Obj], rng: np.random.Generator) -> tuple[str, str]:
    """ "Where is the <colour> <shape>?" (with the POPE suffix), answered with its quadrant ("top left", ...): the
    object found by its attributes, its place read off the image token that shows it: the read-out the
    MMBench-layout position questions need (docs/quickstart.md, "Diagnosis" 7: in the probe they stayed at chance
    with and without a phase of these)."""
    q, a = where_question(objs[int(rng.integers(len(objs)))])
    return q + POPE_SUFFIX, a


def existence_turn(objs: list[Obj], rng: np.random.Generator) -> tuple[str, str]:
    """Balanced yes/no existence question, negatives of all three POPE kinds."""
    if rng.random() < 0.5:
        o = objs[int(rng.integers(len(objs)))]
        return existence_question(o.colour, o.shape) + POPE_SUFFIX, "Yes"
    c, s = negative(objs, rng, POPE_SPLITS[int(rng.integers(3))])
    return existence_question(c, s) + POPE_SUFFIX, "No"


def random_mc_question(objs: list[Obj], rng: np.random.Generator,
                       types: tuple[str, ...] = MC_TYPES) -> tuple[str, list[str], int]:
    """`mc_question` of a random type among `types` with the right option at a random letter."""
    qtype = types[int(rng.integers(len(types)))]
    return mc_question(objs, rng, qtype, int(rng.integers(4)))


def mc_turn(objs: list[Obj], rng: np.random.Generator, types: tuple[str, ...] = MC_TYPES) -> tuple[str, str]:
    """An MMBench-layout question of a random type (among `types`) with the right option at a random letter, and
    its letter."""
    q, options, ans = random_mc_question(objs, rng, types)
    return mc_prompt(q, options), LETTERS[ans]


def lookup_turn(objs: list[Obj], rng: np.random.Generator) -> tuple[str, str]:
    """The option-letter hop alone, in the MMBench layout: "Which option is <word>?" over the options of an
    MMBench-layout question about the scene (the word is one of them), answered with its letter. The answer needs
    no look at the image: it trains matching a word to an option and reading that option's letter, the step the
    MMBench-layout questions add to retrieval (docs/quickstart.md, "Diagnosis" 6)."""
    _, options, ans = random_mc_question(objs, rng)
    return mc_prompt(f"Which option is {options[ans]}?", options), LETTERS[ans]


def _train_turns(objs: list[Obj], rng: np.random.Generator, n_qa: int, caption_prob: float,
                 short_answer_prob: float) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    with_caption = rng.random() < caption_prob
    for _ in range(n_qa):
        u = rng.random()
        if u < short_answer_prob:
            pairs.append(short_turn(objs, rng))
        elif u < short_answer_prob + (1 - short_answer_prob) / 2:
            pairs.append(existence_turn(objs, rng))
        else:
            pairs.append(mc_turn(objs, rng))
    if with_caption:
        # Last, so that no question can be answered by copying from a caption earlier in the conversation.
        pairs.append(("Describe the image briefly.", caption(objs)))
    return pairs


def _curriculum_turn(kind: str, objs: list[Obj], rng: np.random.Generator, qa_per_image: int, caption_prob: float,
                     short_answer_prob: float) -> tuple[str, str]:
    """One single-turn record of a curriculum phase; "mix" draws from the same distribution as the default
    source (a caption with probability caption_prob / (qa_per_image + caption_prob), else one question)."""
    if kind == "mix":
        if rng.random() < caption_prob / (qa_per_image + caption_prob):
            kind = "caption"
        else:
            return _train_turns(objs, rng, 1, 0.0, short_answer_prob)[0]
    if kind == "caption":
        return "Describe the image briefly.", caption(objs)
    if kind == "existence":
        return existence_turn(objs, rng)
    if kind == "retrieval":
        return retrieval_turn(objs, rng)
    if kind == "short":
        return short_turn(objs, rng)
    if kind == "lookup":
        return lookup_turn(objs, rng)
    if kind == "where":
        return where_turn(objs, rng)
    return mc_turn(objs, rng)


def _record(rel: str, record_id: str, conv: list[tuple[str, str]]) -> dict[str, Any]:
    turns = []
    for k, (q, a) in enumerate(conv):
        turns += [{"from": "human", "value": ("<image>\n" + q) if k == 0 else q}, {"from": "gpt", "value": a}]
    return {"id": record_id, "image": rel, "conversations": turns}


def _train_image(i: int) -> str:
    """Path of training image `i`, relative to the training root (as the records and the scene list name it)."""
    return f"synthetic/train/{i:06d}.jpg"


def _write_train(root: Path, rng: np.random.Generator, n_train: int, image_size: int, qa_per_image: int,
                 caption_prob: float, short_answer_prob: float, multi_turn: bool,
                 curriculum: list[tuple[str, int]] | None = None) -> int:
    (root / "synthetic" / "train").mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    scenes = []
    for i in range(n_train):
        objs = sample_scene(rng)
        scenes.append(objs)
        rel = _train_image(i)
        (root / rel).write_bytes(jpeg_bytes(render(objs, rng, image_size)))
        if curriculum:
            continue
        pairs = _train_turns(objs, rng, qa_per_image, caption_prob, short_answer_prob)
        groups = [pairs] if multi_turn else [[p] for p in pairs]
        for g, conv in enumerate(groups):
            records.append(_record(rel, f"synthetic_{i:06d}" + ("" if multi_turn else f"_{g}"), conv))
    # A curriculum: phase after phase, each record a single question about an image drawn from the pool, in the
    # order a run with data.shuffle=false reads them.
    for phase, count in curriculum or []:
        names, weights = phase_kinds(phase)
        for _ in range(count):
            i = int(rng.integers(n_train))
            kind = names[0] if len(names) == 1 else names[int(rng.choice(len(names), p=weights))]
            conv = [_curriculum_turn(kind, scenes[i], rng, qa_per_image, caption_prob, short_answer_prob)]
            records.append(_record(_train_image(i), f"synthetic_{len(records):07d}_{kind}", conv))
    # What each pool image shows (for `trainer.vision_pretrain`, the stand-in for a pretrained vision encoder).
    with (root / SCENES_FILE).open("w", encoding="utf-8") as fh:
        for i, objs in enumerate(scenes):
            fh.write(json.dumps({"image": _train_image(i), "objects": [asdict(o) for o in objs]}) + "\n")
    # A JSON array like the real file, one record per line (readable, and the index scanner's usual case).
    (root / TRAIN_FILE).write_text("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n", encoding="utf-8")
    return len(records)


def _write_pope(root: Path, rng: np.random.Generator, scenes: list[list[Obj]], yes_per_image: int) -> int:
    """Per image `yes_per_image` yes- and as many no-questions, alternating; same labels in every split."""
    rows: dict[str, list[dict]] = {s: [] for s in POPE_SPLITS}
    for i, objs in enumerate(scenes):
        image = f"COCO_val2014_{i:012d}.jpg"
        yes = [objs[int(j)] for j in rng.choice(len(objs), size=min(yes_per_image, len(objs)), replace=False)]
        for o in yes:
            negs = {s: negative(objs, rng, s) for s in POPE_SPLITS}
            for split in POPE_SPLITS:
                for text, label in ((existence_question(o.colour, o.shape), "yes"),
                                    (existence_question(*negs[split]), "no")):
                    rows[split].append({"question_id": len(rows[split]) + 1, "image": image, "text": text,
                                        "label": label})
    (root / "POPE").mkdir(parents=True, exist_ok=True)
    for split, lines in rows.items():
        with (root / "POPE" / f"coco_pope_{split}.json").open("w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(json.dumps(line) + "\n")
    return len(rows["random"])


def _write_mmbench(root: Path, rng: np.random.Generator, scenes: list[list[Obj]], images: list[bytes],
                   circular: bool) -> tuple[int, int]:
    header = ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image", "source",
              "l2-category", "comment", "split"]
    rows = []
    for i, objs in enumerate(scenes):
        qtype = MC_TYPES[i % len(MC_TYPES)]
        # Every 4 consecutive questions use each letter once, and each (type, letter) pair recurs every 16.
        letter = (i + i // len(MC_TYPES)) % 4
        q, options, ans = mc_question(objs, rng, qtype, letter)
        cat, l2 = MC_CATEGORY[qtype]
        b64 = base64.b64encode(images[i]).decode("ascii")
        for k in range(4 if circular else 1):
            rot = options[k:] + options[:k]  # copy k: options rotated, answer letter moved (eval spec §5)
            rows.append([str(i + k * 1_000_000), q, "", *rot, LETTERS[(ans - k) % 4], cat, b64, "synthetic", l2, "",
                         "dev"])
    (root / "MMBench").mkdir(parents=True, exist_ok=True)
    with (root / "MMBench" / "mmbench_dev_20230712.tsv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return len(scenes), len(rows)


def read_scenes(train_root: str | Path) -> list[tuple[Path, list[Obj]]]:
    """(image path, objects) of every training image `generate` wrote under `train_root`."""
    path = Path(train_root) / SCENES_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: it is written by loader.synthetic.generate (since the vision "
                                "pretraining was added); delete the synthetic directory to have it regenerated")
    out = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            try:
                row = json.loads(line)
                out.append((Path(train_root) / row["image"], [Obj(**o) for o in row["objects"]]))
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise ValueError(f"{path}:{line_no}: not a scene line ({err}); regenerate the synthetic task") from err
    return out


def generate(root: str | Path, seed: int = 0, n_train: int = 4000, n_eval: int = 100, image_size: int = 64,
             qa_per_image: int = 6, caption_prob: float = 0.5, short_answer_prob: float = 0.2,
             multi_turn: bool = True, pope_yes_per_image: int = 2, circular: bool = True,
             curriculum: str | None = None) -> SyntheticTask:
    """Write the synthetic task under `root` (see the module docstring); deterministic from `seed`.

    `n_train` training images (each one conversation of `qa_per_image` questions, plus a caption turn with
    probability `caption_prob`, or one record per question when `multi_turn` is False); a share
    `short_answer_prob` of the questions is asked for a word/phrase answer instead of Yes/No or a letter;
    `n_eval` evaluation images for POPE and as many MMBench questions (x4 rows when
    `circular`). Images are `image_size` pixels square.

    `curriculum` ("caption:4800,existence:17600,mix:16000", see `parse_curriculum`) writes, instead, phase after
    phase the given numbers of single-turn records about images drawn from the `n_train` pictures: captions,
    retrieval questions, "Where is the <colour> <shape>?" (`where_turn`), existence questions, short answers,
    MMBench-layout questions, option-letter lookups ("Which option is <word>?", `lookup_turn`), "mix" (the default
    source's distribution), or a weighted mix of these drawn record by record ("existence*60+retrieval*25+mc*15:N").
    Train on it with `data.shuffle=false` to see the phases in order.
    """
    phases = parse_curriculum(curriculum) if curriculum else None
    root = Path(root)
    if image_size < 16:
        raise ValueError(f"image_size={image_size} is too small to draw four shapes; use 16 or more")
    train_root, eval_root = root / "train", root / "eval"
    n_records = _write_train(train_root, np.random.default_rng([seed, 0]), n_train, image_size, qa_per_image,
                             caption_prob, short_answer_prob, multi_turn, phases)
    rng = np.random.default_rng([seed, 1])
    pope_scenes = [sample_scene(rng) for _ in range(n_eval)]
    (eval_root / "coco2014" / "val2014").mkdir(parents=True, exist_ok=True)
    for i, objs in enumerate(pope_scenes):
        (eval_root / "coco2014" / "val2014" / f"COCO_val2014_{i:012d}.jpg").write_bytes(
            jpeg_bytes(render(objs, rng, image_size)))
    n_pope = _write_pope(eval_root, rng, pope_scenes, pope_yes_per_image)
    rng = np.random.default_rng([seed, 2])
    mm_scenes = [sample_scene(rng) for _ in range(n_eval)]
    mm_images = [jpeg_bytes(render(objs, rng, image_size)) for objs in mm_scenes]
    n_q, n_rows = _write_mmbench(eval_root, rng, mm_scenes, mm_images, circular)
    task = SyntheticTask(root, train_root, eval_root, n_records, n_pope, n_q, n_rows)
    manifest = {"seed": seed, "n_train": n_train, "n_eval": n_eval, "image_size": image_size,
                "qa_per_image": qa_per_image, "caption_prob": caption_prob, "short_answer_prob": short_answer_prob,
                "multi_turn": multi_turn, "curriculum": curriculum,
                "pope_yes_per_image": pope_yes_per_image, "circular": circular,
                **{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(task).items() if k != "root"}}
    manifest = {k: (str(Path(v).relative_to(root)) if k.endswith("_root") else v) for k, v in manifest.items()}
    (root / "synthetic.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return task
