"""Building blocks: pixel shuffle order, InternLM2 wqkv unpacking, position-table resize, partial LoRA, gate
layouts and recording, Phantom decoding guard, vision towers, config overrides, conversion CLI, quantization
fallback."""
from __future__ import annotations

import logging
import subprocess
import sys

import pytest
import torch

from model import build_model, load_model
from model.backbones import split_internlm2_wqkv
from model.trol import record_gates
from model.vision import pixel_shuffle, resize_position_table
from tests.conftest import ROOT, SHARED


def test_pixel_shuffle_concatenates_2x2_blocks_in_internvl_order():
    side, c = 4, 2
    grid = torch.arange(side * side * c, dtype=torch.float32).reshape(1, side, side, c)
    out = pixel_shuffle(grid.reshape(1, side * side, c), 0.5)
    assert out.shape == (1, 4, 4 * c)
    i, j = 1, 0                                          # token (row pair 1, column pair 0)
    expect = torch.cat([grid[0, 2 * i, 2 * j], grid[0, 2 * i, 2 * j + 1], grid[0, 2 * i + 1, 2 * j],
                        grid[0, 2 * i + 1, 2 * j + 1]])
    assert torch.equal(out[0, i * 2 + j], expect)


def test_internlm2_wqkv_is_grouped_per_kv_head():
    nh, nkv, d, hidden = 4, 2, 3, 5
    r = nh // nkv
    rows = []
    for g in range(nkv):                                  # group g: its r query heads, then key g, then value g
        rows += [torch.full((d, hidden), 100 + g * r + j, dtype=torch.float32) for j in range(r)]
        rows += [torch.full((d, hidden), 200 + g, dtype=torch.float32),
                 torch.full((d, hidden), 300 + g, dtype=torch.float32)]
    q, k, v = split_internlm2_wqkv(torch.cat(rows), nh, nkv, d)
    assert [int(q[h * d, 0]) for h in range(nh)] == [100, 101, 102, 103]
    assert [int(k[g * d, 0]) for g in range(nkv)] == [200, 201]
    assert [int(v[g * d, 0]) for g in range(nkv)] == [300, 301]


def test_position_table_resize():
    table = torch.randn(1 + 24 * 24, 8)
    assert torch.equal(resize_position_table(table, 24), table)
    big = resize_position_table(table, 35)
    assert big.shape == (1 + 35 * 35, 8) and torch.equal(big[0], table[0])


def test_partial_lora_acts_on_image_tokens_only():
    torch.manual_seed(0)
    model = build_model("tiny-internlm2", plora_rank=4).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    cfg = model.config
    text = torch.randint(10, 200, (1, 12))
    ids = torch.cat([text[:, :2], torch.full((1, cfg.tokens_per_tile), cfg.image_token_index), text[:, 2:]], 1)
    pixels = torch.randn(1, 3, cfg.image_size, cfg.image_size)
    with torch.no_grad():
        with_lora_text = model(input_ids=text).logits
        with_lora_img = model(input_ids=ids, pixel_values=pixels).logits
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.zero_()
        no_lora_text = model(input_ids=text).logits
        no_lora_img = model(input_ids=ids, pixel_values=pixels).logits
    assert torch.equal(with_lora_text, no_lora_text)            # no image token: the adapter never acts
    assert (with_lora_img - no_lora_img)[0, :2].abs().max() < 1e-6   # positions before the image are untouched
    assert (with_lora_img - no_lora_img)[0, 2:].abs().max() > 1e-3


def test_shared_and_per_layer_gates():
    shared = build_model("tiny-qwen2", use_trol=True, trol_gate="shared")
    per_layer = build_model("tiny-qwen2", use_trol=True, trol_gate="per_layer")
    h, n = 64, 2
    shared_keys = [k for k in shared.state_dict() if "trol_gat" in k]
    per_keys = [k for k in per_layer.state_dict() if "trol_gat" in k]
    assert shared_keys == ["trol_gating.weight", "trol_gating.bias"]
    assert sum(p.numel() for k, p in shared.named_parameters() if "trol_gat" in k) == h + 1
    assert len(per_keys) == 2 * n
    assert sum(p.numel() for k, p in per_layer.named_parameters() if "trol_gat" in k) == n * (h + 1)
    ids = torch.randint(10, 200, (2, 9))
    with torch.no_grad(), record_gates(per_layer) as gates:
        per_layer(input_ids=ids)
    assert sorted(gates) == [0, 1] and gates[0][0].shape == (2, 9, 1)
    assert not torch.equal(gates[0][0], gates[1][0])


