"""Optional accelerators: flash-attn and bitsandbytes probes with one-line notices, and 4/8-bit quantization.

Nothing here is required: without a GPU, flash-attn or bitsandbytes the model runs in SDPA attention and full
precision, and a single log line says so. Quantization follows the released loaders (spec/model.md §7):
4-bit NF4 (double quantization) or 8-bit LLM.int8 (threshold 6.0), keeping the listed modules in floating point.
"""
from __future__ import annotations

import importlib.util
import logging
import re

import torch
from torch import nn

log = logging.getLogger(__name__)

# Modules kept in floating point, in our parameter names (translated from the authors' skip lists, spec §7).
# TroL-1.8B/7B quantize only the PLoRA adapters; TroL-3.8B the Phi-3 linears; Phantom everything except the
# Phantom modules, the fused qkv/q/k/v projections and the LM head.
SKIP_PATTERNS = {
    "trol_internlm2": [r"^vision_tower\.", r"^vision_proj\.", r"lm_head", r"trol_gat"],
    "trol_phi3": [r"^vision_tower\.", r"^vision_proj\.", r"lm_head", r"trol_gat"],
    "phantom_internlm2": [r"xattn_", r"gating_phantom", r"self_attn\.[qkv]_proj$", r"lm_head"],
    "phantom_phi3": [r"xattn_", r"gating_phantom", r"qkv_proj$", r"lm_head"],
    "phantom_qwen2": [r"xattn_", r"gating_phantom", r"self_attn\.[qkv]_proj$", r"lm_head"],
}


def flash_attn_usable() -> bool:
    """True when a CUDA device and an importable flash-attn 2 are present."""
    if not torch.cuda.is_available() or importlib.util.find_spec("flash_attn") is None:
        return False
    from transformers.utils import is_flash_attn_2_available
    return bool(is_flash_attn_2_available())


def default_attn_implementation(requested: str | None = None) -> str:
    """`requested`, or flash_attention_2 when usable, else sdpa (with a one-line notice if flash was asked)."""
    if requested in (None, "auto"):
        return "flash_attention_2" if flash_attn_usable() else "sdpa"
    if requested == "flash_attention_2" and not flash_attn_usable():
        log.warning("flash-attn not usable here (needs CUDA + flash_attn); falling back to sdpa attention")
        return "sdpa"
    return requested


def bitsandbytes_usable() -> bool:
    return torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes") is not None


def quantization_targets(model: nn.Module, skip: list[str]) -> list[str]:
    """Names of the plain `nn.Linear` modules that quantization would replace (not matching any `skip` regex)."""
    patterns = [re.compile(p) for p in skip]
    return [name for name, mod in model.named_modules()
            if type(mod) is nn.Linear and not any(p.search(name) for p in patterns)]


def quantize_linears(model: nn.Module, mode: str, skip: list[str]) -> int:
    """Replace `nn.Linear`s not matching `skip` by bitsandbytes 4/8-bit layers (in place; model on CUDA).

    Returns the number of replaced layers, or 0 with a one-line notice when bitsandbytes or a GPU is missing."""
    if mode not in ("4bit", "8bit"):
        raise ValueError(f"quantization={mode!r}; use None, '4bit' or '8bit'")
    on_gpu = next(model.parameters()).is_cuda
    if not bitsandbytes_usable() or not on_gpu:
        log.warning("quantization=%s needs a CUDA GPU and bitsandbytes; loading in full precision instead", mode)
        return 0
    import bitsandbytes as bnb

    targets = [(name, model.get_submodule(name)) for name in quantization_targets(model, skip)]
    for name, lin in targets:
        parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
        if mode == "4bit":
            new = bnb.nn.Linear4bit(lin.in_features, lin.out_features, bias=lin.bias is not None,
                                    compute_dtype=lin.weight.dtype, compress_statistics=True, quant_type="nf4")
            new.weight = bnb.nn.Params4bit(lin.weight.data.cpu(), requires_grad=False, quant_type="nf4",
                                           compress_statistics=True)
        else:
            new = bnb.nn.Linear8bitLt(lin.in_features, lin.out_features, bias=lin.bias is not None,
                                      has_fp16_weights=False, threshold=6.0)
            new.weight = bnb.nn.Int8Params(lin.weight.data.cpu(), requires_grad=False, has_fp16_weights=False)
        if lin.bias is not None:
            new.bias = nn.Parameter(lin.bias.data.clone(), requires_grad=False)
        setattr(parent, name.rsplit(".", 1)[-1], new.to(lin.weight.device))   # bitsandbytes quantizes on the move
    return len(targets)
