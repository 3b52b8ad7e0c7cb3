"""`python -m loader`: the count report of a mixture, and the synthetic task.

    python -m loader report --root DIR --mixture phantom-2.8m [--log-file skipped.log] [--cache-dir DIR]
    python -m loader synthetic --out DIR --seed 0 [--n-train 4000 --n-eval 100 --image-size 64] [--curriculum ...]
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _report(args: argparse.Namespace) -> int:
    from loader.curriculum import report
    from loader.dataset import default_cache_dir

    log_file = Path(args.log_file) if args.log_file else (
        Path(args.cache_dir) if args.cache_dir else default_cache_dir()) / f"skipped-{args.mixture}.log"
    log_file.unlink(missing_ok=True)  # the log describes this run only
    table = report(args.root, args.mixture, cache_dir=Path(args.cache_dir) if args.cache_dir else None,
                   check_images=args.check_images, max_chars=args.max_chars or None, rebuild=args.rebuild,
                   log_file=log_file)
    print(table)
    print(f"skipped records (file:position and reason): {log_file}")
    return 0


def _synthetic(args: argparse.Namespace) -> int:
    from loader.synthetic import generate

    task = generate(args.out, seed=args.seed, n_train=args.n_train, n_eval=args.n_eval, image_size=args.image_size,
                    qa_per_image=args.qa_per_image, caption_prob=args.caption_prob,
                    short_answer_prob=args.short_answer_prob, multi_turn=not args.single_turn,
                    curriculum=args.curriculum)
    print(f"training source: {task.train_root} ({task.n_train_records} records; mixture 'synthetic')")
    print(f"evaluation root: {task.eval_root} (POPE {task.n_pope_per_split} per split, MMBench "
          f"{task.n_mmbench_questions} questions / {task.n_mmbench_rows} rows)")
    return 0


def main(argv: list[str] | None = None) -> int:
    from loader.curriculum import MIXTURES
    from loader.sources._images import CHECK_LEVELS
    from loader.sources._spec import DEFAULT_MAX_CHARS

    parser = argparse.ArgumentParser(prog="python -m loader", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="per source: records found, usable, skipped, images missing, README count")
    rep.add_argument("--root", required=True, help="dataset root in the README layout")
    rep.add_argument("--mixture", required=True, choices=list(MIXTURES))
    rep.add_argument("--log-file", help="where to write the skipped records (default: CACHE/skipped-MIXTURE.log)")
    rep.add_argument("--cache-dir", help="index cache (default: $TROL_PHANTOM_CACHE/loader or ~/.cache/...)")
    rep.add_argument("--check-images", default="header", choices=CHECK_LEVELS)
    rep.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS, help="length policy; 0 disables it")
    rep.add_argument("--rebuild", action="store_true", help="ignore cached indexes")
    rep.set_defaults(func=_report)
    syn = sub.add_parser("synthetic", help="write the synthetic shapes task (training source + POPE/MMBench)")
    syn.add_argument("--out", required=True, type=Path)
    syn.add_argument("--seed", type=int, default=0)
    syn.add_argument("--n-train", type=int, default=4000)
    syn.add_argument("--n-eval", type=int, default=100)
    syn.add_argument("--image-size", type=int, default=64)
    syn.add_argument("--qa-per-image", type=int, default=6)
    syn.add_argument("--caption-prob", type=float, default=0.5, help="share of images with a caption turn")
    syn.add_argument("--short-answer-prob", type=float, default=0.2,
                     help="share of training questions answered by the attribute word instead of Yes/No or a letter")
    syn.add_argument("--single-turn", action="store_true", help="one record per question instead of per image")
    syn.add_argument("--curriculum", help="phases of single-turn records in order, e.g. "
                     "'caption:4800,existence:17600,mix:16000' (kinds: caption, retrieval, where, existence, short, "
                     "mc, lookup, mix; a weighted mix such as existence*60+retrieval*25+mc*15); train on it with "
                     "--set data.shuffle=false")
    syn.set_defaults(func=_synthetic)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
