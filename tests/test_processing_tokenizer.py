"""Tokenizers: the tiny BPE (determinism, specials, save/reload), special_token_ids, the fixtures' word-level
vocabularies, and InternLM2-style sentencepiece checkpoints loaded without remote code."""
from __future__ import annotations

import io
import json
import re
import string
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from model.processing import Processor, load_processor
from model.templates import get_template
from model.tokenizer import (TINY_SPECIALS, build_tiny_tokenizer, build_word_level_tokenizer, load_tokenizer,
                             special_token_ids)
from tests.conftest import FIXTURES, ROOT

CORPUS = [f"sample {i}: what is in the picture? A red cube on a table, {i * 7} dots." for i in range(200)]


def test_tiny_tokenizer_is_deterministic_and_reloads(tmp_path: Path) -> None:
    a = build_tiny_tokenizer(CORPUS, 500)
    b = build_tiny_tokenizer(CORPUS, 500)
    assert a.backend_tokenizer.to_str() == b.backend_tokenizer.to_str()
    # Also across processes (hash seeds differ per process): a fresh interpreter trains the same tokenizer.
    # train_bpe is the trainer build_tiny_tokenizer wraps; it avoids importing transformers in the child.
    # The file is loaded directly so the child does not import the model package (torch, transformers).
    code = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('tok', 'model/tokenizer.py'); "
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
            f"sys.stdout.write(m.train_bpe({CORPUS!r}, 500, m.TINY_SPECIALS).to_str())")
    other = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                           check=True).stdout
    assert json.loads(other)["model"] == json.loads(a.backend_tokenizer.to_str())["model"]
    assert len(a) <= 500 and len(a) > 300
    for k, tok in enumerate(TINY_SPECIALS):
        assert a.convert_tokens_to_ids(tok) == k
    text = "<|im_start|>user\n<img><IMG_CONTEXT><IMG_CONTEXT></img>what is it?<|im_end|><|im_start|>assistant\n"
    ids = a(text, add_special_tokens=False)["input_ids"]
    assert ids[0] == 1  # <|im_start|> is one token, matched inside the text
    assert ids.count(5) == 2 and ids.count(3) == 1 and ids.count(4) == 1
    assert a.decode(ids) == text
    a.save_pretrained(str(tmp_path))
    c = load_tokenizer(tmp_path)
    assert c(text, add_special_tokens=False)["input_ids"] == ids
    assert c.pad_token == "<|endoftext|>" and c.eos_token == "<|im_end|>"
    assert len(c) == len(a)


def test_special_token_ids() -> None:
    tok = build_tiny_tokenizer(CORPUS, 400)
    ids = special_token_ids(tok, "tiny")
    assert ids == {"vocab_size": len(tok), "image_token_index": 5, "img_start_id": 3, "img_end_id": 4,
                   "eos_token_id": 2, "pad_token_id": 0}
    with pytest.raises(ValueError, match="no image token '<image>'"):
        special_token_ids(tok, get_template("trol_internlm2"))


def test_word_level_fixture_vocab() -> None:
    tok = build_word_level_tokenizer(FIXTURES / "official" / "phantom-qwen2" / "vocab.json", pad_token="<|endoftext|>")
    ids = tok("<|im_start|>user\n<img><IMG_CONTEXT></img>describe it<|im_end|>", add_special_tokens=False)["input_ids"]
    assert ids == [1, 7, 6, 3, 5, 4, 21, 22, 2]


def test_processor_save_and_load_roundtrip(tmp_path: Path) -> None:
    tok = build_tiny_tokenizer(CORPUS, 400)
    proc = Processor(tok, SimpleNamespace(template="tiny", image_size=28, tokens_per_tile=4, max_tiles=4))
    proc.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "processor_config.json").read_text())
    assert cfg["template"] == "phantom_chatml" and cfg["image_size"] == 28 and cfg["max_tiles"] == 4
    again = load_processor(tmp_path)
    ids_fields = ("image_token_index", "eos_token_id", "pad_token_id")
    assert {k: v for k, v in vars(again.settings).items() if k not in ids_fields} == \
        {k: v for k, v in vars(proc.settings).items() if k not in ids_fields}
    assert [getattr(again, k) for k in ids_fields] == [getattr(proc, k) for k in ids_fields] == [5, 2, 0]
    q = ["what is in the picture?", "red"]
    a, b = proc.generation_inputs(q), again.generation_inputs(q)
    assert (a["input_ids"] == b["input_ids"]).all() and (a["attention_mask"] == b["attention_mask"]).all()


def test_load_processor_missing_dir_names_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not in the local hub cache"):
        load_processor(tmp_path / "nope")


