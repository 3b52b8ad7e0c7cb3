"""Phantom dimension (arXiv 2409.14713) as a registered `transformers` attention function plus per-layer modules.

Per attention module (spec/model.md §5): after projection, RoPE and the KV-cache update,
  * the phantom vectors P_q, P_k, P_v are q, k, v at the row's phantom position (the first real token) at prefill;
    they are kept in a per-forward/per-cache dict (`phantom_state`, one entry per layer) for decoding steps;
  * XAttention over the *head* axis: Y = GELU(softmax(GELU(X Wq) GELU(P Wk)^T / sqrt(d)) GELU(P Wv) Wo);
    q* = eta Y_q, k* = eta Y_k, v* = v + eta Y_v (eta = 1e-4 hard-coded in the released code);
  * attention on the widened heads [q|q*], [k|k*], [v|v*] (2d) with the stock scale 1/sqrt(d);
  * gated back to d: w = e^g1(o1) / (e^g1(o1) + e^g2(o2)) = sigmoid(g1 - g2); o = w o1 + (1 - w) o2.
The Qwen2/Phi-3 code repeats the key/value heads before the branch, InternLM2 after (`phantom_repeat_kv_first`).

Registered names: "phantom_sdpa", "phantom_eager", "phantom_fa2" (flash-attn kernel, when installed); each has
the matching mask function registered under the same name (without it `create_causal_mask` drops padding).
The eager/SDPA kernels ignore `sliding_window` (no released backbone reaches its window: Phi-3-mini's is 262144).
Modules keep the authors' parameter names (`xattn_{query,key,value}_phantom.linear_{q,k,v,o}`,
`gating_phantom_{1,2}`), so released weights load unchanged.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, eager_mask, flash_attention_mask, sdpa_mask

PHANTOM_NAMES = {"sdpa": "phantom_sdpa", "eager": "phantom_eager", "flash_attention_2": "phantom_fa2"}


class XAttention(nn.Module):
    """Attention of every head of every token over the heads of the phantom token (bias-free d x d linears)."""

    def __init__(self, head_dim: int) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.linear_q = nn.Linear(head_dim, head_dim, bias=False)
        self.linear_k = nn.Linear(head_dim, head_dim, bias=False)
        self.linear_v = nn.Linear(head_dim, head_dim, bias=False)
        self.linear_o = nn.Linear(head_dim, head_dim, bias=False)

    def forward(self, x: torch.Tensor, phantom: torch.Tensor) -> torch.Tensor:
        """x (B, L, n, d), phantom (B, 1, n, d) -> (B, L, n, d)."""
        a = F.gelu(self.linear_q(x))
        kp = F.gelu(self.linear_k(phantom))
        vp = F.gelu(self.linear_v(phantom))
        scores = torch.matmul(a, kp.transpose(-1, -2)) / math.sqrt(self.head_dim)   # (B, L, n, n)
        return F.gelu(self.linear_o(torch.matmul(scores.softmax(-1), vp)))


def attach_phantom(language_model: nn.Module, eta: float, repeat_kv_first: bool) -> None:
    """Add the five Phantom modules to every attention module of a stock causal LM (in place)."""
    for layer in language_model.model.layers:
        attn = layer.self_attn
        d = attn.head_dim
        attn.xattn_query_phantom = XAttention(d)
        attn.xattn_key_phantom = XAttention(d)
        attn.xattn_value_phantom = XAttention(d)
        attn.gating_phantom_1 = nn.Linear(d, 1)
        attn.gating_phantom_2 = nn.Linear(d, 1)
        attn.phantom_eta = eta
        attn.phantom_repeat_kv_first = repeat_kv_first


def phantom_positions(attention_mask: torch.Tensor | None, batch: int, length: int,
                      device: torch.device) -> torch.Tensor:
    """Index of the first real token per row (left padding): the phantom ("sos") position, spec §5.2."""
    if attention_mask is None:
        return torch.zeros(batch, dtype=torch.long, device=device)
    mask = attention_mask[:, -length:].bool()
    first = mask.int().argmax(-1)
    return first.to(device)


def _repeat_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, n_kv, L, D) -> (B, heads, L, D), query head h reading key/value head h // (heads / n_kv)."""
    n_kv = x.shape[1]
    return x if n_kv == heads else x.repeat_interleave(heads // n_kv, dim=1)


def _bottom_right_causal(q_len: int, k_len: int, device: torch.device) -> torch.Tensor:
    i = torch.arange(q_len, device=device)[:, None]
    j = torch.arange(k_len, device=device)[None, :]
    return j <= i + (k_len - q_len)


def _kernel_eager(module, q, k, v, mask, dropout, scaling, **_):
    k, v = _repeat_heads(k, q.shape[1]), _repeat_heads(v, q.shape[1])
    scores = torch.matmul(q, k.transpose(2, 3)) * scaling
    if mask is not None and mask.dtype == torch.bool:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    elif mask is not None:
        scores = scores + mask
    elif q.shape[2] > 1:
        causal = _bottom_right_causal(q.shape[2], k.shape[2], q.device)
        scores = scores.masked_fill(~causal, torch.finfo(scores.dtype).min)
    probs = F.dropout(scores.softmax(-1, dtype=torch.float32).to(q.dtype), p=dropout, training=module.training)
    return torch.matmul(probs, v).transpose(1, 2).contiguous()


def _kernel_sdpa(module, q, k, v, mask, dropout, scaling, **_):
    k, v = _repeat_heads(k, q.shape[1]), _repeat_heads(v, q.shape[1])
    if mask is None and q.shape[2] > 1:
        mask = _bottom_right_causal(q.shape[2], k.shape[2], q.device)
    elif mask is not None and mask.dtype == torch.bool:
        # Rows that may see no key (left-padding queries) would give NaN; let them see everything instead, they
        # are padding and never read (the same fix transformers applies to its SDPA masks).
        mask = mask | ~mask.any(-1, keepdim=True)
    elif mask is not None:
        mask = mask.to(q.dtype)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout if module.training else 0.0,
                                         scale=scaling)
    return out.transpose(1, 2).contiguous()