def test_phantom_decoding_step_needs_a_prefill():
    from transformers import DynamicCache

    model = build_model("tiny-qwen2", use_phantom=True).eval()
    cache = DynamicCache(config=model.language_model.config)
    with torch.no_grad():
        model(input_ids=torch.randint(10, 200, (1, 5)), cache=cache, use_cache=True)
        cache._phantom_state = {}          # lose the phantom vectors
        with pytest.raises(RuntimeError, match="without a prefill"):
            model(input_ids=torch.randint(10, 200, (1, 1)), cache=cache, use_cache=True)


@pytest.mark.parametrize("vision_type,ratio,projector", [("clip", None, "mlp2x_gelu"), ("siglip", None, "ln_mlp"),
                                                          ("internvit", 0.5, "ln_mlp")])
def test_vision_towers(vision_type, ratio, projector):
    model = build_model("tiny-qwen2", vision_type=vision_type, downsample_ratio=ratio, projector=projector).eval()
    cfg = model.config
    grid = cfg.image_size // 8
    assert cfg.tokens_per_tile == grid * grid * (0.25 if ratio else 1)
    feats = model.image_features(torch.randn(3, 3, cfg.image_size, cfg.image_size))
    assert feats.shape == (3, cfg.tokens_per_tile, 64)


def test_build_model_overrides_reach_the_config():
    model = build_model("tiny", vocab_size=300, image_token_index=7, eos_token_id=8, pad_token_id=9,
                        use_trol=False, use_phantom=True)
    cfg = model.config
    assert (cfg.vocab_size, cfg.image_token_index, cfg.eos_token_id, cfg.pad_token_id) == (300, 7, 8, 9)
    assert not cfg.use_trol and cfg.use_phantom
    assert model.get_output_embeddings().out_features == 300
    for key in ("family", "template", "image_token_index", "tokens_per_tile", "image_size", "max_tiles",
                "use_thumbnail", "image_mean", "image_std"):
        assert getattr(cfg, key) is not None


OFFICIAL = SHARED / "fixtures" / "official"


@pytest.mark.skipif(not (OFFICIAL / "trol-internlm2").is_dir(), reason="fixtures not found")
def test_convert_cli_writes_our_format(tmp_path):
    from safetensors.torch import load_file

    src = OFFICIAL / "trol-internlm2"
    proc = subprocess.run([sys.executable, "-m", "model.convert", str(src), str(tmp_path / "out")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ours = load_model(tmp_path / "out")
    theirs = load_model(src)
    assert ours.config.plora_rank == 256 and ours.config.use_trol and ours.config.rescale_in_model
    inputs = load_file(str(src / "inputs.safetensors"))
    batch = {k: inputs[k] for k in ("input_ids", "attention_mask", "pixel_values")}
    with torch.no_grad():
        assert torch.equal(ours(**batch).logits, theirs(**batch).logits)


def test_quantization_without_gpu_falls_back_with_a_notice(tmp_path, caplog):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: quantization would really run")
    build_model("tiny-qwen2").save_pretrained(tmp_path)
    with caplog.at_level(logging.WARNING):
        model = load_model(tmp_path, quantization="8bit")
    assert any("bitsandbytes" in r.message for r in caplog.records)
    assert all(type(m).__name__ != "Linear8bitLt" for m in model.modules())


@pytest.mark.skipif(not (OFFICIAL / "trol-internlm2").is_dir(), reason="fixtures not found")
def test_clip_position_table_is_resized_to_the_configured_grid(tmp_path):
    """TroL's CLIP tower: a stored 4x4 table loads into a 6x6 (84-px) tower by bicubic resize at load."""
    import json
    import shutil

    src = OFFICIAL / "trol-internlm2"
    for f in src.iterdir():
        if f.name != "vision_tower_config.json":
            shutil.copy(f, tmp_path / f.name)
    vision = json.loads((src / "vision_tower_config.json").read_text())
    vision["image_size"] = 84
    (tmp_path / "vision_tower_config.json").write_text(json.dumps(vision))
    model = load_model(tmp_path)
    table = next(p for n, p in model.named_parameters() if n.endswith("position_embedding.weight"))
    assert table.shape[0] == 37 and model.config.tokens_per_tile == 36 and model.config.image_size == 84
    original = load_model(src)
    small = next(p for n, p in original.named_parameters() if n.endswith("position_embedding.weight"))
    assert torch.equal(table[0], small[0])                      # the CLS row is kept
    assert torch.allclose(resize_position_table(small.detach(), 6), table.detach())


@pytest.mark.skipif(not (OFFICIAL / "trol-phi3").is_dir(), reason="fixtures not found")
def test_trol_gate_from_pickle_file_only_via_weights_only(tmp_path):
    """Without trol_gating.safetensors the gate comes from trol_gating.pt (torch.load(weights_only=True))."""
    import shutil

    src = OFFICIAL / "trol-phi3"
    for f in src.iterdir():
        if f.name != "trol_gating.safetensors":
            shutil.copy(f, tmp_path / f.name)
    a, b = load_model(src), load_model(tmp_path)
    assert torch.equal(a.trol_gating.weight, b.trol_gating.weight)
    assert torch.equal(a.trol_gating.bias, b.trol_gating.bias)


def test_beam_search_and_sampling_run_on_both_mechanisms():
    torch.manual_seed(0)
    model = build_model("tiny-qwen2", use_trol=True, use_phantom=True).eval()
    ids = torch.randint(10, 200, (2, 9))
    mask = torch.ones_like(ids)
    mask[1, :3] = 0
    with torch.no_grad():
        beams = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=4, num_beams=3, do_sample=False)
        sampled = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=4, do_sample=True, top_k=5)
    assert beams.shape == sampled.shape == (2, 13)
    assert torch.equal(beams[:, :9], ids)


