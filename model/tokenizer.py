"""Tokenizer loading (our saved models and the authors' checkpoints, no remote code) and the tiny tokenizer.

* `load_tokenizer(path)` opens a model directory. Directories with a `tokenizer.json` (ours, TroL-3.8B,
  Phantom-3.8B) or a Qwen2 `vocab.json` + `merges.txt` (Phantom-0.5B) load through stock transformers classes.
  InternLM2 checkpoints (TroL-1.8B/7B, Phantom-1.8B/7B) ship a sentencepiece `tokenizer.model` and name the
  remote-code class `InternLM2Tokenizer`; they are loaded through the stock `LlamaTokenizer` with the
  pre-tokenizer set to reproduce the authors' slow tokenizer (split on added tokens, then one sentencepiece
  `encode` per chunk, so a dummy prefix goes on *every* chunk when the model's normalizer asks for one), plus the
  special tokens of `added_tokens.json`.
* `build_tiny_tokenizer(corpus, vocab_size, specials)` trains a small byte-level BPE deterministically, with the
  template's special tokens at the first ids, wrapped as a `PreTrainedTokenizerFast` that saves and reloads.
* `build_word_level_tokenizer(vocab)` turns a fixture's `vocab.json` (id -> word) into a tokenizer that splits on
  spaces, isolates newlines and matches special tokens anywhere: it reproduces the fixtures' `input_ids`.
* `special_token_ids(tokenizer, template)` gives the special ids of a template; `model_config_ids` narrows them
  to the `ModelConfig` fields (`build_model(preset, **ids)`).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # transformers is imported where used, so the BPE trainer stays light (tests run it in a subprocess)
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

log = logging.getLogger(__name__)

# The special tokens every tiny model (ChatML-like Phantom template, InternVL image block) needs, in id order.
TINY_SPECIALS: tuple[str, ...] = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>")
TINY_PAD = "<|endoftext|>"
TINY_EOS = "<|im_end|>"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err}); fix or re-download the file") from err


def _is_internlm2(cfg: dict[str, Any]) -> bool:
    name = str(cfg.get("tokenizer_class") or "")
    auto = json.dumps(cfg.get("auto_map") or {})
    return "InternLM2" in name or "internlm2" in auto.lower()


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """Load the tokenizer of a model directory without remote code (see the module docstring)."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: tokenizer directory not found; pass a model directory "
                                "(or a hub id already in the local cache)")
    cfg_file = root / "tokenizer_config.json"
    cfg = _read_json(cfg_file) if cfg_file.is_file() else {}
    # InternLM2 (or a bare sentencepiece model with no class named); a stock class such as Phi-3's LlamaTokenizer
    # goes through AutoTokenizer below with its own tokenizer_config settings.
    if _is_internlm2(cfg) or (not (root / "tokenizer.json").is_file() and (root / "tokenizer.model").is_file()
                              and not cfg.get("tokenizer_class")):
        return _load_sentencepiece(root, cfg)
    if cfg.get("auto_map") and not (root / "tokenizer.json").is_file():
        raise ValueError(f"{cfg_file}: names remote tokenizer code ({cfg.get('tokenizer_class')}) and there is no "
                         "tokenizer.json; remote code is never run. Fix: save a tokenizer.json with a stock class")
    from transformers import AutoTokenizer

    # No trust_remote_code: only stock classes named in tokenizer_config.json can load.
    return AutoTokenizer.from_pretrained(str(root))


def _load_sentencepiece(root: Path, cfg: dict[str, Any]) -> PreTrainedTokenizerBase:
    """InternLM2-style sentencepiece checkpoint through the stock `LlamaTokenizer` (tokenizers backend)."""
    from tokenizers import pre_tokenizers
    from transformers import LlamaTokenizer

    model_file = root / "tokenizer.model"
    if not model_file.is_file():
        raise FileNotFoundError(f"{model_file}: missing; an InternLM2 checkpoint needs its sentencepiece model")
    add_dummy_prefix = _sentencepiece_adds_dummy_prefix(model_file)
    kwargs = {k: cfg[k] for k in ("bos_token", "eos_token", "unk_token", "pad_token") if isinstance(cfg.get(k), str)}
    tok = LlamaTokenizer.from_pretrained(str(root), legacy=True, add_bos_token=False, add_eos_token=False, **kwargs)
    # The authors' slow tokenizer runs sp.encode on each text chunk between added tokens: the dummy prefix
    # (if the model has one) goes on every chunk; "always" does exactly that, "never" when the model has none.
    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="\u2581", prepend_scheme="always" if add_dummy_prefix else "never", split=False)
    tok.backend_tokenizer.normalizer = None
    _add_listed_tokens(tok, root)
    return tok


def _sentencepiece_adds_dummy_prefix(model_file: Path) -> bool:
    try:
        from sentencepiece import sentencepiece_model_pb2
    except ImportError as err:  # protobuf missing (spec/env.md §4)
        raise ImportError(f"{model_file}: reading a sentencepiece model needs protobuf; pip install protobuf") from err
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model_file.read_bytes())
    return bool(proto.normalizer_spec.add_dummy_prefix)


