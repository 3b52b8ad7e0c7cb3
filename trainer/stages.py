"""Trainable-parameter groups per stage: which modules train, declared once and logged.

A parameter belongs to the first group whose name pattern it contains; the rest is the language model ("llm":
embeddings, decoder layers, LM head). Names follow the model area's modules (the Phantom and TroL names are those of
spec/env.md §3.3). TroL step 1 trains ["projector", "trol"], Phantom step 1 ["projector", "phantom"] (spec/model.md
§12); "all" trains everything; "lora" the peft adapters.
"""
from __future__ import annotations

import logging
from collections import Counter

import torch

# Order matters: LoRA adapters inside a decoder layer are "lora", not "llm".
GROUP_PATTERNS: dict[str, tuple[str, ...]] = {
    # peft adapters (adapter name "default"); the model's own partial LoRA (model/plora.py) is part of "llm"
    "lora": ("lora_A.default", "lora_B.default", "lora_embedding_A.default", "lora_embedding_B.default"),
    "trol": ("trol_gate", "trol_gating"),  # per-layer `trol_gate` or the shared `trol_gating` (model/trol.py)
    "phantom": ("xattn_query_phantom", "xattn_key_phantom", "xattn_value_phantom", "gating_phantom", "phantom"),
    "projector": ("vision_proj",),
    "vision": ("vision_tower",),
}


def group_of(name: str) -> str:
    """The group of a parameter name."""
    for group, patterns in GROUP_PATTERNS.items():
        if any(p in name for p in patterns):
            return group
    return "llm"


def apply_stage(model: torch.nn.Module, trainable: list[str], log: logging.Logger | None = None) -> dict[str, int]:
    """Set `requires_grad` by group; returns the trainable parameter count per group and logs the frozen ones.

    Fails when a requested group matches no parameter (a stage that silently trains nothing is a bug).
    """
    want = set(trainable)
    counts: Counter[str] = Counter()
    frozen: Counter[str] = Counter()
    for name, p in model.named_parameters():
        g = group_of(name)
        on = ("all" in want and g != "lora") or g in want
        if g == "lora" and "all" in want:
            on = True
        if on and not p.dtype.is_floating_point:
            on = False  # quantized storage (bitsandbytes) cannot train
        p.requires_grad_(on)
        (counts if on else frozen)[g] += p.numel()
    missing = [g for g in want if g != "all" and counts[g] == 0]
    if missing:
        raise ValueError(
            f"stage trainable groups {missing} match no parameter of {type(model).__name__}; patterns: "
            f"{ {g: GROUP_PATTERNS.get(g) for g in missing} }. Fix the preset's `trainable` or the model config "
            f"(e.g. use_trol / use_phantom / lora.enabled)")
    if log is not None:
        log.info("trainable parameters: %s", {g: f"{n:,}" for g, n in sorted(counts.items())})
        log.info("frozen parameters: %s", {g: f"{n:,}" for g, n in sorted(frozen.items())})
    return dict(counts)


def trainable_named_parameters(model: torch.nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]