def _kernel_flash(module, q, k, v, mask, dropout, scaling, **kwargs):
    from transformers.integrations.flash_attention import flash_attention_forward

    k, v = _repeat_heads(k, q.shape[1]), _repeat_heads(v, q.shape[1])
    kwargs = {key: val for key, val in kwargs.items() if not key.startswith(("phantom_", "trol_", "image_mask"))}
    out, _ = flash_attention_forward(module, q, k, v, mask, dropout=dropout, scaling=scaling, **kwargs)
    return out


def _make_attention(kernel: Callable) -> Callable:
    def phantom_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                          attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                          **kwargs: Any) -> tuple[torch.Tensor, None]:
        scaling = module.scaling if scaling is None else scaling
        if not hasattr(module, "xattn_query_phantom"):
            return kernel(module, query, key, value, attention_mask, dropout, scaling, **kwargs), None
        if module.phantom_repeat_kv_first:
            key, value = _repeat_heads(key, query.shape[1]), _repeat_heads(value, query.shape[1])
        q, k, v = (t.transpose(1, 2) for t in (query, key, value))          # (B, L, n, d)
        state = kwargs.get("phantom_state")
        pos = kwargs.get("phantom_position")
        if pos is not None:
            rows = torch.arange(q.shape[0], device=q.device)
            # At prefill the key/value tensors cover exactly the current tokens, so `pos` indexes them too.
            offset = k.shape[1] - q.shape[1]
            phantom = (q[rows, pos][:, None], k[rows, pos + offset][:, None], v[rows, pos + offset][:, None])
            if state is not None and not kwargs.get("trol_pass"):
                state[module.layer_idx] = phantom
        else:
            if state is None or module.layer_idx not in state:
                raise RuntimeError(f"Phantom attention got a decoding step without a prefill (no phantom vectors for "
                                   f"layer {module.layer_idx}); run the prompt through the model first with a cache")
            phantom = state[module.layer_idx]
        pq, pk, pv = phantom
        eta = module.phantom_eta
        q2 = torch.cat([q, eta * module.xattn_query_phantom(q, pq)], -1)
        k2 = torch.cat([k, eta * module.xattn_key_phantom(k, pk)], -1)
        v2 = torch.cat([v, v + eta * module.xattn_value_phantom(v, pv)], -1)
        out = kernel(module, q2.transpose(1, 2), k2.transpose(1, 2), v2.transpose(1, 2), attention_mask,
                     dropout, scaling, **kwargs)                               # (B, L, nh, 2d)
        d = q.shape[-1]
        o1, o2 = out[..., :d], out[..., d:]
        # sigmoid(g1 - g2) equals the authors' literal exp ratio and cannot overflow in half precision.
        w = torch.sigmoid(module.gating_phantom_1(o1) - module.gating_phantom_2(o2))
        return w * o1 + (1 - w) * o2, None

    return phantom_attention


def register_phantom_attention() -> None:
    """Register the three Phantom attention functions and their mask functions (idempotent)."""
    for base, kernel, mask_fn in (("sdpa", _kernel_sdpa, sdpa_mask), ("eager", _kernel_eager, eager_mask),
                                  ("flash_attention_2", _kernel_flash, flash_attention_mask)):
        name = PHANTOM_NAMES[base]
        AttentionInterface.register(name, _make_attention(kernel))
        AttentionMaskInterface.register(name, mask_fn)


register_phantom_attention()
