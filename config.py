"""Configuration presets.

Model presets: `ModelConfig` (a flat dataclass, easy to override from the command line with dotted `--set`
names) and `MODEL_PRESETS` (the seven released sizes plus tiny CPU models). `ModelConfig.to_hf()` gives the
`model.configuration.TrolPhantomConfig` that `model.build_model` instantiates. Shapes of the released sizes are
the public base models' values (spec/model.md §1, marked [unverified] there); loading a real checkpoint always
takes the shapes from its own config.json instead.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# ====================================================================================================== model presets

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class ModelConfig:
    """Everything needed to build a model from scratch. Override any field by keyword (`build_model(p, **kw)`)."""

    family: str = "qwen2"                     # "qwen2" | "phi3" | "internlm2"
    template: str | None = None               # prompt template (processing area); None: chosen from the family
    # language model
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 384
    vocab_size: int = 512
    max_position_embeddings: int = 4096
    rope_theta: float = 1e6
    rope_scaling: dict | None = None          # e.g. {"type": "dynamic", "factor": 2.0}; Phi-3 {"type": "su", ...}
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = False
    # vision tower + projector
    vision_type: str = "internvit"            # "internvit" | "clip" | "siglip"
    vision_hidden_size: int = 64
    vision_layers: int = 2
    vision_heads: int = 2
    vision_intermediate_size: int = 128
    image_size: int = 64                      # tile side in pixels
    patch_size: int = 8
    downsample_ratio: float | None = 0.5      # pixel shuffle (InternViT models); None for CLIP/SigLIP
    projector: str = "ln_mlp"                 # "ln_mlp" | "mlp2x_gelu"
    # tiling / pixels (read by the processor)
    max_tiles: int = 6
    use_thumbnail: bool = True
    image_mean: tuple = IMAGENET_MEAN
    image_std: tuple = IMAGENET_STD
    rescale_in_model: bool = False            # pixels arrive raw 0..255 (TroL-1.8B/7B) instead of normalised
    # special tokens (the tokenizer of tiny models sets these)
    image_token_index: int = 3
    eos_token_id: int = 2
    pad_token_id: int = 0
    bos_token_id: int | None = None
    # mechanisms
    use_trol: bool = False
    trol_gate: str = "per_layer"              # "shared" (released checkpoints) | "per_layer"
    use_phantom: bool = False
    phantom_eta: float = 1e-4
    plora_rank: int = 0                       # partial LoRA on image tokens (TroL-1.8B/7B: 256)
    llm_init_scale: float = 0.0               # > 0: backbone linears ~ N(0, scale/sqrt(fan_in)) (from-scratch runs)
    embed_init_std: float = 0.0               # > 0: token embeddings ~ N(0, std^2) (from-scratch runs)
    final_norm_init: float = 0.0              # > 0: the final norm's weight starts there (from-scratch runs)
    extra: dict = field(default_factory=dict)  # passed to TrolPhantomConfig unchanged

    @property
    def tokens_per_tile(self) -> int:
        grid = self.image_size // self.patch_size
        tokens = grid * grid
        if self.downsample_ratio:
            tokens = int(round(tokens * self.downsample_ratio**2))
        return tokens

    def replace(self, **overrides: Any) -> "ModelConfig":
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(f"unknown model config field(s) {unknown}; valid fields: {sorted(names)}")
        return dataclasses.replace(self, **overrides)

    def to_hf(self):
        """The `TrolPhantomConfig` of this preset."""
        from model.backbones import internlm2_llm_config, phi3_rope_parameters
        from model.configuration import TrolPhantomConfig

        head_dim = self.hidden_size // self.num_heads
        common = dict(hidden_size=self.hidden_size, intermediate_size=self.intermediate_size,
                      num_hidden_layers=self.num_layers, num_attention_heads=self.num_heads,
                      num_key_value_heads=self.num_kv_heads, vocab_size=self.vocab_size,
                      rms_norm_eps=self.rms_norm_eps, max_position_embeddings=self.max_position_embeddings,
                      tie_word_embeddings=self.tie_word_embeddings, bos_token_id=self.bos_token_id,
                      eos_token_id=self.eos_token_id, pad_token_id=self.pad_token_id)
        if self.family == "internlm2":
            llm = internlm2_llm_config(hidden_size=self.hidden_size, intermediate_size=self.intermediate_size,
                                       num_layers=self.num_layers, num_heads=self.num_heads,
                                       num_kv_heads=self.num_kv_heads, vocab_size=self.vocab_size,
                                       rms_norm_eps=self.rms_norm_eps, rope_theta=self.rope_theta,
                                       rope_scaling=self.rope_scaling,
                                       max_position_embeddings=self.max_position_embeddings,
                                       bos_token_id=self.bos_token_id, eos_token_id=self.eos_token_id,
                                       pad_token_id=self.pad_token_id)
            llm["tie_word_embeddings"] = self.tie_word_embeddings
        elif self.family == "phi3":
            orig = (self.rope_scaling or {}).get("original_max_position_embeddings", 4096)
            llm = dict(model_type="phi3", **common, original_max_position_embeddings=orig,
                       rope_parameters=phi3_rope_parameters(self.rope_theta, self.rope_scaling, orig,
                                                            self.max_position_embeddings))
        elif self.family == "qwen2":
            rope = {"rope_type": "default", "rope_theta": float(self.rope_theta)}
            llm = dict(model_type="qwen2", **common, rope_parameters=rope, use_sliding_window=False)
        else:
            raise ValueError(f"unknown family {self.family!r}; use 'qwen2', 'phi3' or 'internlm2'")
        llm["head_dim"] = head_dim
        vision = self._vision_dict()
        template = self.template or _default_template(self.family, self.use_trol, self.use_phantom)
        return TrolPhantomConfig(
            family=self.family, template=template, llm_config=llm, vision_config=vision,
            vision_type=self.vision_type, projector=self.projector, downsample_ratio=self.downsample_ratio,
            drop_cls=self.vision_type != "siglip", image_token_index=self.image_token_index,
            tokens_per_tile=self.tokens_per_tile, image_size=self.image_size, max_tiles=self.max_tiles,
            use_thumbnail=self.use_thumbnail, image_mean=self.image_mean, image_std=self.image_std,
            rescale_in_model=self.rescale_in_model, use_trol=self.use_trol, trol_gate=self.trol_gate,
            use_phantom=self.use_phantom, phantom_eta=self.phantom_eta, plora_rank=self.plora_rank,
            llm_init_scale=self.llm_init_scale, embed_init_std=self.embed_init_std,
            final_norm_init=self.final_norm_init,
            eos_token_id=self.eos_token_id, pad_token_id=self.pad_token_id, bos_token_id=self.bos_token_id,
            **self.extra)

    def _vision_dict(self) -> dict:
        common = dict(hidden_size=self.vision_hidden_size, num_hidden_layers=self.vision_layers,
                      num_attention_heads=self.vision_heads, intermediate_size=self.vision_intermediate_size,
                      image_size=self.image_size, patch_size=self.patch_size, num_channels=3)
        if self.vision_type == "internvit":
            return dict(model_type="internvl_vision", **common, use_mean_pooling=True, use_qk_norm=False,
                        attention_bias=True, layer_norm_eps=1e-6, hidden_act="gelu", norm_type="layer_norm")
        if self.vision_type == "clip":
            return dict(model_type="clip_vision_model", **common, hidden_act="quick_gelu", layer_norm_eps=1e-5,
                        projection_dim=self.vision_hidden_size)
        if self.vision_type == "siglip":
            return dict(model_type="siglip_vision_model", **common, hidden_act="gelu_pytorch_tanh",
                        layer_norm_eps=1e-6)
        raise ValueError(f"unknown vision_type {self.vision_type!r}; use 'internvit', 'clip' or 'siglip'")


def _default_template(family: str, use_trol: bool, use_phantom: bool) -> str:
    if use_trol and not use_phantom:
        return "trol_internlm2" if family == "internlm2" else "trol_phi3" if family == "phi3" else "phantom_chatml"
    return "phantom_phi3" if family == "phi3" else "phantom_chatml"


# InternViT-300M-448px and CLIP ViT-L/14 at 490 px (35 x 35 grid), spec/model.md §1-2.
_INTERNVIT_300M = dict(vision_type="internvit", vision_hidden_size=1024, vision_layers=24, vision_heads=16,
                       vision_intermediate_size=4096, image_size=448, patch_size=14, downsample_ratio=0.5,
                       projector="ln_mlp")
_CLIP_L14_490 = dict(vision_type="clip", vision_hidden_size=1024, vision_layers=24, vision_heads=16,
                     vision_intermediate_size=4096, image_size=490, patch_size=14, downsample_ratio=None,
                     projector="mlp2x_gelu", max_tiles=1, use_thumbnail=False, image_mean=CLIP_MEAN,
                     image_std=CLIP_STD, rescale_in_model=True)
_PHI3_MINI = dict(family="phi3", hidden_size=3072, num_layers=32, num_heads=32, num_kv_heads=32,
                  intermediate_size=8192, vocab_size=32064, max_position_embeddings=131072, rope_theta=1e4,
                  rms_norm_eps=1e-5, eos_token_id=32007, pad_token_id=32000, image_token_index=32013,
                  rope_scaling={"type": "su", "short_factor": [1.0] * 48, "long_factor": [1.0] * 48,
                                "original_max_position_embeddings": 4096})
_INTERNLM2_1_8B = dict(family="internlm2", hidden_size=2048, num_layers=24, num_heads=16, num_kv_heads=8,
                       intermediate_size=8192, vocab_size=92553, max_position_embeddings=32768, rope_theta=1e6,
                       rope_scaling={"type": "dynamic", "factor": 2.0}, rms_norm_eps=1e-5)
_INTERNLM2_7B = dict(_INTERNLM2_1_8B, hidden_size=4096, num_layers=32, num_heads=32, num_kv_heads=8,
                     intermediate_size=14336)

MODEL_PRESETS: dict[str, ModelConfig] = {
    # ---- released sizes (shapes of the public base models; the checkpoints' own config.json wins when loading)
    "trol-1.8b": ModelConfig(**_CLIP_L14_490, **dict(_INTERNLM2_1_8B, vocab_size=92545), use_trol=True,
                             trol_gate="shared", plora_rank=256, image_token_index=92544, eos_token_id=2,
                             pad_token_id=2, bos_token_id=1, extra={"lm_head_rows": 92544}),
    "trol-3.8b": ModelConfig(**_INTERNVIT_300M, **_PHI3_MINI, use_trol=True, trol_gate="shared"),
    "trol-7b": ModelConfig(**_CLIP_L14_490, **dict(_INTERNLM2_7B, vocab_size=92545), use_trol=True,
                           trol_gate="shared", plora_rank=256, image_token_index=92544, eos_token_id=2,
                           pad_token_id=2, bos_token_id=1, extra={"lm_head_rows": 92544}),
    "phantom-0.5b": ModelConfig(**_INTERNVIT_300M, family="qwen2", hidden_size=896, num_layers=24, num_heads=14,
                                num_kv_heads=2, intermediate_size=4864, vocab_size=151655,
                                max_position_embeddings=32768, rope_theta=1e6, rms_norm_eps=1e-6,
                                tie_word_embeddings=True, use_phantom=True, image_token_index=151648,
                                eos_token_id=151645, pad_token_id=151643),
    "phantom-1.8b": ModelConfig(**_INTERNVIT_300M, **_INTERNLM2_1_8B, use_phantom=True, image_token_index=92546,
                                eos_token_id=92542, pad_token_id=2, bos_token_id=1),
    "phantom-3.8b": ModelConfig(**_INTERNVIT_300M, **dict(_PHI3_MINI, eos_token_id=32007), use_phantom=True),
    "phantom-7b": ModelConfig(**_INTERNVIT_300M, **_INTERNLM2_7B, use_phantom=True, image_token_index=92546,
                              eos_token_id=92542, pad_token_id=2, bos_token_id=1),
    # ---- tiny CPU models. `tiny`: TroL + Phantom on a Qwen2 layout with a small InternViT on 64-px tiles, the
    # default model of the quickstart. From-scratch choices, each measured with bench/learnability_probe.py
    # (docs/quickstart.md, "Diagnosis"): 16-px patches (4 tokens per tile after the pixel shuffle: one per
    # quadrant of the synthetic scenes) learn the shapes far sooner than 8-px ones; llm_init_scale=2 and
    # embed_init_std=1 keep the asked-about words visible in the residual stream (with the stock std 0.02 the
    # question-conditioned image questions never leave chance); the LM head tied to the token embeddings (as
    # Qwen2-0.5B's) learns retrieval and the option-letter hop sooner (Diagnosis 7).
    "tiny": ModelConfig(use_trol=True, use_phantom=True, template="tiny", patch_size=16, llm_init_scale=2.0,
                        embed_init_std=1.0, tie_word_embeddings=True),
    "tiny-qwen2": ModelConfig(family="qwen2", hidden_size=64, num_layers=2, intermediate_size=128, vocab_size=256,
                              vision_hidden_size=32, vision_intermediate_size=64),
    "tiny-phi3": ModelConfig(family="phi3", hidden_size=64, num_layers=2, intermediate_size=128, vocab_size=256,
                             rope_theta=1e4, rms_norm_eps=1e-5, vision_hidden_size=32, vision_intermediate_size=64,
                             rope_scaling={"type": "su", "short_factor": [1.0, 1.1, 1.2, 1.0, 1.3, 1.1, 1.0, 1.2],
                                           "long_factor": [4.0, 5.0, 6.0, 4.5, 7.0, 5.5, 4.2, 6.1],
                                           "original_max_position_embeddings": 4096},
                             max_position_embeddings=131072),
    "tiny-internlm2": ModelConfig(family="internlm2", hidden_size=64, num_layers=2, intermediate_size=128,
                                  vocab_size=256, rms_norm_eps=1e-5, rope_scaling={"type": "dynamic", "factor": 2.0},
                                  vision_hidden_size=32, vision_intermediate_size=64),
}


def model_preset(name: str, **overrides: Any) -> ModelConfig:
    """A copy of the preset `name` with `overrides` applied (unknown names raise with the valid list)."""
    if name not in MODEL_PRESETS:
        raise KeyError(f"unknown model preset {name!r}; choose one of {sorted(MODEL_PRESETS)}")
    return MODEL_PRESETS[name].replace(**overrides)

# ================================================================================================ training presets
# The stage recipes live beside the trainer (`trainer/recipes.py`); they are re-exported here so that every
# preset is reachable from one module. Resolved lazily: `trainer.recipes` itself imports the model presets.
_TRAINING_NAMES = ("TrainConfig", "TRAIN_PRESETS", "get_train_preset", "LoraSettings", "PhantomOptSettings",
                   "DataSettings")


def __getattr__(name: str) -> Any:
    if name in _TRAINING_NAMES:
        from trainer import recipes

        return getattr(recipes, name)
    raise AttributeError(f"module 'config' has no attribute {name!r}")
