"""Does the tiny model learn a question-conditioned image question from scratch? A diagnostic for the quickstart.

    python bench/learnability_probe.py                          # tiny preset as configured (llm_init_scale=2)
    python bench/learnability_probe.py --init-scale 0           # the stock N(0, 0.02) initialisation
    python bench/learnability_probe.py --task pair              # "Is there a <colour> <shape>?" (POPE-style)

Trains the `tiny` model (TroL + Phantom unless --plain) on freshly rendered synthetic scenes with one question
per sample — `red`: "Is there a red object in the image?" (nothing to condition on), `colour`: "Is there a
<colour> object in the image?", `pair`: "Is there a <colour> <shape> in the
image?" — balanced Yes/No, batch 32, AdamW, and prints the mean loss every 25 steps. Chance is ln 2 / 2 = 0.347
(the answer token at ln 2, the end-of-turn token free); a loss well below that means the answers use the image.
"""
from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loader.collate import Collator  # noqa: E402
from loader.records import Sample, Turn  # noqa: E402
from loader.synthetic import COLOURS, POSITIONS, SHAPES, Obj, render  # noqa: E402
from model import build_model  # noqa: E402
from model.processing import Processor  # noqa: E402
from model.tokenizer import build_tiny_tokenizer, model_config_ids  # noqa: E402

SUFFIX = "\nAnswer the question using a single word or phrase."


def make_sample(task: str, rng: np.random.Generator) -> Sample:
    n = int(rng.integers(2, 5))
    objs = [Obj(str(c), str(s), str(p)) for c, s, p in zip(rng.choice(list(COLOURS), n, replace=False),
                                                            rng.choice(SHAPES, n, replace=False),
                                                            rng.choice(POSITIONS, n, replace=False))]
    yes = rng.random() < 0.5
    if task == "red":  # nothing in the question to condition on: is red anywhere?
        absent = [c for c in COLOURS if c not in {o.colour for o in objs}]
        swap = "red" if yes else absent[int(rng.integers(len(absent)))]
        reds = [k for k, o in enumerate(objs) if o.colour == "red"] or ([0] if yes else [])
        for k in reds:
            objs[k] = Obj(swap, objs[k].shape, objs[k].position)
        question = "Is there a red object in the image?"
    elif task == "colour":
        present = {o.colour for o in objs}
        pool = sorted(present) if yes else [c for c in COLOURS if c not in present]
        question = f"Is there a {pool[int(rng.integers(len(pool)))]} object in the image?"
    else:
        present = {(o.colour, o.shape) for o in objs}
        pool = sorted(present) if yes else [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in present]
        c, s = pool[int(rng.integers(len(pool)))]
        question = f"Is there a {c} {s} in the image?"
    turns = [Turn("user", "<image>\n" + question + SUFFIX), Turn("assistant", "Yes" if yes else "No")]
    return Sample(id="probe", source="probe", turns=turns, images=[render(objs, rng, 64)])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=("red", "colour", "pair"), default="colour")
    ap.add_argument("--init-scale", type=float, default=None, help="llm_init_scale (default: the preset's)")
    ap.add_argument("--plain", action="store_true", help="TroL and Phantom off")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    random.seed(0)
    words = [t.content for _ in range(200) for t in make_sample(args.task, rng).turns]
    tokenizer = build_tiny_tokenizer(words + ["Describe the image briefly."], 512)
    overrides: dict = model_config_ids(tokenizer, "tiny")
    if args.init_scale is not None:
        overrides["llm_init_scale"] = args.init_scale
    if args.plain:
        overrides.update(use_trol=False, use_phantom=False)
    model = build_model("tiny", **overrides)
    model.train()
    collate = Collator(Processor(tokenizer, model.config), 96)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    losses, start = [], time.time()
    print(f"task={args.task} init_scale={model.config.llm_init_scale} plain={args.plain} lr={args.lr} "
          f"batch={args.batch}; chance loss {math.log(2) / 2:.3f}")
    for step in range(1, args.steps + 1):
        out = model(**collate([make_sample(args.task, rng) for _ in range(args.batch)]))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
        if step % 25 == 0:
            print(f"step {step:5d}  loss {sum(losses[-25:]) / 25:.4f}  ({time.time() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
