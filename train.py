"""Train one stage of a recipe: `python train.py --preset tiny --output-dir OUT --max-steps N [--save-every K]
[--resume] [--set key=value ...]`.

Presets are in `trainer/recipes.py` (`--list-presets`); `--set` reaches any field, dotted for nested settings
(`--set lora.r=8`, `--set data.root=/data`, `--set model.use_trol=false`). Launch with `torchrun` or the
`deepspeed` launcher for several processes (see scripts/train_*.sh); the `--local_rank` the deepspeed launcher
passes is accepted and ignored (the rank comes from the environment).
"""
from __future__ import annotations

import argparse
import json
import sys

from trainer.overrides import apply_overrides
from trainer.recipes import TRAIN_PRESETS, get_train_preset


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="tiny", help="training preset (see --list-presets)")
    ap.add_argument("--output-dir", help="run directory: metrics.jsonl, checkpoint-<step>/, final/")
    ap.add_argument("--max-steps", type=int, help="optimizer steps (0: the preset's epochs)")
    ap.add_argument("--save-every", type=int, help="checkpoint every K optimizer steps (0: only at the end)")
    ap.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output-dir")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a preset field, e.g. --set lr=1e-3 --set lora.enabled=true")
    ap.add_argument("--list-presets", action="store_true", help="print the presets and exit")
    ap.add_argument("--print-config", action="store_true", help="print the resolved config as JSON and exit")
    ap.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list_presets:
        for name in TRAIN_PRESETS:
            print(f"{name:22s} {get_train_preset(name).description}")
        return 0
    cfg = get_train_preset(args.preset)
    items = list(args.overrides)
    if args.output_dir:
        items.append(f"output_dir={args.output_dir}")
    if args.max_steps is not None:
        items.append(f"max_steps={args.max_steps}")
    if args.save_every is not None:
        items.append(f"save_every={args.save_every}")
    apply_overrides(cfg, items)
    if args.print_config:
        print(json.dumps(cfg.to_dict(), indent=1, default=str))
        return 0
    from trainer import run

    run(cfg, resume=args.resume)
    return 0


if __name__ == "__main__":
    sys.exit(main())