def _add_listed_tokens(tok: PreTrainedTokenizerBase, root: Path) -> None:
    """Make every token of added_tokens.json a special token at its listed id (pieces already in the
    sentencepiece vocabulary, e.g. InternLM2's [UNUSED_TOKEN_145/146], keep their id and just become unsplittable)."""
    listed_file = root / "added_tokens.json"
    listed = _read_json(listed_file) if listed_file.is_file() else {}
    for text, want in sorted(listed.items(), key=lambda kv: kv[1]):
        tok.add_tokens([text], special_tokens=True)
        got = tok.convert_tokens_to_ids(text)
        if got != want:
            raise ValueError(f"{listed_file}: token {text!r} is listed with id {want} but the vocabulary gives {got}; "
                             "fix: list added tokens in id order right after the sentencepiece vocabulary")


def build_tiny_tokenizer(corpus: Iterable[str], vocab_size: int,
                         specials: Iterable[str] = TINY_SPECIALS, pad_token: str = TINY_PAD,
                         eos_token: str = TINY_EOS) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `corpus` (deterministic for the same corpus order); `specials` get ids 0..k-1."""
    from transformers import PreTrainedTokenizerFast

    specials = list(dict.fromkeys(specials))
    for needed in (pad_token, eos_token):
        if needed not in specials:
            specials.append(needed)
    core = train_bpe(corpus, vocab_size, specials)
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=pad_token, eos_token=eos_token)


def train_bpe(corpus: Iterable[str], vocab_size: int, specials: Iterable[str]) -> "Tokenizer":
    """The bare `tokenizers` byte-level BPE behind `build_tiny_tokenizer`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(specials), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator(corpus, trainer=trainer)
    return core


def build_word_level_tokenizer(vocab: dict[int, str] | str | Path, unk_token: str | None = None,
                               pad_token: str | None = None, eos_token: str | None = None) -> PreTrainedTokenizerFast:
    """A tokenizer for the fixtures' synthetic vocabularies (`vocab.json`: id -> string). Words are split on
    spaces, "\\n" is its own token, and every entry that looks like a marker (`<...>`, `[...]`) is a special token
    matched anywhere in the text."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    if not isinstance(vocab, dict):
        vocab = {int(k): v for k, v in _read_json(Path(vocab)).items()}
    word_to_id = {word: int(i) for i, word in vocab.items()}
    if unk_token is None:
        unk_token = "<unk>" if "<unk>" in word_to_id else vocab[min(vocab)]
    core = Tokenizer(models.WordLevel(vocab=word_to_id, unk_token=unk_token))
    core.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(" ", behavior="removed"),
        pre_tokenizers.Split(Regex("\n"), behavior="isolated"),
    ])
    markers = [w for w in word_to_id
               if (w.startswith("<") and w.endswith(">")) or (w.startswith("[") and w.endswith("]"))]
    tok = PreTrainedTokenizerFast(tokenizer_object=core, unk_token=unk_token, pad_token=pad_token, eos_token=eos_token)
    tok.add_tokens(markers, special_tokens=True)
    return tok


def special_token_ids(tokenizer: PreTrainedTokenizerBase, template: Any) -> dict[str, int]:
    """The ids a model config needs: `vocab_size`, `image_token_index`, `eos_token_id`, `pad_token_id`, and
    `img_start_id`/`img_end_id` for InternVL-style image blocks. `template` is a `model.templates.Template` or a
    template name."""
    from model.templates import get_template

    tpl = get_template(template) if isinstance(template, str) else template
    ids: dict[str, int] = {"vocab_size": len(tokenizer)}

    def _id(token: str, what: str) -> int:
        got = tokenizer.convert_tokens_to_ids(token)
        if got is None or (got == tokenizer.unk_token_id and token != tokenizer.unk_token):
            raise ValueError(f"tokenizer has no {what} token {token!r} (template {tpl.name}); fix: build the "
                             "tokenizer with the template's special tokens (model.tokenizer.build_tiny_tokenizer)")
        return int(got)

    ids["image_token_index"] = _id(tpl.image_token, "image")
    if tpl.image_start:
        ids["img_start_id"] = _id(tpl.image_start, "image start")
        ids["img_end_id"] = _id(tpl.image_end, "image end")
    ids["eos_token_id"] = _id(tpl.eos_token, "end-of-sequence")
    pad = tokenizer.pad_token if tokenizer.pad_token is not None else tpl.eos_token
    ids["pad_token_id"] = _id(pad, "padding")
    return ids


# The `config.ModelConfig` fields a tokenizer decides (the others come from the preset).
MODEL_CONFIG_ID_FIELDS = ("vocab_size", "image_token_index", "eos_token_id", "pad_token_id")


def model_config_ids(tokenizer: PreTrainedTokenizerBase, template: Any) -> dict[str, int]:
    """`special_token_ids` narrowed to the `ModelConfig` fields, ready for `build_model(preset, **ids)`."""
    ids = special_token_ids(tokenizer, template)
    return {k: ids[k] for k in MODEL_CONFIG_ID_FIELDS}
