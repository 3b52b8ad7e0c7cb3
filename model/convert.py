"""Load the authors' checkpoint layouts (BK-Lee/TroL-*, BK-Lee/Phantom-*) into `TrolPhantomForCausalLM`.

Layouts (spec/model.md §8), recognised from config.json's `model_type`:
  "internlm" -> TroL-1.8B/7B (CLIP + InternLM2 with partial LoRA; gate in trol_gating.*),
  "trol"     -> TroL-3.8B (InternViT + Phi-3; gate in trol_gating.*),
  "phantom"  -> Phantom-0.5B/1.8B/3.8B/7B (InternViT + Qwen2 / InternLM2 / Phi-3 with Phantom modules).
Weights are read from safetensors only; `trol_gating.pt` is read with `torch.load(weights_only=True)` when no
`trol_gating.safetensors` exists. Every key must be used and every parameter filled, otherwise the error names
the file, the keys and the fix.

Command line: `python -m model.convert SRC_DIR OUT_DIR` writes our own format (save_pretrained, safetensors).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import re
import shutil
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from model.backbones import internlm2_llm_config, phi3_rope_parameters, split_internlm2_wqkv
from model.configuration import (CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD, TrolPhantomConfig,
                                 stored_vision_tower)

log = logging.getLogger(__name__)

# CLIP ViT-L/14 (openai/clip-vit-large-patch14-336), the tower of TroL-1.8B/7B, when no vision config is stored.
CLIP_L14 = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                patch_size=14, hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=768)


# ---------------------------------------------------------------------------------------------------- file access
def weight_files(root: Path) -> list[Path]:
    """The safetensors files of a checkpoint directory (single file or index)."""
    index = root / "model.safetensors.index.json"
    if index.exists():
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [root / n for n in names]
    single = root / "model.safetensors"
    if single.exists():
        return [single]
    if any(root.glob("*.bin")) or any(root.glob("*.pt")):
        raise FileNotFoundError(f"{root}: only pickle weights (*.bin/*.pt) found; convert them to safetensors "
                                "(pickles are never loaded)")
    raise FileNotFoundError(f"{root}: no model.safetensors or model.safetensors.index.json")


def read_state_dict(root: Path) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for f in weight_files(root):
        out.update(load_file(str(f)))
    return out


def read_shapes(root: Path) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for f in weight_files(root):
        with safe_open(str(f), framework="pt") as handle:
            for key in handle.keys():
                shapes[key] = tuple(handle.get_slice(key).get_shape())
    return shapes


def read_trol_gate(root: Path) -> dict[str, torch.Tensor]:
    """The shared TroL gate: all layers' pairs are equal in the released files; the last pair wins (spec §4.2)."""
    st, pt = root / "trol_gating.safetensors", root / "trol_gating.pt"
    if st.exists():
        raw, source = load_file(str(st)), st
    elif pt.exists():
        raw, source = torch.load(str(pt), map_location="cpu", weights_only=True), pt
    else:
        raise FileNotFoundError(f"{root}: TroL checkpoint without trol_gating.safetensors / trol_gating.pt")
    idx = sorted({int(k.split(".")[0]) for k in raw if re.fullmatch(r"\d+\.(weight|bias)", k)})
    if not idx:
        raise ValueError(f"{source}: expected keys '<n>.weight'/'<n>.bias', found {sorted(raw)[:6]}")
    last = idx[-1]
    w, b = raw[f"{last}.weight"], raw[f"{last}.bias"]
    if any(not torch.equal(raw[f"{i}.weight"], w) or not torch.equal(raw[f"{i}.bias"], b) for i in idx):
        log.warning("%s: the per-layer gate pairs differ; using pair %d as the released loader does", source, last)
    return {"trol_gating.weight": w, "trol_gating.bias": b}


# ---------------------------------------------------------------------------------------------------- configs
def detect_layout(cfg: dict) -> str:
    kind = cfg.get("model_type")
    if kind == "internlm":
        return "trol_internlm2"
    if kind == "trol":
        return "trol_phi3"
    if kind == "phantom":
        llm = cfg.get("llm_config", {}).get("model_type", "")
        family = {"internlm2": "internlm2", "phi3": "phi3", "qwen2": "qwen2"}.get(llm)
        if family is None:
            raise ValueError(f"Phantom config with llm_config.model_type={llm!r}; expected internlm2, phi3 or qwen2")
        return f"phantom_{family}"
    raise ValueError(f"config.json model_type={kind!r} is neither ours ('trol_phantom') nor an authors' layout "
                     "('internlm', 'trol', 'phantom')")


