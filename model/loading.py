"""Checkpoint loading: hub-id resolution, our own format, the authors' layouts, strict key checks, dtype/device.

Both formats go through `load_weights_strict`, which fills the model from a state dict and raises one error
naming the file(s), every unexpected and missing key, and the fix. Parameters that are tied to another one
(e.g. a tied LM head) count as present when their partner is.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)


def resolve_path(path_or_hub_id: str | Path) -> Path:
    """A local directory as is; anything else is a hub id fetched with huggingface_hub.snapshot_download."""
    p = Path(path_or_hub_id).expanduser()
    if p.is_dir():
        return p
    if p.exists():
        raise NotADirectoryError(f"{p} is a file; pass the checkpoint directory that holds config.json")
    from huggingface_hub import snapshot_download  # only for hub ids; never reached in tests

    return Path(snapshot_download(str(path_or_hub_id), allow_patterns=["*.json", "*.safetensors", "trol_gating.*",
                                                                          "*.model", "*.txt"]))


def _tied_groups(model: nn.Module) -> list[set[str]]:
    by_ptr: dict[int, set[str]] = {}
    for name, t in model.state_dict(keep_vars=True).items():
        by_ptr.setdefault(t.data_ptr(), set()).add(name)
    return [names for names in by_ptr.values() if len(names) > 1]


def load_weights_strict(model: nn.Module, state: dict[str, torch.Tensor], source: str,
                        unexpected_source: list[str] | None = None) -> None:
    """Copy `state` into `model`; raise if any key is unexpected, missing, or has the wrong shape."""
    own = model.state_dict()
    unexpected = sorted(set(unexpected_source or []) | (set(state) - set(own)))
    missing = set(own) - set(state)
    for group in _tied_groups(model):
        if group & set(state):
            missing -= group
    shape_errors = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                    for k in state if k in own and tuple(state[k].shape) != tuple(own[k].shape)]
    if unexpected or missing or shape_errors:
        parts = []
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:8]}{' ...' if len(unexpected) > 8 else ''} ({len(unexpected)})")
        if missing:
            miss = sorted(missing)
            parts.append(f"missing keys {miss[:8]}{' ...' if len(miss) > 8 else ''} ({len(miss)})")
        if shape_errors:
            parts.append(f"shape mismatches {shape_errors[:4]}")
        raise ValueError(f"checkpoint {source}: " + "; ".join(parts) + ". The weights do not match config.json: "
                         "use the config the weights were saved with, or re-save the model with save_pretrained")
    result = model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    if result.unexpected_keys:
        raise ValueError(f"checkpoint {source}: unexpected keys {result.unexpected_keys[:8]}")


def load_own_checkpoint(root: Path, attn_implementation: str):
    """A directory written by `save_pretrained` of `TrolPhantomForCausalLM`."""
    from model.configuration import TrolPhantomConfig
    from model.convert import read_state_dict, weight_files
    from model.vlm import TrolPhantomForCausalLM

    files = weight_files(root)                 # fail on missing/pickle-only weights before building anything
    config = TrolPhantomConfig.from_pretrained(str(root))
    model = TrolPhantomForCausalLM(config, attn_implementation=attn_implementation)
    state = read_state_dict(root)
    load_weights_strict(model, state, ", ".join(str(f) for f in files))
    return model


def load_checkpoint(path_or_hub_id: str | Path, dtype: torch.dtype, device: str | torch.device,
                    quantization: str | None, attn_implementation: str | None):
    """Body of `model.load_model` (see there)."""
    from model.accelerators import SKIP_PATTERNS, default_attn_implementation, quantize_linears
    from model.convert import detect_layout, load_authors_checkpoint

    root = resolve_path(path_or_hub_id)
    cfg_file = root / "config.json"
    if not cfg_file.exists():
        raise FileNotFoundError(f"{root}: no config.json; pass a model directory written by save_pretrained or an "
                                "authors' TroL/Phantom checkpoint")
    cfg = json.loads(cfg_file.read_text())
    impl = default_attn_implementation(attn_implementation)
    if cfg.get("model_type") == "trol_phantom":
        model, layout = load_own_checkpoint(root, impl), None
    else:
        layout = detect_layout(cfg)
        model = load_authors_checkpoint(root, attn_implementation=impl)
    model = model.to(dtype=dtype)
    if quantization is not None:
        key = layout or _layout_of(model.config)
        replaced = quantize_linears(model.to(device), quantization, SKIP_PATTERNS[key])
        if replaced:
            log.info("quantized %d linear layers to %s", replaced, quantization)
    model = model.to(device)
    model.eval()
    return model


def _layout_of(config) -> str:
    if config.use_trol and not config.use_phantom:
        return "trol_internlm2" if config.family == "internlm2" else "trol_phi3"
    return f"phantom_{config.family}"
