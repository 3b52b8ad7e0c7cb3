"""Building a stage's parts from a `TrainConfig`: data (synthetic / curriculum / triples), model and processor.

A fresh model comes from a `config.MODEL_PRESETS` entry plus `TrainConfig.model` overrides; for the tiny presets
its byte-level BPE tokenizer is trained on the training texts (deterministic) and saved in `OUT/tokenizer`; a
resumed run reloads it, so it uses the very same ids. A stage that continues from a saved model (`init_from`) loads
model and processor from that directory (4/8-bit for QLoRA).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from trainer import Parts
from trainer.overrides import apply_mapping
from trainer.recipes import TrainConfig

log = logging.getLogger("trainer")


def synthetic_dir(cfg: TrainConfig) -> Path:
    """Where the synthetic task lives: `data.synthetic_dir`, else `<output_dir>/../data/synthetic`."""
    if cfg.data.synthetic_dir:
        return Path(cfg.data.synthetic_dir)
    return Path(cfg.output_dir).resolve().parent / "data" / "synthetic"


def ensure_synthetic(cfg: TrainConfig, strategy: Any) -> Path:
    """Generate the synthetic task on first use (rank 0; the others wait)."""
    root = synthetic_dir(cfg)
    if strategy.is_main and not (root / "synthetic.json").is_file():
        from loader.synthetic import generate

        log.info("generating the synthetic task under %s (seed %d)", root, cfg.data.synthetic_seed)
        generate(root, seed=cfg.data.synthetic_seed, **cfg.data.synthetic_kwargs)
    strategy.barrier()
    return root


def build_dataset(cfg: TrainConfig, strategy: Any):
    """The map-style dataset of `Sample`s for the stage's data kind."""
    from loader.curriculum import build_curriculum

    kind = cfg.data.kind
    if kind == "synthetic":
        root = ensure_synthetic(cfg, strategy)
        return build_curriculum(root / "train", "synthetic", cache_dir=root / "index", progress=False)
    if kind in ("curriculum", "triples"):
        if not cfg.data.root:
            raise ValueError(f"data.kind={kind!r} needs a dataset root: --set data.root=/path/to/dataset_root")
        cache = Path(cfg.output_dir).resolve().parent / "data" / "index"
        # one rank builds the index cache, the others then read it
        if strategy.is_main:
            ds = build_curriculum(cfg.data.root, cfg.data.mixture, cache_dir=cache, progress=cfg.progress)
        strategy.barrier()
        if not strategy.is_main:
            ds = build_curriculum(cfg.data.root, cfg.data.mixture, cache_dir=cache, progress=False)
        return ds
    raise ValueError(f"data.kind={kind!r}; use 'synthetic', 'curriculum' or 'triples'")


def _texts(dataset: Any) -> Iterator[str]:
    raw = getattr(dataset, "raw_sample", None)
    for i in range(len(dataset)):
        s = raw(i) if raw is not None else dataset[i]
        for t in s.turns:
            yield t.role  # "user"/"assistant" are words of the chat template: one token each, not seven
            yield t.content
        for extra in (s.chosen, s.rejected):
            if extra:
                yield extra


def _column(dataset: Any, name: str, *args: Any) -> np.ndarray | None:
    attr = getattr(dataset, name, None)
    if attr is None:
        return None
    return np.asarray(attr(*args) if callable(attr) else attr)


def build_fresh_model(cfg: TrainConfig, dataset: Any, strategy: Any) -> tuple[torch.nn.Module, Any]:
    """A randomly initialised model of `cfg.model_preset` + overrides, with a tiny tokenizer trained on the data."""
    from config import model_preset
    from model import build_model
    from model.processing import Processor
    from model.tokenizer import build_tiny_tokenizer, load_tokenizer, model_config_ids

    mc = model_preset(cfg.model_preset)
    apply_mapping(mc, cfg.model)
    tok_dir = Path(cfg.output_dir) / "tokenizer"
    if getattr(strategy, "resuming", False) and (tok_dir / "tokenizer.json").is_file():
        tokenizer = load_tokenizer(tok_dir)
    else:
        if mc.vocab_size > 65536:
            raise ValueError(f"model preset {cfg.model_preset!r} has a {mc.vocab_size}-token vocabulary: train it "
                             "from its converted checkpoint (--set init_from=DIR), not from scratch")
        tokenizer = build_tiny_tokenizer(_texts(dataset), mc.vocab_size)
        if strategy.is_main:
            tokenizer.save_pretrained(str(tok_dir))
    strategy.barrier()
    mc = mc.replace(**model_config_ids(tokenizer, mc.template or "tiny"))
    model = build_model(mc)
    return model, Processor(tokenizer, model.config)


def build_parts(cfg: TrainConfig, strategy: Any) -> Parts:
    """Model, processor, samples and collator for one stage."""
    from loader.collate import Collator

    dataset = build_dataset(cfg, strategy)
    if cfg.init_from:
        from model import load_model, load_processor

        quant = cfg.lora.quantization if cfg.lora.enabled else None
        model = load_model(cfg.init_from, dtype=torch.float32, device="cpu", quantization=quant)
        processor = load_processor(cfg.init_from)
    else:
        model, processor = build_fresh_model(cfg, dataset, strategy)
    tpt = int(getattr(model.config, "tokens_per_tile", 256) or 256)
    return Parts(model=model, processor=processor, samples=dataset,
                 collate=Collator(processor, cfg.data.max_length),
                 lengths=_column(dataset, "lengths", 4.0, tpt), text_only=_column(dataset, "text_only"))