def _sentencepiece_checkpoint(root: Path, add_dummy_prefix: bool):
    spm = pytest.importorskip("sentencepiece")
    corpus = ["hello world what is in the picture\nsystem", "the user asks the assistant\nnew line",
              "describe it two dots a small red cube", string.ascii_letters + string.digits] * 30
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus), model_writer=buf, vocab_size=400, model_type="bpe", byte_fallback=True,
        user_defined_symbols=["[UNUSED_TOKEN_145]", "[UNUSED_TOKEN_146]"], unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        normalization_rule_name="identity", add_dummy_prefix=add_dummy_prefix, remove_extra_whitespaces=False,
        hard_vocab_limit=False, minloglevel=2)
    (root / "tokenizer.model").write_bytes(buf.getvalue())
    sp = spm.SentencePieceProcessor(model_proto=buf.getvalue())
    (root / "added_tokens.json").write_text(json.dumps({"<image>": sp.get_piece_size()}))
    # What an InternLM2 checkpoint names: a remote-code class, which must never be run.
    (root / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "InternLM2Tokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "pad_token": "</s>", "auto_map": {"AutoTokenizer": ["tokenization_internlm2.InternLM2Tokenizer", None]}}))
    return sp


@pytest.mark.parametrize("add_dummy_prefix", [True, False])
def test_internlm2_sentencepiece_matches_slow_semantics(tmp_path: Path, add_dummy_prefix: bool) -> None:
    """Reference = what the authors' slow tokenizer does: split on special tokens, sp.encode every chunk."""
    sp = _sentencepiece_checkpoint(tmp_path, add_dummy_prefix)
    tok = load_tokenizer(tmp_path)
    tpl = get_template("trol_internlm2")
    text = tpl.prompt(tpl.expand_images("<image>\nwhat is in the picture", [2]), system="hello world") + " two dots</s>"
    specials = {"<s>": 1, "</s>": 2, "<image>": sp.get_piece_size(),
                "[UNUSED_TOKEN_145]": sp.piece_to_id("[UNUSED_TOKEN_145]"),
                "[UNUSED_TOKEN_146]": sp.piece_to_id("[UNUSED_TOKEN_146]")}
    ref: list[int] = []
    for chunk in re.split("(" + "|".join(re.escape(s) for s in specials) + ")", text):
        if chunk:
            ref += [specials[chunk]] if chunk in specials else sp.encode(chunk)
    assert tok(text, add_special_tokens=False)["input_ids"] == ref
    ids = special_token_ids(tok, tpl)
    assert ids["image_token_index"] == sp.get_piece_size() and ids["eos_token_id"] == 2


def test_remote_code_tokenizer_without_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "FancyTokenizer", "auto_map": {"AutoTokenizer": ["x.FancyTokenizer", None]}}))
    with pytest.raises(ValueError, match="remote tokenizer code"):
        load_tokenizer(tmp_path)


def test_added_token_id_mismatch_is_reported(tmp_path: Path) -> None:
    sp = _sentencepiece_checkpoint(tmp_path, True)
    (tmp_path / "added_tokens.json").write_text(json.dumps({"<image>": sp.get_piece_size() + 5}))
    with pytest.raises(ValueError, match=r"added_tokens\.json.*<image>"):
        load_tokenizer(tmp_path)


def test_qwen2_vocab_and_merges_load_through_stock_class(tmp_path: Path) -> None:
    """Phantom-0.5B layout: vocab.json + merges.txt + tokenizer_config.json naming Qwen2Tokenizer."""
    from model.tokenizer import train_bpe

    core = train_bpe(CORPUS, 300, ["<|endoftext|>"])
    core.model.save(str(tmp_path))  # writes vocab.json and merges.txt
    n = core.get_vocab_size()
    added = {str(n + k): {"content": t, "special": True, "lstrip": False, "rstrip": False, "normalized": False,
                          "single_word": False} for k, t in enumerate(["<|im_start|>", "<|im_end|>"])}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "Qwen2Tokenizer", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
        "added_tokens_decoder": added}))
    tok = load_tokenizer(tmp_path)
    assert type(tok).__name__ == "Qwen2Tokenizer"
    ids = tok("<|im_start|>user\nwhat<|im_end|>", add_special_tokens=False)["input_ids"]
    assert ids[0] == n and ids[-1] == n + 1 and tok.eos_token_id == n + 1 and tok.pad_token_id == 0


def test_phi3_style_sentencepiece_uses_stock_llama_class(tmp_path: Path) -> None:
    """A sentencepiece model whose tokenizer_config names the stock LlamaTokenizer (Phi-3 layout) loads through
    AutoTokenizer with the listed chat specials."""
    sp = _sentencepiece_checkpoint(tmp_path, True)
    (tmp_path / "added_tokens.json").unlink()
    n = sp.get_piece_size()
    added = {str(n + k): {"content": t, "special": True, "lstrip": False, "rstrip": False, "normalized": False,
                          "single_word": False} for k, t in enumerate(["<|user|>", "<|end|>", "<|assistant|>"])}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "legacy": False, "add_bos_token": False, "added_tokens_decoder": added}))
    tok = load_tokenizer(tmp_path)
    assert type(tok).__name__ == "LlamaTokenizer"
    ids = tok("<|user|>\nhello<|end|><|assistant|>\n", add_special_tokens=False)["input_ids"]
    assert ids[0] == n and ids.count(n + 1) == 1 and ids.count(n + 2) == 1
