"""TroL layer traversal (arXiv 2406.12246) as a generic decoder-layer class swap, and gate recording.

For a call with more than one token (training, prefill), every patched layer L runs twice (spec/model.md §4):
    h1 = L(h)                      (reads and writes the KV cache)
    h2 = L(h1)                     (no cache: neither reads nor writes it)
    s  = 0.5 tanh(g(h1)) + 0.5     (TroL-Mixer gate, g = Linear(H, 1) or Linear(H, H))
    out = h1 (1 - s) + h2 s
A one-token call (a cached decoding step) runs the layer once, without gate, so cached generation is by design
not equal to re-running the full two-pass forward (§4.3). The released checkpoints share one gate Linear between
all layers (`trol_gate="shared"`, stored once as `trol_gating`); `trol_gate="per_layer"` gives each layer its own
`trol_gate`. The class swap (`layer.__class__ = Patched<Layer>`) keeps the stock parameter names, and also
carries the partial-LoRA image mask (model/plora.py) into the layer call.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch
from torch import nn

from model.plora import set_image_mask

_PATCHED: dict[type, type] = {}


def _cache_key(kwargs: dict) -> str | None:
    for key in ("cache", "past_key_values"):
        if key in kwargs:
            return key
    return None


def patched_layer_class(base: type) -> type:
    """A subclass of the stock decoder layer `base` with TroL traversal and the PLoRA image mask."""
    if base in _PATCHED:
        return _PATCHED[base]

    class Patched(base):
        def forward(self, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
            image_mask = kwargs.pop("image_mask", None)
            if getattr(self, "has_plora", False):
                ok = image_mask is not None and image_mask.shape == hidden_states.shape[:2]
                set_image_mask(self, image_mask if ok else None)
            try:
                if not getattr(self, "trol_enabled", False) or hidden_states.shape[1] == 1:
                    return super().forward(hidden_states, *args, **kwargs)
                return self._traverse(hidden_states, args, kwargs)
            finally:
                if getattr(self, "has_plora", False):
                    set_image_mask(self, None)

        def _traverse(self, hidden_states: torch.Tensor, args: tuple, kwargs: dict) -> torch.Tensor:
            h1 = super().forward(hidden_states, *args, **kwargs)
            second = dict(kwargs)
            key = _cache_key(second)
            if key is not None:
                second[key] = None
            second["use_cache"] = False
            second["trol_pass"] = 1
            mask = second.get("attention_mask")
            q_len = hidden_states.shape[1]
            if isinstance(mask, torch.Tensor) and mask.dim() == 4 and mask.shape[-1] != q_len:
                mask = mask[..., -q_len:]       # a chunk on a non-empty cache: the second pass sees only itself
                second["attention_mask"] = mask
            h2 = super().forward(h1, *args, **second)
            gate = self.trol_gate_module()
            s = 0.5 * torch.tanh(gate(h1)) + 0.5
            recorder = self.__dict__.get("_trol_recorder")
            if recorder is not None:
                recorder.setdefault(self.trol_layer_idx, []).append(s.detach())
            return h1 * (1 - s) + h2 * s

        def trol_gate_module(self) -> nn.Module:
            gate = getattr(self, "trol_gate", None)
            # The shared gate is looked up on its owner at call time, so a wrapper put in its place (peft's
            # modules_to_save, DDP, ...) is the one that runs.
            return gate if gate is not None else self.__dict__["_trol_gate_owner"].trol_gating

    Patched.__name__ = Patched.__qualname__ = f"Patched{base.__name__}"
    _PATCHED[base] = Patched
    return Patched


def patch_layers(language_model: nn.Module) -> None:
    """Swap every decoder layer of a stock causal LM to its patched class (in place; names unchanged)."""
    for layer in language_model.model.layers:
        if type(layer) not in _PATCHED.values():
            layer.__class__ = patched_layer_class(type(layer))


def attach_trol(language_model: nn.Module, gate: str, gate_dim: int, owner: nn.Module | None = None) -> None:
    """Enable traversal on every layer. A shared gate is registered once as `owner.trol_gating` (the released
    layout: one Linear for all layers); per-layer gates as `layer.trol_gate`."""
    patch_layers(language_model)
    hidden = language_model.config.hidden_size
    owner = language_model if owner is None else owner
    if gate == "shared":
        owner.trol_gating = nn.Linear(hidden, gate_dim)
    for idx, layer in enumerate(language_model.model.layers):
        layer.trol_enabled = True
        layer.trol_layer_idx = idx
        if gate == "shared":
            layer.__dict__["_trol_gate_owner"] = owner   # a plain reference, not a submodule: stored once
        else:
            layer.trol_gate = nn.Linear(hidden, gate_dim)


def set_trol_enabled(model: nn.Module, enabled: bool) -> None:
    """Switch traversal on/off at run time on every patched layer that has a gate (ablations, benchmarks)."""
    for module in model.modules():
        if hasattr(module, "trol_layer_idx"):
            module.trol_enabled = enabled


@contextlib.contextmanager
def record_gates(model: nn.Module) -> Iterator[dict[int, list[torch.Tensor]]]:
    """`with record_gates(model) as gates: model(...)` -> gates[layer_idx] = [s (B, L, 1 or H) per pass call]."""
    gates: dict[int, list[torch.Tensor]] = {}
    layers = [m for m in model.modules() if hasattr(m, "trol_layer_idx")]
    for layer in layers:
        layer.__dict__["_trol_recorder"] = gates
    try:
        yield gates
    finally:
        for layer in layers:
            layer.__dict__.pop("_trol_recorder", None)