def _internvit_dict(v: dict, image_size: int) -> dict:
    if v.get("qk_normalization"):
        raise ValueError("InternViT with qk_normalization=true is not supported (no released TroL/Phantom uses it)")
    return dict(model_type="internvl_vision", hidden_size=v["hidden_size"], num_hidden_layers=v["num_hidden_layers"],
                num_attention_heads=v["num_attention_heads"], intermediate_size=v["intermediate_size"],
                image_size=image_size, patch_size=v["patch_size"], num_channels=v.get("num_channels", 3),
                attention_bias=bool(v.get("qkv_bias", True)), use_qk_norm=False, use_mean_pooling=True,
                layer_norm_eps=v.get("layer_norm_eps", 1e-6), hidden_act=v.get("hidden_act", "gelu"),
                norm_type=v.get("norm_type", "layer_norm"))


def _llm_dict(family: str, l: dict, vocab_rows: int | None = None) -> dict:
    heads, kv = l["num_attention_heads"], l.get("num_key_value_heads", l["num_attention_heads"])
    tokens = dict(bos_token_id=l.get("bos_token_id"), eos_token_id=l.get("eos_token_id"),
                  pad_token_id=l.get("pad_token_id"))
    if family == "internlm2":
        return internlm2_llm_config(hidden_size=l["hidden_size"], intermediate_size=l["intermediate_size"],
                                    num_layers=l["num_hidden_layers"], num_heads=heads, num_kv_heads=kv,
                                    vocab_size=vocab_rows or l["vocab_size"], rms_norm_eps=l.get("rms_norm_eps", 1e-5),
                                    rope_theta=l.get("rope_theta", 1e6), rope_scaling=l.get("rope_scaling"),
                                    max_position_embeddings=l.get("max_position_embeddings", 32768),
                                    bias=bool(l.get("bias", False)), **tokens)
    common = dict(hidden_size=l["hidden_size"], intermediate_size=l["intermediate_size"],
                  num_hidden_layers=l["num_hidden_layers"], num_attention_heads=heads, num_key_value_heads=kv,
                  vocab_size=vocab_rows or l["vocab_size"], rms_norm_eps=l.get("rms_norm_eps", 1e-6),
                  max_position_embeddings=l.get("max_position_embeddings", 4096),
                  tie_word_embeddings=bool(l.get("tie_word_embeddings", False)), head_dim=l["hidden_size"] // heads,
                  **tokens)
    if family == "phi3":
        orig = l.get("original_max_position_embeddings", 4096)
        return dict(model_type="phi3", **common, original_max_position_embeddings=orig,
                    sliding_window=l.get("sliding_window"),
                    rope_parameters=phi3_rope_parameters(l.get("rope_theta", 1e4), l.get("rope_scaling"), orig,
                                                         l.get("max_position_embeddings")))
    # Phantom's Qwen2 copy ignores rope_scaling (spec §3.3): plain RoPE.
    return dict(model_type="qwen2", **common, use_sliding_window=False,
                rope_parameters={"rope_type": "default", "rope_theta": float(l.get("rope_theta", 1e6))})


def authors_config(root: Path, cfg: dict, layout: str, shapes: dict[str, tuple[int, ...]]) -> TrolPhantomConfig:
    """Our config for an authors'-format directory."""
    if layout == "trol_internlm2":
        stored = stored_vision_tower(root)
        vision = dict(CLIP_L14, **stored)
        table = shapes["vit.vision_tower.vision_model.embeddings.position_embedding.weight"]
        # The grid comes from the stored position table (35x35 in the released files), unless a stored vision
        # config asks for another size: then the table is resized bicubically at load (see _resize_clip_table).
        grid = math.isqrt(table[0] - 1)
        if "image_size" in stored:
            grid = stored["image_size"] // vision["patch_size"]
        vision.update(model_type="clip_vision_model", image_size=grid * vision["patch_size"])
        emb_rows = shapes["model.tok_embeddings.weight"][0]
        head_rows = shapes["output.weight"][0]
        rank = shapes["model.layers.0.attention.wqkv.lora_A.weight"][0]
        eos = cfg.get("eos_token_id", 2)
        return TrolPhantomConfig(
            family="internlm2", template="trol_internlm2", llm_config=_llm_dict("internlm2", cfg, emb_rows),
            vision_config=vision, vision_type="clip", projector="mlp2x_gelu", downsample_ratio=None, drop_cls=True,
            image_token_index=cfg.get("image_token_index", emb_rows - 1), tokens_per_tile=grid * grid,
            image_size=vision["image_size"], max_tiles=1, use_thumbnail=False, image_mean=CLIP_MEAN,
            image_std=CLIP_STD, rescale_in_model=True, use_trol=True, trol_gate="shared", plora_rank=rank,
            lm_head_rows=head_rows, eos_token_id=eos, pad_token_id=cfg.get("pad_token_id", eos),
            bos_token_id=cfg.get("bos_token_id", 1))
    family = "phi3" if layout == "trol_phi3" else layout.split("_", 1)[1]
    v, l = cfg["vision_config"], cfg["llm_config"]
    image_size = cfg.get("force_image_size") or v["image_size"]
    ratio = cfg.get("downsample_ratio", 0.5)
    grid = image_size // v["patch_size"]
    use_trol = layout == "trol_phi3"
    eos = cfg.get("eos_token_id", l.get("eos_token_id"))
    template = "trol_phi3" if use_trol else ("phantom_phi3" if family == "phi3" else "phantom_chatml")
    return TrolPhantomConfig(
        family=family, template=template, llm_config=_llm_dict(family, l), vision_config=_internvit_dict(v, image_size),
        vision_type="internvit", projector="ln_mlp", downsample_ratio=ratio, drop_cls=True,
        image_token_index=cfg["image_token_index"], tokens_per_tile=int(round(grid * grid * ratio * ratio)),
        image_size=image_size, max_tiles=cfg.get("max_dynamic_patch", 6), use_thumbnail=cfg.get("use_thumbnail", True),
        image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD, rescale_in_model=False, use_trol=use_trol,
        trol_gate="shared", use_phantom=not use_trol, eos_token_id=eos, pad_token_id=cfg.get("pad_token_id", eos),
        bos_token_id=l.get("bos_token_id"))


