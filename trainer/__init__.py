"""Trainer: `run(cfg)` turns one `TrainConfig` stage into a trained, saved model.

The recipe: strategy (ranks) -> model + processor (fresh from a preset, or `init_from`) -> precision, gradient
checkpointing, LoRA/QLoRA, stage freezing -> data (synthetic task, curriculum mixture or Phantom triples) ->
the loop (`trainer.loop.train`). `parts` lets tests substitute the model/data builders.
"""
from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from trainer.recipes import TRAIN_PRESETS, TrainConfig, get_train_preset
from trainer.tracking import setup_logging

log = logging.getLogger("trainer")

__all__ = ["run", "Parts", "TrainConfig", "TRAIN_PRESETS", "get_train_preset"]


@dataclass
class Parts:
    """What the loop needs besides the config: the model, its processor, the samples and a collate function."""

    model: torch.nn.Module
    processor: Any
    samples: Sequence[Any]
    collate: Callable[[list[Any]], dict[str, torch.Tensor] | None]
    lengths: Sequence[int] | None = None
    text_only: Sequence[bool] | None = None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def _total_steps(cfg: TrainConfig, micro_per_epoch: int) -> int:
    if cfg.max_steps > 0:
        return cfg.max_steps
    return max(1, cfg.epochs * micro_per_epoch // cfg.grad_accum)


def _check_fresh(out: Path, resume: bool, overwrite: bool) -> None:
    """A fresh run must not leave an older run's checkpoints for a later --resume to pick up."""
    from trainer.checkpoint import list_checkpoints

    old = list_checkpoints(out)
    if resume or not old:
        return
    if not overwrite:
        raise FileExistsError(f"{out} holds checkpoints of an earlier run ({old[-1][1].name}); pass --resume to "
                              "continue it, --set overwrite=true to start over, or another --output-dir")
    import shutil

    for _, path in old:
        shutil.rmtree(path)
    shutil.rmtree(out / "final", ignore_errors=True)
    log.warning("overwrite: removed %d checkpoints of an earlier run in %s", len(old), out)


def _base_loader(cfg: TrainConfig) -> Callable[[], torch.nn.Module] | None:
    """Loads the stage's `init_from` in full precision (for merging a QLoRA adapter on export)."""
    if not cfg.init_from:
        return None

    def load() -> torch.nn.Module:
        from model import load_model
        return load_model(cfg.init_from, dtype=torch.float32, device="cpu")
    return load


def _vision_pretrain(cfg: TrainConfig, p: Parts, strategy: Any, out: Path, resume: bool) -> None:
    """The synthetic task's vision-tower pretraining (`trainer.vision_pretrain`), on a fresh start only: a resumed
    run restores the weights from its checkpoint. Every rank runs it identically (same seed, same scenes)."""
    from trainer.build import synthetic_dir
    from trainer.checkpoint import latest_checkpoint
    from trainer.vision_pretrain import pretrain_vision

    if resume and latest_checkpoint(out) is not None:
        return
    pretrain_vision(p.model, p.processor, synthetic_dir(cfg) / "train", cfg.vision_pretrain_steps,
                    batch_size=cfg.micro_batch_size * cfg.grad_accum, lr=cfg.vision_pretrain_lr, seed=cfg.seed,
                    progress=cfg.progress and strategy.is_main)


def run(cfg: TrainConfig, resume: bool = False,
        parts: Callable[[TrainConfig, Any], Parts] | None = None) -> dict[str, Any]:
    """Train one stage as configured; returns the loop's summary. Rank-aware (torchrun / deepspeed launcher)."""
    from loader.sampler import ResumableBatchSampler
    from trainer import loop
    from trainer.data import MicroBatchStream
    from trainer.lora import apply_lora, merged_for_export
    from trainer.stages import apply_stage
    from trainer.strategy import make_strategy

    strategy = make_strategy(cfg)
    setup_logging(strategy.is_main)
    out = Path(cfg.output_dir)
    strategy.resuming = resume  # builders reuse cached artifacts (the tiny tokenizer) only when resuming
    if strategy.is_main:
        _check_fresh(out, resume, cfg.overwrite)
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=1, default=str))
    strategy.barrier()
    seed_everything(cfg.seed)  # the same initial weights on every rank
    if parts is None:
        from trainer.build import build_parts
        parts = build_parts
    p = parts(cfg, strategy)
    model = p.model
    if cfg.vision_pretrain_steps:
        _vision_pretrain(cfg, p, strategy, out, resume)
    if cfg.gradient_checkpointing and hasattr(model, "gradient_checkpointing_enable"):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if hasattr(model, "config"):
            model.config.use_cache = False
    if cfg.lora.enabled:
        model = apply_lora(model, cfg.lora, cfg.gradient_checkpointing)
    apply_stage(model, cfg.trainable, log if strategy.is_main else None)
    # one sampler batch = one optimizer step of this rank, so that micro-batching and the number of ranks do not
    # change which samples a step sees (gradient accumulation and data parallelism are then exact rewrites)
    sampler = ResumableBatchSampler(len(p.samples), cfg.micro_batch_size * cfg.grad_accum, rank=strategy.rank,
                                    world_size=strategy.world_size, seed=cfg.seed, shuffle=cfg.data.shuffle,
                                    lengths=p.lengths if cfg.data.group_by_length else None,
                                    text_only=p.text_only if cfg.data.group_by_length else None, drop_last=True)
    stream = MicroBatchStream(p.samples, p.collate, sampler, micro_batch_size=cfg.micro_batch_size,
                              num_workers=cfg.data.num_workers, seed=cfg.seed)
    total = _total_steps(cfg, stream.micro_batches_per_epoch)
    strategy.setup(model, total)
    if strategy.is_main:
        log.info("preset %s: %d samples, %d micro-batches/epoch/rank, %d steps, world %d, strategy %s%s",
                 cfg.name, len(p.samples), stream.micro_batches_per_epoch, total, strategy.world_size,
                 strategy.name, f" (ZeRO-{cfg.zero_stage})" if strategy.name == "deepspeed" else "")
    wants_merge = cfg.lora.enabled and cfg.lora.merge_on_export

    def export() -> torch.nn.Module:
        if not wants_merge:
            return strategy.module
        return merged_for_export(strategy.module, cfg.lora, _base_loader(cfg))

    try:
        return loop.train(cfg, strategy, stream, p.processor, out, total, resume, export=export)
    finally:
        strategy.close()
