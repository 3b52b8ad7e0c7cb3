"""demo.py in the terminal: streaming through `model.generate(streamer=...)`, the kept conversation, the
interactive commands and run-directory resolution, on a small stand-in (a stock tiny Llama with a
word-level tokenizer and a minimal processor), so the demo is tested independently of the model package."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

import demo

CORPUS = ["what is this? a red square and a blue circle.", "yes there is a small green triangle.",
          "no, the shape is big.", "which color is the shape? A. red B. blue C. green D. yellow"] * 20


def make_processor() -> Any:
    """The real processor (ChatML template of the tiny models) over a small BPE tokenizer and 16-px tiles."""
    from model.processing import Processor
    from model.tokenizer import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer(CORPUS, vocab_size=300)
    return Processor(tokenizer, {"template": "phantom_chatml", "image_size": 16, "tokens_per_tile": 4,
                                 "max_tiles": 1, "use_thumbnail": False})


def make_tokenizer() -> Any:
    return make_processor().tokenizer


class StandInModel(torch.nn.Module):
    """A stock `LlamaForCausalLM` behind the contract's `generate(..., pixel_values=, streamer=)`; it records
    what it was called with so the tests can check the prompts the demo built."""

    def __init__(self, processor: Any) -> None:
        super().__init__()
        from transformers import LlamaConfig, LlamaForCausalLM

        cfg = LlamaConfig(vocab_size=len(processor.tokenizer), hidden_size=32, intermediate_size=64,
                          num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                          max_position_embeddings=512, eos_token_id=processor.eos_token_id,
                          pad_token_id=processor.pad_token_id)
        torch.manual_seed(1)
        self.lm = LlamaForCausalLM(cfg).eval()
        self.calls: list[dict[str, Any]] = []

    def generate(self, input_ids, attention_mask, pixel_values=None, streamer=None, **kwargs):  # noqa: ANN001
        self.calls.append({"input_ids": input_ids.clone(), "pixel_values": pixel_values})
        return self.lm.generate(input_ids=input_ids, attention_mask=attention_mask, streamer=streamer,
                                pad_token_id=self.lm.config.pad_token_id, **kwargs)


def prompt_of(engine: demo.ChatEngine, call: int = -1) -> str:
    return engine.processor.tokenizer.decode(engine.model.calls[call]["input_ids"][0])


def make_engine(name: str = "stand-in", max_new_tokens: int = 12) -> demo.ChatEngine:
    processor = make_processor()
    return demo.ChatEngine(StandInModel(processor), processor, name=name, max_new_tokens=max_new_tokens)


@pytest.fixture
def engine() -> demo.ChatEngine:
    return make_engine()


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    path = tmp_path / "red.png"
    Image.new("RGB", (24, 24), (220, 20, 20)).save(path)
    return path


def test_streamed_pieces_make_up_the_final_answer(engine: demo.ChatEngine) -> None:
    conv = demo.Conversation(image=Image.new("RGB", (16, 16)))
    pieces: list[str] = []
    answer = conv.ask(engine, "what is this?", on_text=pieces.append)
    assert len(pieces) >= 2, "tokens must arrive in several pieces, not as one block at the end"
    assert "".join(pieces).split() == answer.split()
    assert answer, "the seeded stand-in produces text within 12 tokens"
    new_ids = engine.model.calls[0]["input_ids"].shape[1]
    assert new_ids > 4, "the prompt holds the template and the image block"
    assert conv.turns == [("what is this?", answer)]


def test_first_question_uses_the_processor_prompt(engine: demo.ChatEngine) -> None:
    image = Image.new("RGB", (16, 16))
    batch = engine.inputs([], "what color?", image)
    reference = engine.processor.generation_inputs(["what color?"], [image])
    assert torch.equal(batch["input_ids"], reference["input_ids"])
    ids = batch["input_ids"][0].tolist()
    assert ids.count(engine.processor.image_token_index) == 4  # one 16-px tile of 4 tokens
    assert batch["pixel_values"].shape == (1, 3, 16, 16)
    assert engine.inputs([], "what color?", None)["pixel_values"] is None


def test_follow_up_is_laid_out_as_a_conversation(engine: demo.ChatEngine) -> None:
    image = Image.new("RGB", (16, 16))
    batch = engine.inputs([("what shape?", "a red square")], "what color?", image)
    text = engine.processor.tokenizer.decode(batch["input_ids"][0])
    block = "<img>" + "<IMG_CONTEXT>" * 4 + "</img>"
    assert text.endswith("<|im_start|>user\nwhat color?"
                         "<|im_end|><|im_start|>assistant\n")
    assert f"<|im_start|>user\n{block}what shape?<|im_end|><|im_start|>assistant\na red square<|im_end|>" in text
    assert text.count("<IMG_CONTEXT>") == 4, "the image stays with the first turn only"
    assert batch["pixel_values"].shape == (1, 3, 16, 16)
    assert batch["attention_mask"].sum() == batch["input_ids"].shape[1]


def test_conversation_keeps_turns(engine: demo.ChatEngine) -> None:
    conv = demo.Conversation(image=Image.new("RGB", (16, 16)))
    first = conv.ask(engine, "what shape?")
    conv.ask(engine, "what color?")
    second = prompt_of(engine)
    assert "what shape?" in second and "what color?" in second
    assert first in second
    assert len(conv.turns) == 2


def test_history_keyword_is_used_when_the_processor_has_it(engine: demo.ChatEngine) -> None:
    seen: dict[str, Any] = {}
    plain = engine.processor.generation_inputs

    def with_history(questions, images, history=None):  # noqa: ANN001
        seen["history"] = history
        return plain(questions, images)

    engine.processor.generation_inputs = with_history
    engine.inputs([("what shape?", "a square")], "what color?", Image.new("RGB", (16, 16)))
    assert seen["history"] == [[("what shape?", "a square")]]


def test_interactive_keeps_the_conversation_and_handles_commands(engine: demo.ChatEngine, image_file: Path) -> None:
    lines = iter(["what shape?", "what color?", "/reset", "is this red?", f"/image {image_file}", "what?", "/quit",
                  "never read"])
    out = io.StringIO()
    conv = demo.interactive(engine, demo.Conversation(), read=lambda prompt: next(lines), out=out)
    assert [q for q, _ in conv.turns] == ["what?"], "the /image command starts a new conversation"
    assert conv.image is not None and conv.image.getpixel((0, 0)) == (220, 20, 20)
    assert out.getvalue().count("model> ") == 4
    # the 2nd question carried the 1st turn; the one after /reset did not
    assert "what shape?" in prompt_of(engine, 1) and "what shape?" not in prompt_of(engine, 2)
    assert engine.model.calls[2]["pixel_values"] is None and engine.model.calls[3]["pixel_values"] is not None


def test_main_answers_one_question(engine: demo.ChatEngine, image_file: Path) -> None:
    loaded: list[str] = []

    def loader(spec: str, **kwargs: Any) -> demo.ChatEngine:
        loaded.append(spec)
        assert kwargs["max_new_tokens"] == 12 and kwargs["device"] == "cpu"
        return engine

    out = io.StringIO()
    answer = demo.main(["--model", "runs/x", "--image", str(image_file), "--question", "what is this?",
                        "--max-new-tokens", "12", "--device", "cpu"], loader=loader, out=out)
    assert loaded == ["runs/x"]
    assert out.getvalue().startswith("model> ") and answer and answer.split() == out.getvalue()[7:].split()
    assert engine.model.calls[0]["pixel_values"] is not None


def test_main_needs_something_to_do() -> None:
    with pytest.raises(SystemExit):
        demo.parse_args(["--model", "x"])


def test_missing_image_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="nope.png"):
        demo.open_image(str(tmp_path / "nope.png"))


def test_resolve_model_path(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoint-5").mkdir(parents=True)
    (run / "checkpoint-40").mkdir()
    (run / "checkpoint-100").mkdir()
    assert demo.resolve_model_path(str(run)) == str(run / "checkpoint-100")
    (run / "final").mkdir()
    assert demo.resolve_model_path(str(run)) == str(run / "final")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    assert demo.resolve_model_path(str(model_dir)) == str(model_dir)
    assert demo.resolve_model_path("BK-Lee/TroL-3.8B") == "BK-Lee/TroL-3.8B"


def test_generation_error_is_reported(engine: demo.ChatEngine) -> None:
    def broken(**kwargs: Any) -> None:
        raise ValueError("boom")

    engine.model.generate = broken
    with pytest.raises(RuntimeError, match="stand-in.*boom"):
        demo.Conversation().ask(engine, "what")
