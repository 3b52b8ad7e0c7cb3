"""Does the tiny model learn a question-conditioned image question from scratch? A diagnostic for the quickstart.

    python bench/learnability_probe.py --task pair               # tiny preset as configured
    python bench/learnability_probe.py --task pair --embed-std 0 # stock (std 0.02) token embeddings
    python bench/learnability_probe.py --task pair --init-scale 0 --embed-std 0   # the stock initialisation
    python bench/learnability_probe.py --task mix --steps 800    # the quickstart's question mix
    python bench/learnability_probe.py --task shape --plain --set patch_size=8   # the 8-px patches of before
    python bench/learnability_probe.py --task caption:200,pair --steps 1200 --batch 32   # a curriculum
    python bench/learnability_probe.py --vision-pretrain 300 --task ret:600,rp30 --steps 1400   # the binding recipe
    python bench/learnability_probe.py --plain --task lookup --set num_heads=8 num_kv_heads=8   # the letter hop

Trains the `tiny` model (TroL + Phantom unless --plain) on freshly rendered synthetic scenes (loader/synthetic.py),
one question per sample, and every --eval-every steps prints the mean training loss and the first-answer-token
accuracy on 240 held-out questions each: existence (POPE kinds, chance 0.5), MMBench-layout (0.25), existence
with adversarial negatives only (the binding case: a present colour with another object's present shape, 0.5)
and retrieval ("What shape is the <colour> object?" / "What colour is the <shape>?", first token among the 10
attribute words); then the MMBench-layout accuracy per question type (60 each: mc-colour, mc-shape, mc-count,
mc-position) and on 120 `lookup` questions.
Tasks: `red` "Is there a red object?" (nothing in the question to condition on), `colour` "Is there a <colour>
object?", `shape` "Is there a <shape> in the image?" (2-4 of the 4 shapes are present), `pair` "Is there a
<colour> <shape> in the image?" with negatives of all three POPE kinds (as the synthetic POPE split), `mc`
MMBench-layout questions only, `mix` existence / MMBench / short-answer questions as the training source mixes
them (--short, share of short answers), `qmix` that mix with 10 % captions, `caption` / `rcaption` (the
caption, objects in reading / random order), `short`, `ret`, `where` ("Where is the <colour> <shape>?", answered
with its quadrant), `adv` / `advmix` (negatives all / 60 % adversarial),
`rpNN` (NN % retrieval, the rest existence), `mc-TYPE` (MMBench-layout questions of one type, or
`mc-colour+shape`), `lookup` ("Which option is <word>?" in the MMBench layout: the option-letter hop alone),
`A*w1+B*w2` (a weighted mix drawn sample by sample, e.g. `pair*60+ret*25+mc*15`); `text-TASK` asks TASK's
question about the scene written as text (its caption in the prompt, no image: the language model alone). A
curriculum is `TASK:STEPS,TASK:STEPS,...,TASK` (the last runs to --steps). `--vision-pretrain STEPS` first runs
`trainer.vision_pretrain` on a pool of fresh scenes (docs/quickstart.md, "Diagnosis" 5); `--question-first` puts
the image after the question.
AdamW (betas 0.9/0.98, weight decay 0.01 on matrices), 30 warm-up steps,
cosine to 0.1x, gradient clipping at 1. One thread is what docs/quickstart.md used:
`OMP_NUM_THREADS=1`.
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
from loader.synthetic import (COLOURS, LETTERS, MC_TYPES, POPE_SPLITS, POPE_SUFFIX, SHAPES, Obj,  # noqa: E402
                              caption, existence_question, lookup_turn, mc_turn, negative, render,
                              retrieval_turn, sample_scene, short_turn, where_turn)
from model import build_model  # noqa: E402
from model.vlm import backbone_linears  # noqa: E402
from model.processing import Processor  # noqa: E402
from model.tokenizer import build_tiny_tokenizer, model_config_ids  # noqa: E402
from trainer.overrides import parse_value  # noqa: E402
from trainer.vision_pretrain import pretrain_vision  # noqa: E402


def question(task: str, objs: list[Obj], rng: np.random.Generator, short: float) -> tuple[str, str, list[Obj]]:
    """(prompt, answer, scene) for one sample of `task`; `red` may recolour the scene."""
    if "*" in task:  # a weighted mix drawn sample by sample: pair*60+ret*25+mc*15
        names, weights = zip(*(item.split("*") for item in task.split("+")))
        weights = np.array([float(w) for w in weights])
        return question(names[int(rng.choice(len(names), p=weights / weights.sum()))], objs, rng, short)
    if task == "mix":
        u = rng.random()
        task = "short" if u < short else ("pair" if u < short + (1 - short) / 2 else "mc")
    if task == "caption":
        return "Describe the image briefly.", caption(objs), objs
    if task == "rcaption":  # the caption with its objects listed in random order (no reading-order shortcut)
        return "Describe the image briefly.", caption(objs, order_rng=rng), objs
    if task == "qmix":  # the quickstart's mix incl. captions: 10 % captions, 18 % short, 36 % existence, 36 % MC
        u = rng.random()
        task = "caption" if u < 0.1 else ("short" if u < 0.28 else ("pair" if u < 0.64 else "mc"))
        return question(task, objs, rng, short)
    if task == "ret":  # retrieval: "What colour is the <shape>?" / "What shape is the <colour> object?"
        return (*retrieval_turn(objs, rng), objs)
    if task == "where":  # "Where is the <colour> <shape>?" answered with its quadrant
        return (*where_turn(objs, rng), objs)
    if task.startswith("rp"):  # rpNN: NN % retrieval questions, the rest existence
        return question("ret" if rng.random() < int(task[2:]) / 100 else "pair", objs, rng, short)
    yes = rng.random() < 0.5
    if task == "short":
        return (*short_turn(objs, rng), objs)
    if task == "mc":
        return (*mc_turn(objs, rng), objs)
    if task.startswith("mc-"):  # mc-colour, mc-shape+count, ...: MMBench-layout questions of the named types only
        return (*mc_turn(objs, rng, tuple(task[3:].split("+"))), objs)
    if task == "lookup":  # the option-letter hop alone: "Which option is <word>?", the word named in the question
        return (*lookup_turn(objs, rng), objs)
    if task == "red":
        absent = [c for c in COLOURS if c not in {o.colour for o in objs}]
        swap = "red" if yes else absent[int(rng.integers(len(absent)))]
        reds = [k for k, o in enumerate(objs) if o.colour == "red"] or ([0] if yes else [])
        objs = [Obj(swap, o.shape, o.position) if k in reds else o for k, o in enumerate(objs)]
        return "Is there a red object in the image?" + POPE_SUFFIX, "Yes" if yes else "No", objs
    if task == "colour":
        present = {o.colour for o in objs}
        pool = sorted(present) if yes else [c for c in COLOURS if c not in present]
        return (f"Is there a {pool[int(rng.integers(len(pool)))]} object in the image?" + POPE_SUFFIX,
                "Yes" if yes else "No", objs)
    if task == "shape":
        if not yes and len(objs) == len(SHAPES):
            objs = objs[:-1]  # every shape drawn: none is absent
        present = {o.shape for o in objs}
        pool = sorted(present) if yes else [s for s in SHAPES if s not in present]
        return (f"Is there a {pool[int(rng.integers(len(pool)))]} in the image?" + POPE_SUFFIX,
                "Yes" if yes else "No", objs)
    if yes:  # pair
        o = objs[int(rng.integers(len(objs)))]
        return existence_question(o.colour, o.shape) + POPE_SUFFIX, "Yes", objs
    kind = POPE_SPLITS[int(rng.integers(3))]
    if task == "adv":
        kind = "adversarial"
    elif task == "advmix":
        kind = POPE_SPLITS[int(rng.choice(3, p=[0.2, 0.2, 0.6]))]
    c, s = negative(objs, rng, kind)
    return existence_question(c, s) + POPE_SUFFIX, "No", objs


QUESTION_FIRST = False  # --question-first: the image placeholder after the question


def make_sample(task: str, rng: np.random.Generator, short: float = 0.2) -> Sample:
    if task.startswith("text-"):  # the same question about a scene written as text (no image): the LLM alone
        objs = sample_scene(rng)
        q, a, objs = question(task[5:], objs, rng, short)
        scene = caption(objs)
        return Sample(id="probe", source="probe", turns=[Turn("user", scene + "\n" + q), Turn("assistant", a)],
                      images=[])
    q, a, objs = question(task, sample_scene(rng), rng, short)
    user = q + "\n<image>" if QUESTION_FIRST else "<image>\n" + q
    return Sample(id="probe", source="probe", turns=[Turn("user", user), Turn("assistant", a)],
                  images=[render(objs, rng, 64)])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="pair",
                    help="red, colour, shape, pair, mc, mix, caption, short, qmix; or a curriculum caption:300,mix:900")
    ap.add_argument("--short", type=float, default=0.2, help="share of short-answer questions in --task mix")
    ap.add_argument("--init-scale", type=float, default=None, help="llm_init_scale (default: the preset's)")
    ap.add_argument("--embed-std", type=float, default=None, help="embed_init_std (default: the preset's)")
    ap.add_argument("--plain", action="store_true", help="TroL and Phantom off")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--qk-scale", type=float, default=None,
                    help="multiply the LLM q_proj init by this (0: uniform attention at init)")
    ap.add_argument("--out-scale", type=float, default=None, help="multiply the LLM o_proj/down_proj init by this")
    ap.add_argument("--wsd", action="store_true",
                    help="warm-up, constant lr, linear decay over the last 20%% (instead of cosine)")
    ap.add_argument("--vision-pretrain", type=int, default=0, metavar="STEPS",
                    help="first train the vision tower + projector alone for STEPS steps on per-quadrant colour / "
                         "shape / colour-shape labels and each token's quadrant (linear heads on the 4 image "
                         "tokens, dropped afterwards)")
    ap.add_argument("--question-first", action="store_true", help="put the image after the question")
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                    help="more ModelConfig overrides, e.g. --set patch_size=8 num_layers=6")
    args = ap.parse_args()
    global QUESTION_FIRST
    QUESTION_FIRST = args.question_first
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    random.seed(args.seed)
    words = [w for task in ("mix", "red", "colour", "shape", "caption") for _ in range(300)
             for t in make_sample(task, rng, 0.3).turns for w in (t.role, t.content)]
    tokenizer = build_tiny_tokenizer(words + ["Describe the image briefly."], 512)
    overrides: dict = model_config_ids(tokenizer, "tiny")
    if args.init_scale is not None:
        overrides["llm_init_scale"] = args.init_scale
    if args.embed_std is not None:
        overrides["embed_init_std"] = args.embed_std
    if args.plain:
        overrides.update(use_trol=False, use_phantom=False)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            ap.error(f"--set takes FIELD=VALUE, got {item!r}")
        overrides[key] = parse_value(value)  # as train.py --set reads values
    model = build_model("tiny", **overrides)
    with torch.no_grad():
        for name, mod in backbone_linears(model.language_model):
            leaf = name.rsplit(".", 1)[-1]
            if args.qk_scale is not None and leaf == "q_proj":
                mod.weight.mul_(args.qk_scale)
            if args.out_scale is not None and leaf in ("o_proj", "down_proj"):
                mod.weight.mul_(args.out_scale)
    model.train()
    collate = Collator(Processor(tokenizer, model.config), 112)
    held_out = np.random.default_rng(999)
    evals = {"existence": collate([make_sample("pair", held_out) for _ in range(240)]),
             "mmbench": collate([make_sample("mc", held_out) for _ in range(240)]),
             "adversarial": collate([make_sample("adv", held_out) for _ in range(240)]),
             "retrieval": collate([make_sample("ret", held_out) for _ in range(240)])}
    for qtype in MC_TYPES:  # the MMBench-layout questions per type (colour, shape, count, position), 60 each
        evals[f"mc-{qtype}"] = collate([make_sample(f"mc-{qtype}", held_out) for _ in range(60)])
    candidates = {"existence": [tokenizer.convert_tokens_to_ids(x) for x in ("Yes", "No")],
                  "mmbench": [tokenizer.convert_tokens_to_ids(x) for x in LETTERS]}
    evals["lookup"] = collate([make_sample("lookup", held_out) for _ in range(120)])
    candidates.update({name: candidates["mmbench"] for name in evals if name.startswith("mc-") or name == "lookup"})
    candidates["adversarial"] = candidates["existence"]
    candidates["retrieval"] = [tokenizer(w)["input_ids"][0] for w in (*COLOURS, *SHAPES)]

    def accuracy() -> dict[str, float]:
        model.eval()
        res = {}
        with torch.no_grad():
            for name, batch in evals.items():
                labels = batch["labels"]
                logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
                first = (labels != -100).float().argmax(1)  # the answer's first token
                rows = torch.arange(len(first))
                cand = torch.tensor(candidates[name])
                pred = cand[logits[rows, first - 1][:, cand].argmax(1)]
                res[name] = round((pred == labels[rows, first]).float().mean().item(), 3)
        model.train()
        return res

    if args.vision_pretrain:  # a pool of fresh scenes as large as the steps draw, as trainer.run would on the task
        pool_rng = np.random.default_rng(args.seed + 1)
        pool = [(render(objs, pool_rng, 64), objs) for objs in
                (sample_scene(pool_rng) for _ in range(args.vision_pretrain * args.batch))]
        print(pretrain_vision(model, collate.processor, pool, args.vision_pretrain, batch_size=args.batch,
                              seed=args.seed, progress=False))
    groups = [{"params": [p for p in model.parameters() if p.ndim >= 2], "weight_decay": 0.01},
              {"params": [p for p in model.parameters() if p.ndim < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.98))
    if args.wsd:
        schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 30) * min(
            1.0, 0.1 + 0.9 * (args.steps - s) / (0.2 * args.steps)))
    else:
        schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 30) * (
            0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps))))
    print(f"task={args.task} init_scale={model.config.llm_init_scale} embed_std={model.config.embed_init_std} "
          f"plain={args.plain} lr={args.lr} batch={args.batch} seed={args.seed}; chance: existence 0.5, mmbench 0.25")
    losses, start = [], time.time()
    plan = []
    for part in args.task.split(","):
        name, _, n = part.partition(":")
        plan += [name] * (int(n) if n else args.steps)
    plan += [plan[-1]] * max(0, args.steps - len(plan))
    for step in range(1, args.steps + 1):
        out = model(**collate([make_sample(plan[step - 1], rng, args.short) for _ in range(args.batch)]))
        opt.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        schedule.step()
        losses.append(out.loss.item())
        if step % args.eval_every == 0:
            print(f"step {step:5d}  loss {np.mean(losses[-args.eval_every:]):.4f}  accuracy {accuracy()}  "
                  f"({time.time() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
