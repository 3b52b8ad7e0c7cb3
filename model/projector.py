"""Vision-to-language projectors, laid out as in the released checkpoints (`vision_proj.<index>` names).

* "ln_mlp" (TroL-3.8B, all Phantom): 0 = LayerNorm(C) (eps 1e-5), 1 = Linear(C, H), 2 = GELU (erf), 3 = Linear(H, H).
* "mlp2x_gelu" (TroL-1.8B/7B): 0 = Linear(C, H), 1 = GELU (erf), 2 = Linear(H, H).
spec/model.md §2.2 and §2.4.
"""
from __future__ import annotations

from torch import nn


def build_projector(kind: str, in_channels: int, hidden_size: int) -> nn.Sequential:
    """The projector `kind` mapping vision features of width `in_channels` to the LLM width `hidden_size`."""
    if kind == "ln_mlp":
        return nn.Sequential(nn.LayerNorm(in_channels), nn.Linear(in_channels, hidden_size), nn.GELU(),
                             nn.Linear(hidden_size, hidden_size))
    if kind == "mlp2x_gelu":
        return nn.Sequential(nn.Linear(in_channels, hidden_size), nn.GELU(), nn.Linear(hidden_size, hidden_size))
    raise ValueError(f"unknown projector {kind!r}; use 'ln_mlp' or 'mlp2x_gelu'")