# ---------------------------------------------------------------------------------------------------- key maps
_VIT_RENAMES = [(r"^embeddings\.class_embedding$", "embeddings.cls_token"),
                (r"^embeddings\.position_embedding$", "embeddings.position_embeddings"),
                (r"^embeddings\.patch_embedding\.", "embeddings.patch_embeddings.projection."),
                (r"^encoder\.layers\.(\d+)\.attn\.proj\.", r"encoder.layer.\1.attention.projection_layer."),
                (r"^encoder\.layers\.(\d+)\.norm1\.", r"encoder.layer.\1.layernorm_before."),
                (r"^encoder\.layers\.(\d+)\.norm2\.", r"encoder.layer.\1.layernorm_after."),
                (r"^encoder\.layers\.(\d+)\.ls1$", r"encoder.layer.\1.lambda_1"),
                (r"^encoder\.layers\.(\d+)\.ls2$", r"encoder.layer.\1.lambda_2"),
                (r"^encoder\.layers\.(\d+)\.mlp\.", r"encoder.layer.\1.mlp.")]

_INTERNLM2_RENAMES = [(r"^model\.tok_embeddings\.", "model.embed_tokens."), (r"^output\.", "lm_head."),
                      (r"\.attention\.wo\.", ".self_attn.o_proj."),
                      (r"\.attention\.(xattn_|gating_)", r".self_attn.\1"),
                      (r"\.feed_forward\.w1\.", ".mlp.gate_proj."), (r"\.feed_forward\.w3\.", ".mlp.up_proj."),
                      (r"\.feed_forward\.w2\.", ".mlp.down_proj."), (r"\.attention_norm\.", ".input_layernorm."),
                      (r"\.ffn_norm\.", ".post_attention_layernorm.")]


