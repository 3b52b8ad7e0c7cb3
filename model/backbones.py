"""Language backbones: stock `Qwen2ForCausalLM`, `Phi3ForCausalLM`, and InternLM2 hosted by `LlamaForCausalLM`.

transformers ships no InternLM2; its layer is Llama's with renamed weights and a packed `wqkv` grouped per KV
head (spec/model.md §3.1): viewed as (nkv, r + 2, d, H), `[:, :r]` are the r query heads of group g, `[:, r]` its
key head and `[:, r+1]` its value head, which is exactly Llama's `repeat_kv` convention after unpacking.
TroL-1.8B/7B's embedding has one more row than the LM head (the `<image>` row); `lm_head_rows` rebuilds the head.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import AutoModelForCausalLM, PreTrainedModel

from model.configuration import TrolPhantomConfig

FAMILY_MODEL_TYPE = {"qwen2": "qwen2", "phi3": "phi3", "internlm2": "llama"}


def build_language_model(config: TrolPhantomConfig, attn_implementation: str) -> PreTrainedModel:
    """Random-init stock causal LM of `config.llm_config` with the given attention implementation."""
    llm_cfg = config.build_llm_config()
    want = FAMILY_MODEL_TYPE[config.family]
    if llm_cfg.model_type != want:
        raise ValueError(f"family {config.family!r} needs llm_config model_type {want!r}, got {llm_cfg.model_type!r}")
    model = AutoModelForCausalLM.from_config(llm_cfg, attn_implementation=attn_implementation)
    rows = config.lm_head_rows
    if rows and rows != llm_cfg.vocab_size:
        old = model.lm_head
        model.lm_head = nn.Linear(old.in_features, rows, bias=False, device=old.weight.device, dtype=old.weight.dtype)
    return model


def split_internlm2_wqkv(weight: torch.Tensor, num_heads: int, num_kv_heads: int,
                         head_dim: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Unpack InternLM2's grouped `wqkv` rows ((nh + 2 nkv) d, in) into Llama's q, k, v rows.

    Also used for a bias vector (in = absent) and for TroL's LoRA-B rows."""
    r = num_heads // num_kv_heads
    rest = weight.shape[1:]
    w = weight.reshape(num_kv_heads, r + 2, head_dim, *rest)
    q = w[:, :r].reshape(num_heads * head_dim, *rest)
    k = w[:, r].reshape(num_kv_heads * head_dim, *rest)
    v = w[:, r + 1].reshape(num_kv_heads * head_dim, *rest)
    return q.contiguous(), k.contiguous(), v.contiguous()


def internlm2_llm_config(*, hidden_size: int, intermediate_size: int, num_layers: int, num_heads: int,
                         num_kv_heads: int, vocab_size: int, rms_norm_eps: float = 1e-5,
                         rope_theta: float = 1e6, rope_scaling: dict | None = None,
                         max_position_embeddings: int = 32768, bias: bool = False,
                         bos_token_id: int | None = 1, eos_token_id: int | None = 2,
                         pad_token_id: int | None = 2) -> dict:
    """The Llama config dict that hosts an InternLM2 model (RoPE: half rotation, optional dynamic NTK)."""
    rope: dict = {"rope_type": "default", "rope_theta": float(rope_theta)}
    if rope_scaling and rope_scaling.get("type", rope_scaling.get("rope_type")) == "dynamic":
        rope = {"rope_type": "dynamic", "factor": float(rope_scaling.get("factor", 1.0)),
                "rope_theta": float(rope_theta)}
    return {
        "model_type": "llama", "hidden_size": hidden_size, "intermediate_size": intermediate_size,
        "num_hidden_layers": num_layers, "num_attention_heads": num_heads, "num_key_value_heads": num_kv_heads,
        "head_dim": hidden_size // num_heads, "vocab_size": vocab_size, "rms_norm_eps": rms_norm_eps,
        "rope_parameters": rope, "max_position_embeddings": max_position_embeddings, "attention_bias": bias,
        "mlp_bias": False, "hidden_act": "silu", "tie_word_embeddings": False, "bos_token_id": bos_token_id,
        "eos_token_id": eos_token_id, "pad_token_id": pad_token_id,
    }


def phi3_rope_parameters(rope_theta: float, rope_scaling: dict | None, original_max_position_embeddings: int | None,
                         max_position_embeddings: int | None = None) -> dict:
    """Phi-3's 'su' scaling is transformers' 'longrope' (short/long factors switched on the sequence length).

    `factor` = max / original positions is what transformers would derive itself (cos/sin are then scaled by
    sqrt(1 + ln factor / ln original)); giving it explicitly avoids a warning at every load."""
    if not rope_scaling:
        return {"rope_type": "default", "rope_theta": float(rope_theta)}
    kind = rope_scaling.get("type", rope_scaling.get("rope_type"))
    if kind in ("su", "longrope"):
        out = {"rope_type": "longrope", "rope_theta": float(rope_theta),
               "short_factor": list(rope_scaling["short_factor"]), "long_factor": list(rope_scaling["long_factor"])}
        if original_max_position_embeddings:
            out["original_max_position_embeddings"] = int(original_max_position_embeddings)
            if max_position_embeddings:
                out["factor"] = max_position_embeddings / original_max_position_embeddings
        return out
    raise ValueError(f"unsupported Phi-3 rope_scaling type {kind!r}; expected 'su'/'longrope'")
