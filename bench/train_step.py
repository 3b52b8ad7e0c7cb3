"""Training throughput: the data pipeline per worker, and whole optimizer steps (images included).

    python bench/train_step.py                                   # CPU: pipeline + the tiny preset's step
    python bench/train_step.py --gpu --presets phantom-0.5b,phantom-1.8b   # on a GPU: bf16 steps, tokens/s, MFU

1. Data pipeline: samples/s of decode + tile + tokenize (`loader.collate.Collator` on the synthetic task) in the
   main process (= one worker), and with `--workers W` DataLoader workers (total and per worker).
2. Training step of the tiny preset (`trainer` code path: forward, Phantom/TroL, loss, backward, AdamW): tokens/s
   and steps/s.
3. `--gpu`: random-init 0.5B/1.8B-shaped presets (TroL + Phantom switches as in the preset), bf16 autocast with
   fp32 master weights, random token rows with one image (--tiles tiles) each. MFU counts 6 x N x T FLOPs for the
   N non-embedding LLM parameters (x2 for TroL's second pass over every layer) plus the vision tower's
   6 x N_vision x tile tokens, against --peak-tflops (989: H100/H200 dense bf16). Attention FLOPs are left out.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.overrides import apply_overrides  # noqa: E402
from trainer.recipes import get_train_preset  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def pipeline(parts, n: int, workers: int, batch: int) -> None:
    from torch.utils.data import DataLoader

    ids = list(range(min(n, len(parts.samples))))
    t0 = time.perf_counter()
    for k in range(0, len(ids), batch):
        parts.collate([parts.samples[i] for i in ids[k:k + batch]])
    dt = time.perf_counter() - t0
    print(f"pipeline  1 worker (main process): {len(ids) / dt:8.1f} samples/s (decode + tile + tokenize + pad)")
    if workers > 0:
        chunks = [ids[k:k + batch] for k in range(0, len(ids), batch)]
        loader = DataLoader(chunks, batch_size=None, num_workers=workers,
                            collate_fn=lambda c: parts.collate([parts.samples[i] for i in c]))
        t0 = time.perf_counter()
        for _ in loader:
            pass
        dt = time.perf_counter() - t0
        print(f"pipeline {workers} workers: {len(ids) / dt:8.1f} samples/s total, {len(ids) / dt / workers:8.1f} "
              "per worker (includes worker start-up)")


def tiny_step(parts, cfg, iters: int, warmup: int) -> None:
    from trainer.loop import _label_tokens, micro_step_parts
    from trainer.losses import combine

    model = parts.model
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    batches = [parts.collate([parts.samples[(k * cfg.micro_batch_size + j) % len(parts.samples)]
                              for j in range(cfg.micro_batch_size)]) for k in range(iters + warmup)]
    times, toks = [], []
    for i, b in enumerate(batches):
        t0 = time.perf_counter()
        lp = micro_step_parts(model, b, cfg)
        combine(lp, _label_tokens(b["labels"], b["attention_mask"]), 0).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
            toks.append(int(b["attention_mask"].sum()))
    med = statistics.median(times)
    print(f"train step tiny (batch {cfg.micro_batch_size}, max_length {cfg.data.max_length}, fp32, CPU "
          f"{torch.get_num_threads()} threads): {med * 1000:8.1f} ms/step, {1 / med:6.2f} steps/s, "
          f"{statistics.mean(toks) / med:9.0f} tokens/s")


def gpu_step(preset: str, args: argparse.Namespace) -> None:
    from model import build_model

    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build_model(preset).to(device)
    if args.grad_ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    cfg = model.config
    tpt = int(cfg.tokens_per_tile)
    n_img = args.tiles * tpt
    ids = torch.randint(10, min(cfg.vocab_size, 30000), (args.batch, args.seq), device=device)
    ids[:, 1:1 + n_img] = cfg.image_token_index
    pixels = torch.randn(args.batch * args.tiles, 3, cfg.image_size, cfg.image_size, device=device)
    llm_n = sum(p.numel() for n, p in model.language_model.named_parameters()
                if "embed_tokens" not in n and "lm_head" not in n)
    vis_n = sum(p.numel() for p in model.vision_tower.parameters())
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5,
                            fused=device.type == "cuda")
    times = []
    for i in range(args.warmup + args.iters):
        _sync(device)
        t0 = time.perf_counter()
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            out = model(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=pixels, labels=ids)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        _sync(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    tokens = args.batch * args.seq
    passes = 2 if getattr(cfg, "use_trol", False) else 1
    vcfg = cfg.vision_config if isinstance(cfg.vision_config, dict) else vars(cfg.vision_config)
    vis_tokens = args.batch * args.tiles * (cfg.image_size // int(vcfg.get("patch_size", 14))) ** 2
    flops = 6 * llm_n * passes * tokens + 6 * vis_n * vis_tokens
    mfu = flops / med / (args.peak_tflops * 1e12)
    mem = torch.cuda.max_memory_allocated(device) / 2 ** 30 if device.type == "cuda" else float("nan")
    print(f"train step {preset:14s} bf16 batch {args.batch} x {args.seq} ({args.tiles} tiles/row, TroL "
          f"{bool(cfg.use_trol)}, Phantom {bool(cfg.use_phantom)}): {med * 1000:8.1f} ms/step, "
          f"{tokens / med:10.0f} tokens/s, MFU {100 * mfu:5.1f}%, peak memory {mem:.1f} GiB")
    del model, opt
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=64, help="samples timed in the pipeline part")
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers for the pipeline part (0: skip)")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="tiny preset overrides")
    ap.add_argument("--data-dir", default=None, help="synthetic task location (default: a temporary folder)")
    ap.add_argument("--gpu", action="store_true", help="also time the --presets in bf16 on --device")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--presets", default="phantom-0.5b,phantom-1.8b")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--tiles", type=int, default=2, help="image tiles per row (256 tokens each at 448 px)")
    ap.add_argument("--grad-ckpt", action="store_true")
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--skip-cpu", action="store_true", help="only the --gpu part")
    args = ap.parse_args(argv)

    if not args.skip_cpu:
        from trainer.build import build_parts
        from trainer.strategy import PlainStrategy

        with tempfile.TemporaryDirectory() as tmp:
            data = args.data_dir or str(Path(tmp) / "synthetic")
            cfg = apply_overrides(get_train_preset("tiny"), [
                f"output_dir={Path(tmp) / 'run'}", f"data.synthetic_dir={data}",
                'data.synthetic_kwargs={"n_train": 256, "n_eval": 4}', *args.overrides])
            parts = build_parts(cfg, PlainStrategy(cfg))
            pipeline(parts, args.samples, args.workers, cfg.micro_batch_size)
            tiny_step(parts, cfg, args.iters, args.warmup)
    if args.gpu:
        for preset in [p for p in args.presets.split(",") if p]:
            gpu_step(preset, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
