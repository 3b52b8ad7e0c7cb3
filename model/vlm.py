"""`TrolPhantomForCausalLM`: vision tower -> projector -> stock causal LM patched with TroL / Phantom / PLoRA.

* Embedding merge: the projected tile features overwrite the image-token embeddings row-major over the batch
  (spec/model.md §2.5); the counts must match exactly, else a one-line error says how many of each were found.
* Positions: a plain `forward` without `position_ids` uses 0..L-1 for every row, as the authors' forward does;
  `generate` uses padding-aware positions (cumulative mask - 1), so a left-padded row generates exactly what the
  row alone generates.
* The phantom position (first real token) and the PLoRA image mask are derived here, at prefill only.
* Loss: shifted cross-entropy, mean over labels != -100 (and, TroL's rule, positions whose shifted attention mask
  is 0 are dropped; padding labels are -100 anyway, so Phantom's plain rule gives the same value).
* `generate` builds the merged prompt embeddings once and runs stock `GenerationMixin.generate` with them (KV
  cache, batching, beams, streamers); the returned ids are the prompt followed by the new tokens.
"""
from __future__ import annotations

import math

import inspect
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel

from model import phantom as phantom_mod
from model.backbones import build_language_model
from model.configuration import TrolPhantomConfig
from model.plora import PLoRALinear
from model.projector import build_projector
from model.trol import attach_trol, patch_layers
from model.vision import VisionEncoder


class TrolPhantomPreTrainedModel(PreTrainedModel):
    """Common settings (attention backends, gradient checkpointing, weight init of our own modules)."""

    config_class = TrolPhantomConfig
    base_model_prefix = "trol_phantom"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_attention_backend = True
    _no_split_modules: list[str] = []

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        std = 0.02
        if isinstance(module, PLoRALinear):
            nn.init.normal_(module.weight, std=std)
            nn.init.normal_(module.lora_A.weight, std=std)
            nn.init.zeros_(module.lora_B.weight)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def backbone_linears(language_model: nn.Module) -> Iterator[tuple[str, nn.Linear]]:
    """(name, module) of the stock backbone's own linear layers: not the LM head, not the TroL and Phantom
    additions."""
    head = language_model.get_output_embeddings()
    for name, module in language_model.named_modules():
        added = any(tag in name for tag in ("trol", "xattn_", "gating_phantom"))
        if isinstance(module, nn.Linear) and module is not head and not added:
            yield name, module


@torch.no_grad()
def _fan_in_init(language_model: nn.Module, projector: nn.Module, scale: float) -> None:
    """Draw the backbone's own linear weights from N(0, scale / sqrt(fan_in)) and the projector's from
    N(0, 1 / sqrt(fan_in)) (see `llm_init_scale`); the LM head and the TroL and Phantom modules keep the standard
    initialisation."""
    for _, module in backbone_linears(language_model):
        nn.init.normal_(module.weight, std=scale / math.sqrt(module.in_features))
    for module in projector.modules():
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=1 / math.sqrt(module.in_features))


