"""Templates: exact prompt strings (spec/model.md §6) and the fixtures' prompt ids reproduced by the Processor."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from model import load_model
from model.processing import Processor, load_processor, settings_from_model_config
from model.templates import TROL_SYSTEM, get_template, template_for
from model.tokenizer import build_word_level_tokenizer
from tests.conftest import FIXTURES

OFFICIAL = FIXTURES / "official"
# fixture -> (template, padding token, system prompt, image mode); ids and layout from each fixture README.
CASES = {
    "phantom-qwen2": ("phantom_chatml", "<|endoftext|>", None, "tiles"),
    "phantom-internlm2": ("phantom_chatml", "</s>", None, "tiles"),
    "phantom-phi3": ("phantom_phi3", "<|endoftext|>", None, "tiles"),
    "trol-phi3": ("trol_phi3", "<|endoftext|>", "you are a tiny test model", "tiles"),
    "trol-internlm2": ("trol_internlm2", "</s>", "you are a tiny test model", "resize"),
}
QUESTIONS = ["what is in the picture ?", "describe it"]


def fixture_processor(name: str) -> Processor:
    template, pad, system, mode = CASES[name]
    tok = build_word_level_tokenizer(OFFICIAL / name / "vocab.json", pad_token=pad)
    cfg = json.loads((OFFICIAL / name / "config.json").read_text())
    size = 56 if mode == "resize" else 112  # tiny towers: CLIP 56 px, InternViT 112 px; 16 tokens per image
    return Processor(tok, SimpleNamespace(template=template, image_size=size, tokens_per_tile=16, system=system,
                                          image_token_index=cfg["image_token_index"]))


@pytest.mark.parametrize("name", sorted(CASES))
def test_generation_ids_match_fixture(name: str) -> None:
    proc = fixture_processor(name)
    img = Image.fromarray(np.full((112, 112, 3), 127, np.uint8))
    batch = proc.generation_inputs(QUESTIONS, [img, img])
    ref = load_file(str(OFFICIAL / name / "inputs.safetensors"))
    assert torch.equal(batch["input_ids"], ref["input_ids"])
    assert torch.equal(batch["attention_mask"], ref["attention_mask"])
    side = 56 if name == "trol-internlm2" else 112
    assert batch["pixel_values"].shape == (2, 3, side, side)
    assert batch["pixel_values"].dtype == torch.float32


def test_trol_internlm2_prompt_string() -> None:
    tpl = get_template("trol_internlm2")
    q = tpl.prepare_question("What is this?", 1)
    assert q == "<image>\nWhat is this?"
    assert tpl.prompt(q) == ("<s>[UNUSED_TOKEN_146]system\n" + TROL_SYSTEM + "[UNUSED_TOKEN_145]\n"
                             "[UNUSED_TOKEN_146]user\n<image>\nWhat is this?[UNUSED_TOKEN_145]\n"
                             "[UNUSED_TOKEN_146]assistant\n")
    assert TROL_SYSTEM.endswith("to the user's questions") and "Lee, Ph.D. candidate, KAIST EE," in TROL_SYSTEM
    assert tpl.expand_images(q, [3]) == "<image><image><image>\nWhat is this?"


def test_phantom_and_phi3_prompt_strings() -> None:
    chatml = get_template("tiny")
    assert chatml.name == "phantom_chatml"
    q = chatml.prepare_question("Describe.", 1)
    assert q == "<image>Describe."  # no newline after the placeholder (spec §6.3)
    assert chatml.prompt(q) == "<|im_start|>user\n<image>Describe.<|im_end|><|im_start|>assistant\n"
    assert chatml.expand_images(q, [2]) == "<img><IMG_CONTEXT><IMG_CONTEXT></img>Describe."
    phi3 = get_template("phantom_phi3")
    assert phi3.prompt("Hi") == "<|user|>\nHi<|end|><|assistant|>\n"
    trol_phi3 = get_template("trol_phi3")
    assert trol_phi3.prompt("Hi", system="S") == "<s><|system|>\nS<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\n"
    assert trol_phi3.prepare_question("Hi", 1) == "<image>\nHi"
    # A question that already has its placeholder is left alone.
    assert chatml.prepare_question("look <image> here", 1) == "look <image> here"
    assert chatml.prepare_question("text only", 0) == "text only"


def test_template_choice_from_family() -> None:
    assert template_for("internlm2", use_trol=True).name == "trol_internlm2"
    assert template_for("phi3", use_trol=True).name == "trol_phi3"
    assert template_for("phi3", use_phantom=True).name == "phantom_phi3"
    assert template_for("qwen2", use_trol=True, use_phantom=True).name == "phantom_chatml"
    with pytest.raises(KeyError, match="unknown prompt template"):
        get_template("vicuna")


def test_training_conversation_multi_turn() -> None:
    tpl = get_template("trol_internlm2")
    turns = [("user", "<image>\nQ1"), ("assistant", "A1"), ("user", "Q2"), ("assistant", "A2")]
    pieces = tpl.conversation(turns, system="SYS")
    assert "".join(p for p, _ in pieces) == (
        "<s>[UNUSED_TOKEN_146]system\nSYS[UNUSED_TOKEN_145]\n"
        "[UNUSED_TOKEN_146]user\n<image>\nQ1[UNUSED_TOKEN_145]\n[UNUSED_TOKEN_146]assistant\n"
        "A1[UNUSED_TOKEN_145]\n</s>"
        "[UNUSED_TOKEN_146]user\nQ2[UNUSED_TOKEN_145]\n[UNUSED_TOKEN_146]assistant\n"
        "A2[UNUSED_TOKEN_145]\n</s>")
    assert [p for p, t in pieces if t] == ["A1[UNUSED_TOKEN_145]\n</s>", "A2[UNUSED_TOKEN_145]\n</s>"]
    last = tpl.conversation(turns, system="SYS", target_turns="last")
    assert [p for p, t in last if t] == ["A2[UNUSED_TOKEN_145]\n</s>"]
    # A system turn replaces the default system prompt.
    sys_turn = tpl.conversation([("system", "X")] + turns[:2])
    assert sys_turn[0] == ("<s>[UNUSED_TOKEN_146]system\nX[UNUSED_TOKEN_145]\n", False)
    with pytest.raises(ValueError, match="start with a user turn"):
        tpl.conversation([("assistant", "A")])
    with pytest.raises(ValueError, match="two user turns"):
        tpl.conversation([("user", "a"), ("user", "b"), ("assistant", "c")])
    with pytest.raises(ValueError, match="unknown role"):
        tpl.conversation([("user", "a"), ("bot", "c"), ("assistant", "d")])


@pytest.mark.parametrize("name,text,expected", [
    ("trol_internlm2", "[UNUSED_TOKEN_146]assistant\nA red cube.[UNUSED_TOKEN_145]\n</s>", "A red cube."),
    ("trol_internlm2", "B[UNUSED_TOKEN_145]\n</s>", "B"),
    ("trol_phi3", "<|assistant|>\n C <|end|>\n</s>", "C"),
    ("phantom_chatml", "first assistant\nsecond<|im_end|>", "second"),  # after the LAST test_start
    ("phantom_phi3", "plain answer", "plain answer"),
])
def test_output_filtering(name: str, text: str, expected: str) -> None:
    assert get_template(name).filter_output(text) == expected


def test_decode_applies_filter_and_drops_padding() -> None:
    proc = fixture_processor("trol-internlm2")
    tok = proc.tokenizer
    ids = tok("two dots[UNUSED_TOKEN_145]\n</s>", add_special_tokens=False)["input_ids"]
    assert proc.decode(ids) == "two dots"
    batch = torch.tensor([ids, ids[:2] + [2, 2, 2]])
    assert proc.decode(batch) == ["two dots", "two dots"]
    phantom = fixture_processor("phantom-qwen2")
    ids = phantom.tokenizer("two dots<|im_end|>", add_special_tokens=False)["input_ids"]
    assert phantom.decode(torch.tensor(ids)) == "two dots"


@pytest.mark.parametrize("name,template,tokens", [
    ("trol-phi3", "trol_phi3", 16), ("phantom-qwen2", "phantom_chatml", 16), ("phantom-phi3", "phantom_phi3", 16),
    ("phantom-internlm2", "phantom_chatml", 16), ("trol-internlm2", "trol_internlm2", 1225),
])
def test_settings_from_official_config(name: str, template: str, tokens: int) -> None:
    cfg = json.loads((OFFICIAL / name / "config.json").read_text())
    s = settings_from_model_config(cfg)
    assert s.template == template
    assert s.tokens_per_tile == tokens
    assert s.image_token_index == cfg["image_token_index"]
    assert s.image_mode == ("resize" if name == "trol-internlm2" else "tiles")


def test_load_processor_reads_the_stored_vision_tower(tmp_path) -> None:
    # The fixture's tower is 56 px (vision_tower_config.json); config.json has no img_size (490 by default): the
    # processor must place as many image tokens as the model's tower gives (load_model reads the same file).
    root = OFFICIAL / "trol-internlm2"
    for name in ("config.json", "vision_tower_config.json"):
        (tmp_path / name).write_bytes((root / name).read_bytes())
    build_word_level_tokenizer(root / "vocab.json", pad_token=CASES["trol-internlm2"][1]).save_pretrained(tmp_path)
    settings = load_processor(tmp_path).settings
    assert (settings.image_size, settings.tokens_per_tile) == (56, 16)
    assert settings.tokens_per_tile == load_model(root).config.tokens_per_tile
    (tmp_path / "vision_tower_config.json").unlink()
    assert load_processor(tmp_path).settings.tokens_per_tile == 35 * 35  # config.json alone: the released 490 px
