"""Evaluate a model on benchmarks, or score a predictions file: see `eval/cli.py` for the commands.

  python eval.py --model runs/tiny/final --benchmark pope,mme --data-root /data/eval
  python eval.py score --benchmark pope --data-root /data/eval --predictions preds.jsonl --out metrics.json
"""
from eval.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
