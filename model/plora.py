"""Partial LoRA (InternLM-XComposer2 style, TroL-1.8B/7B): a LoRA term added only at image-token positions.

`PLoRALinear` is an `nn.Linear` (so the base weight keeps the stock `*_proj.weight` name) with `lora_A`
(in -> r, no bias) and `lora_B` (r -> out, no bias) and dropout on the LoRA input; scale alpha/r = 1 in the
released models (rank 256, alpha 256, dropout 0.05, spec/model.md §3.1). The image mask (B, L) is set on the
modules by the patched decoder layer for the duration of one layer call (`set_image_mask`), so it is also
present when gradient checkpointing recomputes the layer. With no mask (decoding, text-only) the LoRA term is
absent, so it can never be merged into the base weight.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PLoRALinear(nn.Linear):
    """y = W x + b, plus lora_B(lora_A(dropout(x))) where the current image mask is true."""

    def __init__(self, in_features: int, out_features: int, bias: bool, rank: int, dropout: float = 0.05) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.lora_A = nn.Linear(in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, out_features, bias=False)
        self.lora_dropout = nn.Dropout(dropout)
        nn.init.zeros_(self.lora_B.weight)   # a fresh adapter starts as the identity change (standard LoRA init)
        self.image_mask: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)
        mask = self.image_mask
        if mask is None or mask.shape != x.shape[:-1]:
            return y
        lora = self.lora_B(self.lora_A(self.lora_dropout(x)))
        return y + lora * mask.unsqueeze(-1).to(lora.dtype)


def _swap(parent: nn.Module, name: str, rank: int, dropout: float) -> None:
    old: nn.Linear = getattr(parent, name)
    new = PLoRALinear(old.in_features, old.out_features, old.bias is not None, rank, dropout)
    new.to(device=old.weight.device, dtype=old.weight.dtype)
    with torch.no_grad():
        new.weight.copy_(old.weight)
        if old.bias is not None:
            new.bias.copy_(old.bias)
    setattr(parent, name, new)


def apply_plora(language_model: nn.Module, rank: int, dropout: float) -> None:
    """Turn every attention and MLP linear of every decoder layer into a `PLoRALinear` (in place)."""
    for layer in language_model.model.layers:
        for parent, names in ((layer.self_attn, ("q_proj", "k_proj", "v_proj", "qkv_proj", "o_proj")),
                              (layer.mlp, ("gate_proj", "up_proj", "gate_up_proj", "down_proj"))):
            for name in names:
                if isinstance(getattr(parent, name, None), nn.Linear):
                    _swap(parent, name, rank, dropout)
        layer.has_plora = True


def set_image_mask(layer: nn.Module, mask: torch.Tensor | None) -> None:
    """Point every `PLoRALinear` of `layer` at `mask` (B, L) bool, or clear it with None."""
    for module in layer.modules():
        if isinstance(module, PLoRALinear):
            module.image_mask = mask
