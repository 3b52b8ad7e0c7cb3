"""Forward+backward cost of the language backbone alone, with TroL, with Phantom and with both.

    python bench/model_step.py                       # tiny and a 0.5B-shaped random preset, CPU float32
    python bench/model_step.py --device cuda --dtype bfloat16 --seq 2048 --batch 4   # on a GPU: + tokens/s, MFU

Prints seconds per step (median of --iters after --warmup) and the ratio to the backbone. TroL runs every layer
twice, so its physical floor is 2.0x the backbone's layer cost (the embedding and LM head are not doubled, so
measured ratios can sit slightly below 2 on models whose head is large). MFU counts 6 N T FLOPs per pass of the
N non-embedding backbone parameters (2 passes with TroL) against --peak-tflops.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model import build_model  # noqa: E402

VARIANTS = {"backbone": (False, False), "trol": (True, False), "phantom": (False, True), "both": (True, True)}
DEFAULT_PRESETS = {"tiny": "tiny", "0.5b": "phantom-0.5b"}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_step(preset: str, use_trol: bool, use_phantom: bool, args: argparse.Namespace) -> tuple[float, int]:
    """Median seconds of one forward+backward on random text tokens, and the non-embedding LLM parameter count."""
    torch.manual_seed(0)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    model = build_model(preset, use_trol=use_trol, use_phantom=use_phantom,
                        attn_implementation=args.attn).to(device=device, dtype=dtype)
    model.train()
    vocab = model.config.vocab_size
    ids = torch.randint(10, vocab, (args.batch, args.seq), device=device)
    llm = model.language_model
    n_params = sum(p.numel() for n, p in llm.named_parameters() if "embed_tokens" not in n and "lm_head" not in n)
    times = []
    for i in range(args.warmup + args.iters):
        _sync(device)
        start = time.perf_counter()
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        _sync(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
        model.zero_grad(set_to_none=True)
    del model
    return statistics.median(times), n_params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="*", default=list(DEFAULT_PRESETS.values()))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default=None, help="float32 on CPU, bfloat16 on a GPU by default")
    parser.add_argument("--attn", default=None, help="eager | sdpa | flash_attention_2 (default: best available)")
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="accelerator peak for MFU (default 989 = H100/H200 dense bf16 on CUDA)")
    args = parser.parse_args(argv)
    args.dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    peak = args.peak_tflops or (989.0 if args.device.startswith("cuda") else None)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(f"device={args.device} dtype={args.dtype} batch={args.batch} seq={args.seq} iters={args.iters}")
    header = f"{'preset':<14}{'variant':<10}{'s/step':>10}{'ratio':>8}"
    if peak:
        header += f"{'tokens/s':>12}{'MFU':>8}"
    print(header)
    for preset in args.presets:
        base = None
        for name, (trol, phantom) in VARIANTS.items():
            seconds, n_params = time_step(preset, trol, phantom, args)
            base = base or seconds
            line = f"{preset:<14}{name:<10}{seconds:>10.4f}{seconds / base:>7.2f}x"
            if peak:
                tokens = args.batch * args.seq
                flops = 6 * n_params * tokens * (2 if trol else 1)
                line += f"{tokens / seconds:>12.0f}{flops / seconds / (peak * 1e12):>8.1%}"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