@pytest.mark.skipif(not (OFFICIAL / "trol-internlm2").is_dir(), reason="fixtures not found")
def test_quantization_skip_lists_follow_the_released_loaders():
    from model.accelerators import SKIP_PATTERNS, quantization_targets

    trol = quantization_targets(load_model(OFFICIAL / "trol-internlm2"), SKIP_PATTERNS["trol_internlm2"])
    assert trol and all(n.endswith((".lora_A", ".lora_B")) for n in trol)          # only the PLoRA adapters
    phantom = quantization_targets(load_model(OFFICIAL / "phantom-qwen2"), SKIP_PATTERNS["phantom_qwen2"])
    assert any(n.startswith("vision_tower.") for n in phantom) and "vision_proj.1" in phantom
    assert any(n.endswith("self_attn.o_proj") for n in phantom) and any(n.endswith("mlp.down_proj") for n in phantom)
    assert not any(n.endswith(("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "lm_head"))
                   or "phantom" in n for n in phantom)


def test_auto_classes_round_trip(tmp_path):
    from transformers import AutoConfig, AutoModelForCausalLM

    model = build_model("tiny", vocab_size=300).eval()
    model.save_pretrained(tmp_path)
    config = AutoConfig.from_pretrained(tmp_path)
    assert type(config).__name__ == "TrolPhantomConfig" and config.use_trol and config.use_phantom
    again = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(again) is type(model)
    ids = torch.randint(10, 290, (1, 8))
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, again(input_ids=ids).logits)


def test_shared_gate_is_looked_up_on_its_owner():
    """Replacing `model.trol_gating` (as peft's modules_to_save does with a wrapper) changes what every layer uses."""
    model = build_model("tiny-qwen2", use_trol=True, trol_gate="shared").eval()
    replacement = torch.nn.Linear(64, 1)
    with torch.no_grad():
        replacement.weight.zero_()
        replacement.bias.fill_(-30.0)            # s = 0: traversal output = first pass
    model.trol_gating = replacement
    ids = torch.randint(10, 200, (1, 7))
    with torch.no_grad(), record_gates(model) as gates:
        model(input_ids=ids)
    assert all(float(v[0].max()) < 1e-12 for v in gates.values())


def test_per_channel_gate_records_b_l_h():
    model = build_model("tiny-qwen2", use_trol=True, extra={"trol_gate_dim": 64}).eval()
    ids = torch.randint(10, 200, (2, 5))
    with torch.no_grad(), record_gates(model) as gates:
        model(input_ids=ids)
    assert gates[0][0].shape == (2, 5, 64)