class TrolPhantomForCausalLM(TrolPhantomPreTrainedModel, GenerationMixin):
    """One model class for TroL, Phantom, both or neither, on Qwen2 / Phi-3 / InternLM2 (Llama) backbones."""

    def __init__(self, config: TrolPhantomConfig, attn_implementation: str | None = None) -> None:
        super().__init__(config)
        base_impl = attn_implementation or "sdpa"
        vcfg = config.build_vision_config()
        self.vision_tower = VisionEncoder(
            config.vision_type, vcfg, image_size=config.image_size, downsample_ratio=config.downsample_ratio,
            drop_cls=config.drop_cls, feature_layer=config.vision_feature_layer,
            rescale_in_model=config.rescale_in_model, image_mean=config.image_mean, image_std=config.image_std)
        self.language_model = build_language_model(config, self._llm_impl(base_impl))
        self.vision_proj = build_projector(config.projector, self.vision_tower.out_channels,
                                           self.language_model.config.hidden_size)
        if config.plora_rank:
            from model.plora import apply_plora
            apply_plora(self.language_model, config.plora_rank, config.plora_dropout)
        patch_layers(self.language_model)
        if config.use_trol:
            attach_trol(self.language_model, config.trol_gate, config.trol_gate_dim, owner=self)
        if config.use_phantom:
            phantom_mod.attach_phantom(self.language_model, config.phantom_eta, config.phantom_repeat_kv_first)
        params = inspect.signature(self.language_model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self.post_init()
        if config.llm_init_scale:
            _fan_in_init(self.language_model, self.vision_proj, config.llm_init_scale)
        if config.embed_init_std:
            with torch.no_grad():
                embed = self.get_input_embeddings()
                nn.init.normal_(embed.weight, std=config.embed_init_std)
                if embed.padding_idx is not None:
                    embed.weight[embed.padding_idx].zero_()
        if config.final_norm_init:
            with torch.no_grad():
                self.language_model.model.norm.weight.fill_(config.final_norm_init)

    # ----------------------------------------------------------------------------------------------- attention
    def _llm_impl(self, base: str) -> str:
        if self.config.use_phantom:
            return phantom_mod.PHANTOM_NAMES.get(base, base)
        return base

    def set_attention(self, implementation: str) -> None:
        """Switch the language model's attention kernel: "eager", "sdpa" or "flash_attention_2" (the last falls
        back to sdpa with a notice when flash-attn or a GPU is missing)."""
        from model.accelerators import default_attn_implementation

        name = self._llm_impl(default_attn_implementation(implementation))
        self.language_model.config._attn_implementation = name
        for module in self.language_model.modules():
            cfg = getattr(module, "config", None)
            if cfg is not None and hasattr(cfg, "_attn_implementation") and cfg is not self.config:
                cfg._attn_implementation = name

    # ------------------------------------------------------------------------------------------------ helpers
    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        return self.language_model.get_output_embeddings()

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Projected features (tiles, tokens_per_tile, H) of a stack of tiles."""
        feats = self.vision_tower(pixel_values)
        proj_dtype = self.vision_proj[0].weight.dtype
        return self.vision_proj(feats.to(proj_dtype))

    def embed_inputs(self, input_ids: torch.Tensor, pixel_values: torch.Tensor | None) -> torch.Tensor:
        """Token embeddings with the image-token rows replaced by the projected tile features (row-major)."""
        embeds = self.get_input_embeddings()(input_ids)
        is_image = input_ids == self.config.image_token_index
        n_tokens = int(is_image.sum())
        if pixel_values is None:
            if n_tokens:
                raise ValueError(f"input_ids hold {n_tokens} image tokens (id {self.config.image_token_index}) but "
                                 "pixel_values is None; pass the images or remove the image placeholders")
            return embeds
        feats = self.image_features(pixel_values)
        n_feats = feats.shape[0] * feats.shape[1]
        if n_tokens != n_feats:
            raise ValueError(
                f"input_ids hold {n_tokens} image tokens (id {self.config.image_token_index}) but pixel_values give "
                f"{feats.shape[0]} tiles x {feats.shape[1]} = {n_feats} image features; expand each <image> to "
                f"{feats.shape[1]} tokens per tile with the model's processor")
        embeds = embeds.clone()
        embeds[is_image] = feats.reshape(-1, feats.shape[-1]).to(embeds.dtype)
        return embeds

    # ------------------------------------------------------------------------------------------------ forward
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        image_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Any = None,
        past_key_values: Any = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        **kwargs: Any,
    ):
        """Logits (and loss with `labels`). At prefill (no or empty cache) images are merged and the phantom
        position / image mask derived; later calls are decoding steps on the cache."""
        cache = cache if cache is not None else past_key_values
        past = cache.get_seq_length() if cache is not None else 0
        prefill = past == 0
        if inputs_embeds is None:
            if input_ids is None:
                raise ValueError("forward needs input_ids or inputs_embeds")
            if prefill or pixel_values is not None and (input_ids == self.config.image_token_index).any():
                inputs_embeds = self.embed_inputs(input_ids, pixel_values)
            else:
                inputs_embeds = self.get_input_embeddings()(input_ids)
            if image_mask is None:
                image_mask = input_ids == self.config.image_token_index
        batch, length = inputs_embeds.shape[:2]
        if attention_mask is None:
            attention_mask = torch.ones(batch, past + length, dtype=torch.long, device=inputs_embeds.device)
        if position_ids is None:
            # The authors' plain forward uses 0..L-1 for every row (Phantom's XAttention sees absolute RoPE
            # phases, so this matters there); `generate` passes padding-aware positions itself.
            position_ids = torch.arange(past, past + length, device=inputs_embeds.device)[None].expand(batch, -1)

        extra: dict[str, Any] = {}
        if self.config.use_phantom:
            state = getattr(cache, "_phantom_state", None) if cache is not None else None
            if state is None:
                state = {}
                if cache is not None:
                    cache._phantom_state = state
            extra["phantom_state"] = state
            if prefill:
                extra["phantom_position"] = phantom_mod.phantom_positions(attention_mask, batch, length,
                                                                          inputs_embeds.device)
        if self.config.plora_rank and prefill and image_mask is not None and image_mask.shape == (batch, length):
            extra["image_mask"] = image_mask
        if cache is not None:
            extra[self._cache_kw] = cache
        out = self.language_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                                  position_ids=position_ids, use_cache=use_cache, logits_to_keep=logits_to_keep,
                                  **extra, **kwargs)
        if labels is not None:
            out["loss"] = self.causal_lm_loss(out.logits, labels, attention_mask[:, -length:])
        return out

    def causal_lm_loss(self, logits: torch.Tensor, labels: torch.Tensor,
                       attention_mask: torch.Tensor | None) -> torch.Tensor:
        """Mean shifted cross-entropy over supervised positions (labels != -100, shifted mask != 0)."""
        if labels.shape != logits.shape[:2]:
            raise ValueError(f"labels shape {tuple(labels.shape)} does not match input_ids {tuple(logits.shape[:2])}")
        shift_logits = logits[:, :-1].float()
        shift_labels = labels[:, 1:].clone()
        if self.config.loss_drop_padding and attention_mask is not None:
            shift_labels[attention_mask[:, 1:] == 0] = -100
        return F.cross_entropy(shift_logits.reshape(-1, shift_logits.shape[-1]), shift_labels.reshape(-1),
                               ignore_index=-100)

    # ----------------------------------------------------------------------------------------------- generate
    @torch.no_grad()
    def generate(self, input_ids: torch.LongTensor | None = None, attention_mask: torch.Tensor | None = None,
                 pixel_values: torch.Tensor | None = None, **kwargs: Any) -> torch.LongTensor:
        """Greedy/sampled/beam generation; returns the prompt ids followed by the new tokens."""
        if input_ids is None:
            raise ValueError("generate needs input_ids (the processor's generation_inputs give them)")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        embeds = self.embed_inputs(input_ids, pixel_values)
        image_mask = input_ids == self.config.image_token_index
        kwargs.setdefault("pad_token_id", self.config.pad_token_id)
        if self.config.eos_token_id is not None:
            kwargs.setdefault("eos_token_id", self.config.eos_token_id)
        kwargs.setdefault("use_cache", True)
        return super().generate(input_ids=input_ids, inputs_embeds=embeds, attention_mask=attention_mask,
                                image_mask=image_mask, **kwargs)
