"""Bad input gets a one-line actionable error: image-token/feature count mismatch, empty or 1-channel images,
checkpoint directories with missing or unexpected keys (our format and the authors' layout)."""
from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from model import build_model, load_model
from tests.conftest import SHARED


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_model("tiny-qwen2").eval()


def _prompt(model, n_image_tokens):
    cfg = model.config
    ids = torch.full((1, n_image_tokens + 6), 20)
    ids[0, 2:2 + n_image_tokens] = cfg.image_token_index
    return ids


def _one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("delta", [1, -1])
def test_image_token_count_mismatch(tiny, delta):
    n = tiny.config.tokens_per_tile + delta
    ids = _prompt(tiny, n)
    pixels = torch.randn(1, 3, tiny.config.image_size, tiny.config.image_size)
    for call in (lambda: tiny(input_ids=ids, pixel_values=pixels),
                 lambda: tiny.generate(input_ids=ids, pixel_values=pixels, max_new_tokens=1)):
        with pytest.raises(ValueError) as err:
            call()
        text = _one_line(err)
        assert f"{n} image tokens" in text and f"{tiny.config.tokens_per_tile} tokens per tile" in text


def test_image_tokens_without_pixels(tiny):
    with pytest.raises(ValueError) as err:
        tiny(input_ids=_prompt(tiny, tiny.config.tokens_per_tile))
    assert "pixel_values is None" in _one_line(err)


@pytest.mark.parametrize("shape,needle", [((1, 3, 0, 0), "empty image"), ((1, 1, 64, 64), "1 channel"),
                                          ((1, 3, 32, 32), "expects 64x64")])
def test_bad_pixels(tiny, shape, needle):
    ids = _prompt(tiny, tiny.config.tokens_per_tile)
    with pytest.raises(ValueError) as err:
        tiny(input_ids=ids, pixel_values=torch.zeros(shape))
    assert needle in _one_line(err)


def test_own_checkpoint_missing_and_unexpected_keys(tiny, tmp_path):
    tiny.save_pretrained(tmp_path)
    path = tmp_path / "model.safetensors"
    state = load_file(str(path))
    dropped = "language_model.model.norm.weight"
    broken = {k: v for k, v in state.items() if k != dropped}
    broken["language_model.model.bogus.weight"] = torch.zeros(2)
    save_file(broken, str(path))
    with pytest.raises(ValueError) as err:
        load_model(tmp_path)
    text = _one_line(err)
    assert str(path) in text and dropped in text and "language_model.model.bogus.weight" in text


OFFICIAL = SHARED / "fixtures" / "official"


@pytest.mark.skipif(not (OFFICIAL / "phantom-qwen2").is_dir(), reason="fixtures not found")
def test_authors_checkpoint_missing_and_unexpected_keys(tmp_path):
    src = OFFICIAL / "phantom-qwen2"
    for f in ("config.json", "model.safetensors"):
        shutil.copy(src / f, tmp_path / f)
    state = load_file(str(tmp_path / "model.safetensors"))
    key = "language_model.model.layers.0.self_attn.gating_phantom_1.bias"
    state.pop(key)
    state["vision_model.encoder.layers.0.attn.mystery.weight"] = torch.zeros(1)
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError) as err:
        load_model(tmp_path)
    text = _one_line(err)
    assert key in text and "vision_model.encoder.layers.0.attn.mystery.weight" in text


def test_pickle_only_directory_is_refused(tmp_path):
    llm = {"model_type": "qwen2", "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
           "num_key_value_heads": 1, "intermediate_size": 8, "vocab_size": 16}
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "trol_phantom", "llm_config": llm}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises((FileNotFoundError, ValueError)) as err:
        load_model(tmp_path)
    assert "pickle" in _one_line(err) or "safetensors" in str(err.value)


def test_unknown_preset_and_field():
    with pytest.raises(KeyError, match="unknown model preset"):
        build_model("no-such-preset")
    with pytest.raises(ValueError, match="unknown model config field"):
        build_model("tiny-qwen2", no_such_field=1)