def _map_internvit(key: str, t: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """Authors' InternViT key (after `vision_model.`) -> InternVLVisionModel keys (qkv split into thirds)."""
    m = re.match(r"^encoder\.layers\.(\d+)\.attn\.qkv\.(weight|bias)$", key)
    if m:
        parts = t.chunk(3, dim=0)
        return [(f"encoder.layer.{m[1]}.attention.{n}_proj.{m[2]}", p.contiguous()) for n, p in zip("qkv", parts)]
    for pattern, repl in _VIT_RENAMES:
        if re.search(pattern, key):
            return [(re.sub(pattern, repl, key), t)]
    return []


def _map_internlm2(key: str, t: torch.Tensor, heads: int, kv: int, d: int) -> list[tuple[str, torch.Tensor]]:
    """InternLM2 key (plain or PLoRA `.ffn/.lora_A/.lora_B`) -> Llama keys with wqkv unpacked."""
    m = re.match(r"^(model\.layers\.\d+)\.attention\.wqkv\.(?:(ffn)\.)?(?:(lora_A|lora_B)\.)?(weight|bias)$", key)
    if m:
        base, sub, kind = m[1], m[3], m[4]
        if sub == "lora_A":      # one LoRA-A shared by q, k and v: each projection gets a copy
            return [(f"{base}.self_attn.{n}_proj.lora_A.{kind}", t) for n in "qkv"]
        q, k, v = split_internlm2_wqkv(t, heads, kv, d)
        suffix = f"lora_B.{kind}" if sub == "lora_B" else kind
        return [(f"{base}.self_attn.{n}_proj.{suffix}", p) for n, p in zip("qkv", (q, k, v))]
    key = re.sub(r"\.ffn\.(weight|bias)$", r".\1", key)           # PLoRA base weight -> the Linear's own weight
    for pattern, repl in _INTERNLM2_RENAMES:
        key = re.sub(pattern, repl, key)
    return [(key, t)]


def map_state_dict(layout: str, state: dict[str, torch.Tensor],
                   config: TrolPhantomConfig) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Authors' keys -> our keys. Returns (mapped, unexpected authors' keys)."""
    llm = config.llm_config
    heads, kv = llm["num_attention_heads"], llm["num_key_value_heads"]
    d = llm["hidden_size"] // heads
    out: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    for key, t in state.items():
        mapped: list[tuple[str, torch.Tensor]] = []
        if layout == "trol_internlm2":
            if key.startswith("vit.vision_tower."):
                rest = key[len("vit.vision_tower."):]
                if not rest.endswith("position_ids"):
                    mapped = [("vision_tower.tower." + rest, t)]
                else:
                    continue
            elif key.startswith("vision_proj."):
                mapped = [(key, t)]
            elif key.startswith(("model.", "output.")):
                mapped = [("language_model." + k, v) for k, v in _map_internlm2(key, t, heads, kv, d)]
        else:
            if key.startswith("vision_model."):
                mapped = [("vision_tower.tower." + k, v) for k, v in _map_internvit(key[len("vision_model."):], t)]
            elif key.startswith("vision_proj."):
                mapped = [(key, t)]
            elif key.startswith("language_model."):
                rest = key[len("language_model."):]
                if layout == "phantom_internlm2":
                    mapped = [("language_model." + k, v) for k, v in _map_internlm2(rest, t, heads, kv, d)]
                else:
                    mapped = [(key, t)]
        if not mapped:
            unexpected.append(key)
        out.update(mapped)
    return out, unexpected


# ---------------------------------------------------------------------------------------------------- entry points
def load_authors_checkpoint(root: Path, dtype: torch.dtype = torch.float32, attn_implementation: str = "sdpa"):
    """Build our model for an authors'-format directory and fill it with the (mapped) released weights."""
    from model.loading import load_weights_strict
    from model.vlm import TrolPhantomForCausalLM

    cfg = json.loads((root / "config.json").read_text())
    layout = detect_layout(cfg)
    shapes = read_shapes(root)
    config = authors_config(root, cfg, layout, shapes)
    model = TrolPhantomForCausalLM(config, attn_implementation=attn_implementation)
    state = read_state_dict(root)
    mapped, unexpected = map_state_dict(layout, state, config)
    if config.use_trol:
        mapped.update(read_trol_gate(root))
    own = model.state_dict()
    if layout == "trol_internlm2":
        _resize_clip_table(mapped, config)
    if layout == "trol_internlm2" and not any(k.startswith("vision_tower.tower.vision_model.") for k in own):
        # transformers versions differ in whether CLIPVisionModel nests its weights under `vision_model.`
        mapped = {k.replace("vision_tower.tower.vision_model.", "vision_tower.tower.", 1): v for k, v in mapped.items()}
    files = ", ".join(str(f) for f in weight_files(root))
    load_weights_strict(model, mapped, files, unexpected_source=unexpected)
    return model.to(dtype)


def _resize_clip_table(mapped: dict[str, torch.Tensor], config: TrolPhantomConfig) -> None:
    """Resize the CLIP position table to the configured grid (TroL's 24x24 -> 35x35 for 490 px), in place."""
    from model.vision import resize_position_table

    grid = config.image_size // config.vision_config["patch_size"]
    for key, table in mapped.items():
        if key.endswith("embeddings.position_embedding.weight") and table.shape[0] != grid * grid + 1:
            mapped[key] = resize_position_table(table, grid)


def convert(src: Path, dst: Path) -> None:
    """Write an authors' checkpoint in our format (safetensors + config) plus its tokenizer files."""
    model = load_authors_checkpoint(src)
    model.save_pretrained(str(dst))
    for pattern in ("tokenizer*", "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt"):
        for f in src.glob(pattern):
            if f.is_file():
                shutil.copy2(f, dst / f.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="authors' checkpoint directory (TroL-* or Phantom-*)")
    parser.add_argument("dst", type=Path, help="output directory (our format)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    convert(args.src, args.dst)
    log.info("wrote %s", args.dst)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
