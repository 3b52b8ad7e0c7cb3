"""`TrolPhantomConfig`: the one `transformers` configuration of every model this project builds or loads.

The language model and the vision tower are described by plain dictionaries (`llm_config`, `vision_config`) in
the format of the stock `transformers` configuration they build (Qwen2/Phi-3/Llama; InternVL-vision/CLIP/SigLIP),
so the file round-trips through `save_pretrained` / `from_pretrained` with no custom sub-config classes. The
top-level fields are the ones the processing area reads (family, template, image tokens, tiling, normalisation)
and the switches of the two mechanisms (TroL traversal, Phantom dimension, partial LoRA).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import AutoConfig, PretrainedConfig

MODEL_TYPE = "trol_phantom"
FAMILIES = ("internlm2", "phi3", "qwen2")
VISION_TYPES = ("internvit", "clip", "siglip")
PROJECTORS = ("ln_mlp", "mlp2x_gelu")

# ImageNet statistics (InternViT preprocessing) and CLIP's own statistics (TroL-1.8B/7B), spec/model.md §2.3-2.4.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# A TroL-InternLM2 directory may store its CLIP tower's config beside config.json (the released code takes it from
# openai/clip-vit-large-patch14-336 instead; the fixtures store a tiny one): read by the model and the processor.
VISION_TOWER_FILE = "vision_tower_config.json"


def stored_vision_tower(root: str | Path) -> dict[str, Any]:
    """The `VISION_TOWER_FILE` of a model directory, or {} when there is none."""
    path = Path(root) / VISION_TOWER_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


class TrolPhantomConfig(PretrainedConfig):
    """Configuration of `TrolPhantomForCausalLM` (vision tower -> projector -> patched language model).

    Fields beyond the standard ones:
      family: "internlm2" | "phi3" | "qwen2" (InternLM2 is hosted by the Llama classes).
      template: prompt template name (processing area).
      llm_config / vision_config: dicts of the stock configs (each has `model_type`).
      vision_type: "internvit" | "clip" | "siglip"; projector: "ln_mlp" | "mlp2x_gelu".
      downsample_ratio: pixel-shuffle ratio (0.5 for InternViT models) or None.
      drop_cls: drop the first vision token (CLS) before the projector.
      image_token_index, tokens_per_tile, image_size, max_tiles, use_thumbnail, image_mean, image_std.
      rescale_in_model: pixel_values arrive as raw 0..255 values and the model normalises them
        ((x - 255 mean) / (255 std), TroL-1.8B/7B's convention); otherwise they arrive normalised.
      use_trol, trol_gate ("shared": one Linear for all layers as released; "per_layer"), trol_gate_dim (1 or H).
      use_phantom, phantom_eta (1e-4 in the released code), phantom_repeat_kv_first (Qwen2/Phi-3 code repeats the
        key/value heads before the Phantom branch, InternLM2 does not).
      plora_rank: rank of the partial LoRA on image tokens (0 = none; 256 in TroL-1.8B/7B), plora_dropout.
      lm_head_rows: rows of the LM head when they differ from the embedding rows (TroL-InternLM2: V vs V+1).
      loss_drop_padding: drop positions whose shifted attention mask is 0 from the loss (TroL's rule).
      llm_init_scale: 0 keeps the stock N(0, 0.02) initialisation; > 0 draws the language model's own linear
        weights (not the LM head, not the TroL/Phantom modules) from N(0, scale / sqrt(fan_in)). Only matters for
        models trained from scratch: at width 128, std 0.02 leaves attention logits near zero and the tiny model
        sits on a plateau at chance on question-conditioned image questions (bench/learnability_probe.py). The
        projector's linears are then drawn from N(0, 1 / sqrt(fan_in)) too, so that image features start at the
        scale of the token embeddings rather than 25x below them.
      embed_init_std: 0 keeps the stock std of the token embeddings (initializer_range); > 0 draws them from
        N(0, embed_init_std^2). From scratch at width 128, std 0.02 gives text embeddings of norm 0.23 while the
        first layer's residual update has norm ~90 (llm_init_scale=2): which word a question asks about is then
        0.3 % of the stream and question-conditioned answers never leave chance; std 1 (unit RMS, the scale the
        RMSNorm'ed stream has) fixes that (docs/quickstart.md, "Diagnosis").
      final_norm_init: 0 keeps the final norm's stock weight 1; > 0 starts it at that value. With a tied LM head
        and unit-std embeddings (embed_init_std=1) the logits start at RMS sqrt(hidden_size) (11 at width 128, a
        first loss of ~30 instead of ln V); hidden_size ** -0.5 starts them at RMS 1. From-scratch runs only.
    """

    model_type = MODEL_TYPE

    def __init__(
        self,
        family: str = "qwen2",
        template: str = "phantom_qwen2",
        llm_config: dict | None = None,
        vision_config: dict | None = None,
        vision_type: str = "internvit",
        projector: str = "ln_mlp",
        downsample_ratio: float | None = 0.5,
        drop_cls: bool = True,
        vision_feature_layer: int = -1,
        image_token_index: int = 0,
        tokens_per_tile: int = 256,
        image_size: int = 448,
        max_tiles: int = 6,
        use_thumbnail: bool = True,
        image_mean: tuple | list = IMAGENET_MEAN,
        image_std: tuple | list = IMAGENET_STD,
        rescale_in_model: bool = False,
        use_trol: bool = False,
        trol_gate: str = "shared",
        trol_gate_dim: int = 1,
        use_phantom: bool = False,
        phantom_eta: float = 1e-4,
        phantom_repeat_kv_first: bool | None = None,
        plora_rank: int = 0,
        plora_dropout: float = 0.05,
        lm_head_rows: int | None = None,
        loss_drop_padding: bool = True,
        llm_init_scale: float = 0.0,
        embed_init_std: float = 0.0,
        final_norm_init: float = 0.0,
        **kwargs: Any,
    ) -> None:
        self.family = family
        self.template = template
        self.llm_config = dict(llm_config or {"model_type": "qwen2"})
        self.vision_config = dict(vision_config or {"model_type": "internvl_vision"})
        self.vision_type = vision_type
        self.projector = projector
        self.downsample_ratio = downsample_ratio
        self.drop_cls = drop_cls
        self.vision_feature_layer = vision_feature_layer
        self.image_token_index = image_token_index
        self.tokens_per_tile = tokens_per_tile
        self.image_size = image_size
        self.max_tiles = max_tiles
        self.use_thumbnail = use_thumbnail
        self.image_mean = list(image_mean)
        self.image_std = list(image_std)
        self.rescale_in_model = rescale_in_model
        self.use_trol = use_trol
        self.trol_gate = trol_gate
        self.trol_gate_dim = trol_gate_dim
        self.use_phantom = use_phantom
        self.phantom_eta = phantom_eta
        if phantom_repeat_kv_first is None:
            phantom_repeat_kv_first = family != "internlm2"
        self.phantom_repeat_kv_first = phantom_repeat_kv_first
        self.plora_rank = plora_rank
        self.plora_dropout = plora_dropout
        self.lm_head_rows = lm_head_rows
        self.loss_drop_padding = loss_drop_padding
        self.llm_init_scale = llm_init_scale
        self.embed_init_std = embed_init_std
        self.final_norm_init = final_norm_init
        kwargs.pop("vocab_size", None)
        # Rows of the output head (what logits have), for callers that read config.vocab_size.
        self.vocab_size = int(lm_head_rows or self.llm_config.get("vocab_size", 0))
        kwargs.setdefault("tie_word_embeddings", bool(self.llm_config.get("tie_word_embeddings", False)))
        super().__init__(**kwargs)
        self.validate_fields()

    def validate_fields(self) -> None:
        """Raise a one-line error naming the bad field and its allowed values."""
        for name, value, allowed in (
            ("family", self.family, FAMILIES),
            ("vision_type", self.vision_type, VISION_TYPES),
            ("projector", self.projector, PROJECTORS),
            ("trol_gate", self.trol_gate, ("shared", "per_layer")),
        ):
            if value not in allowed:
                raise ValueError(f"TrolPhantomConfig: {name}={value!r} is not one of {allowed}; fix the model config")
        if "model_type" not in self.llm_config or "model_type" not in self.vision_config:
            raise ValueError("TrolPhantomConfig: llm_config and vision_config need a 'model_type' entry")

    def build_llm_config(self) -> PretrainedConfig:
        """A fresh stock config object for the language model (Qwen2Config / Phi3Config / LlamaConfig)."""
        return _config_from_dict(self.llm_config)

    def build_vision_config(self) -> PretrainedConfig:
        """A fresh stock config object for the vision tower."""
        return _config_from_dict(self.vision_config)

    def get_text_config(self, *args: Any, **kwargs: Any) -> PretrainedConfig:
        """Generation utilities (cache construction, vocabulary checks) read the language model's config."""
        cached = self.__dict__.get("_text_config_cache")
        if cached is None:
            cached = self.build_llm_config()
            self.__dict__["_text_config_cache"] = cached
        return cached

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.pop("_text_config_cache", None)
        return out


def _config_from_dict(d: dict) -> PretrainedConfig:
    d = dict(d)
    model_type = d.pop("model_type")
    return AutoConfig.for_model(model_type, **d)
