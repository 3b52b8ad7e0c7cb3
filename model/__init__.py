"""Public API of the model core: `load_model`, `build_model`, `load_processor`, the model and config classes.

    model = build_model("tiny", vocab_size=..., image_token_index=...)   # random init from a preset / config
    model.save_pretrained(out_dir)                                       # safetensors + config.json
    model = load_model(out_dir_or_authors_dir_or_hub_id, dtype=torch.float32, device="cpu")

The config and model classes are registered with transformers' AutoConfig / AutoModelForCausalLM.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from model.configuration import MODEL_TYPE, TrolPhantomConfig
from model.vlm import TrolPhantomForCausalLM

__all__ = ["TrolPhantomConfig", "TrolPhantomForCausalLM", "build_model", "load_model", "load_processor"]

AutoConfig.register(MODEL_TYPE, TrolPhantomConfig, exist_ok=True)
AutoModelForCausalLM.register(TrolPhantomConfig, TrolPhantomForCausalLM, exist_ok=True)


def build_model(preset_or_config: Any = "tiny", attn_implementation: str | None = None,
                dtype: torch.dtype = torch.float32, **overrides: Any) -> TrolPhantomForCausalLM:
    """A randomly initialised model from a preset name, a `config.ModelConfig` or a `TrolPhantomConfig`.

    `overrides` replace fields (vocab_size, image_token_index, eos_token_id, pad_token_id, use_trol,
    use_phantom, ...): ModelConfig field names for presets/ModelConfig, config attributes for TrolPhantomConfig."""
    from config import ModelConfig, model_preset
    from model.accelerators import default_attn_implementation

    if isinstance(preset_or_config, str):
        hf = model_preset(preset_or_config, **overrides).to_hf()
    elif isinstance(preset_or_config, ModelConfig):
        hf = preset_or_config.replace(**overrides).to_hf()
    elif isinstance(preset_or_config, TrolPhantomConfig):
        hf = copy.deepcopy(preset_or_config)
        for key, value in overrides.items():
            if not hasattr(hf, key):
                raise ValueError(f"TrolPhantomConfig has no field {key!r}")
            setattr(hf, key, value)
        hf.__dict__.pop("_text_config_cache", None)
    else:
        raise TypeError("build_model takes a preset name, ModelConfig or TrolPhantomConfig, "
                        f"not {type(preset_or_config).__name__}")
    model = TrolPhantomForCausalLM(hf, attn_implementation=default_attn_implementation(attn_implementation))
    return model.to(dtype)


def load_model(path_or_hub_id: str | Path, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu",
               quantization: str | None = None, attn_implementation: str | None = None) -> TrolPhantomForCausalLM:
    """Load our own saved model or an authors' checkpoint (BK-Lee/TroL-*, BK-Lee/Phantom-*), in eval mode.

    No remote code, no pickle execution; quantization "4bit"/"8bit" needs a GPU and bitsandbytes (else a notice)."""
    from model.loading import load_checkpoint

    return load_checkpoint(path_or_hub_id, dtype=dtype, device=device, quantization=quantization,
                           attn_implementation=attn_implementation)


def load_processor(path_or_hub_id: str | Path):
    """The processor of a model directory (implemented by the processing area in model/processing.py)."""
    from model.processing import load_processor as _load

    return _load(path_or_hub_id)
