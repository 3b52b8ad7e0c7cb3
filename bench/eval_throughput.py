"""Evaluation throughput: items/s of batch size 1 against the default batch size, same items, same model.

  python bench/eval_throughput.py                                   # tiny random model on CPU
  python bench/eval_throughput.py --preset phantom-0.5b --device cuda --dtype bfloat16 --items 64   # GPU

The model is a random initialisation of `--preset` with a small trained tokenizer (a 0.5B-shaped preset keeps
its real vocabulary size), saved and reloaded through `load_model` / `load_processor` as eval.py does. Items
come from `--benchmark` under `--data-root`, by default the synthetic task's POPE split written to a temporary
folder. Prints a table (batch size, items, seconds, items/s, speed-up) and whether the batched predictions equal
the batch-1 predictions.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from eval.registry import Benchmark, get_benchmark  # noqa: E402
from eval.runner import generate_batch  # noqa: E402
from eval.settings import DTYPES, GenerationSettings  # noqa: E402
from eval.tiny import save_tiny_model  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny-qwen2", help="model preset (config.MODEL_PRESETS)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--dtype", default=None, choices=sorted(DTYPES), help="default: bfloat16 on GPU, float32 on CPU")
    parser.add_argument("--batch-size", type=int, default=8, help="the batched setting (eval.py's default is 8)")
    parser.add_argument("--items", type=int, default=32, help="items timed per setting")
    parser.add_argument("--benchmark", default="pope")
    parser.add_argument("--data-root", type=Path, default=None, help="default: a synthetic POPE/MMBench root")
    return parser.parse_args()


def timed(model: Any, processor: Any, bench: Benchmark, items: list, batch_size: int, settings: GenerationSettings,
          device: str) -> tuple[float, list[str]]:
    """Seconds to answer `items` in batches of `batch_size`, and the answers."""
    answers: list[str] = []
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(0, len(items), batch_size):
        chunk = items[i:i + batch_size]
        answers += generate_batch(model, processor, [bench.prompt(it, "") for it in chunk],
                                  [list(it.images) or None for it in chunk], bench.max_new_tokens, settings, device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start, answers


def main() -> int:
    args = parse_args()
    from model import load_model, load_processor

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    dtype = args.dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    settings = GenerationSettings(name="bench", dtype=dtype)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data_root
        if root is None:
            from loader.synthetic import generate

            generate(Path(tmp) / "synthetic", seed=0, n_train=1, n_eval=max(8, args.items // 2))
            root = Path(tmp) / "synthetic" / "eval"
        big = None if args.preset.startswith("tiny") else 151_655  # a real-size preset keeps its vocabulary shape
        model_dir = save_tiny_model(Path(tmp) / "model", preset=args.preset, model_vocab_size=big)
        model = load_model(model_dir, dtype=DTYPES[dtype], device=device).eval()
        processor = load_processor(model_dir)
        bench = get_benchmark(args.benchmark)
        items = bench.read(root)[:args.items]
        params = sum(p.numel() for p in model.parameters()) / 1e6
        print(f"model {args.preset} ({params:.1f}M parameters, random init), {device}, {dtype}; "
              f"{len(items)} {bench.name} items, {bench.max_new_tokens} new tokens each")
        timed(model, processor, bench, items[:min(2, len(items))], 2, settings, device)  # warm-up
        rows, reference = [], None
        for batch_size in (1, args.batch_size):
            seconds, answers = timed(model, processor, bench, items, batch_size, settings, device)
            reference = reference or answers
            rows.append((batch_size, len(items), seconds, len(items) / seconds, answers == reference))
    base = rows[0][3]
    print(f"{'batch':>5}  {'items':>5}  {'seconds':>8}  {'items/s':>8}  {'speed-up':>8}  same predictions as batch 1")
    for batch_size, n, seconds, rate, same in rows:
        print(f"{batch_size:>5}  {n:>5}  {seconds:>8.2f}  {rate:>8.2f}  {rate / base:>7.2f}x  {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
