"""LoRA and QLoRA through peft, and merging on export (named `lora.py`, not `peft.py`, to keep `import peft` working).

QLoRA: the backbone is loaded quantized by `model.load_model(..., quantization="4bit"|"8bit")` (bitsandbytes), then
`prepare_model_for_kbit_training` + LoRA (spec/env.md §3.4: works on CPU too). The stage's other trainable groups
(projector, TroL gates, Phantom modules) are unfrozen by `trainer.stages.apply_stage` after wrapping.
"""
from __future__ import annotations

import logging
import re
from typing import Callable

import torch

from trainer.recipes import LoraSettings

log = logging.getLogger("trainer")


def is_quantized(model: torch.nn.Module) -> bool:
    """True when any module stores bitsandbytes 4/8-bit weights."""
    return any(type(m).__name__ in ("Linear4bit", "Linear8bitLt") for m in model.modules())


def apply_lora(model: torch.nn.Module, settings: LoraSettings, gradient_checkpointing: bool = False) -> torch.nn.Module:
    """Wrap `model` in a peft LoRA model with the settings' rank, alpha, dropout and target modules."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if is_quantized(model):
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
    targets = list(settings.target_modules)
    scope = settings.scope
    hits = [n for n, _ in model.named_modules()
            if n.rsplit(".", 1)[-1] in targets and (not scope or f"{scope}." in f"{n}." or n.startswith(scope))]
    if not hits:
        raise ValueError(f"lora.target_modules {targets} (scope {scope!r}) match no module of "
                         f"{type(model).__name__}; fix with --set lora.target_modules=q_proj,v_proj or lora.scope=")
    # peft matches a string target with re.fullmatch on the module name: restrict it to the scope
    pattern = rf".*{re.escape(scope)}.*\.({'|'.join(map(re.escape, targets))})" if scope else targets
    cfg = LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                     target_modules=pattern, bias="none")
    peft_model = get_peft_model(model, cfg)
    n = sum(p.numel() for n_, p in peft_model.named_parameters() if "lora_" in n_)
    log.info("LoRA r=%d alpha=%d on %s: %s adapter parameters", settings.r, settings.alpha, targets, f"{n:,}")
    return peft_model


def is_peft(model: torch.nn.Module) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "merge_and_unload")


def merged_for_export(model: torch.nn.Module, settings: LoraSettings | None = None,
                      load_base: Callable[[], torch.nn.Module] | None = None) -> torch.nn.Module:
    """The plain model to save: LoRA merged into the base weights (in place; call at the end of training).

    A 4/8-bit base cannot take the merge without loss: the trained weights (adapters and the stage's other
    trainable parameters) are copied onto a freshly loaded full-precision base (`load_base`), merged there."""
    if not is_peft(model):
        return model
    if not is_quantized(model):
        return model.merge_and_unload()
    if load_base is None or settings is None:
        raise RuntimeError("merging LoRA into a 4/8-bit backbone is lossy; pass the unquantized base "
                           "(init_from) to merge on a full-precision copy")
    trained = {n: p.detach().float().cpu() for n, p in model.named_parameters() if p.requires_grad}
    fresh = apply_lora(load_base(), settings)
    params = dict(fresh.named_parameters())
    missing = [n for n in trained if n not in params]
    if missing:
        raise RuntimeError(f"full-precision base lacks trained parameters {missing[:5]}; the stage's init_from "
                           "must be the same model that was loaded quantized")
    with torch.no_grad():
        for n, t in trained.items():
            params[n].copy_(t.to(params[n].dtype))
    log.info("merged LoRA on a full-precision copy of the base (%d trained tensors)", len(trained))
    return fresh.merge_and_unload()
