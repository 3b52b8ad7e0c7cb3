"""A tiny random model + processor saved to a directory, for the harness's tests, the throughput benchmark and
smoke runs of `eval.py` on CPU (no weights are downloaded: the tokenizer is trained on a few sentences)."""
from __future__ import annotations

from pathlib import Path

CORPUS = [
    "Answer with the option's letter from the given choices directly.",
    "Answer the question using a single word or phrase.", "Please answer yes or no.",
    "Is there a dog in the image? yes no", "Which option is correct? A. red B. blue C. green D. black",
    "What is the value of the tallest bar? 100 50% 2019", "Select from the following choices. (A) (B) (C) (D)",
] * 8


def save_tiny_model(directory: Path, preset: str = "tiny-qwen2", template: str = "phantom_chatml",
                    vocab_size: int = 320, seed: int = 0, model_vocab_size: int | None = None) -> Path:
    """Build a randomly initialised `preset` with a freshly trained byte-level BPE tokenizer and save both
    (model.save_pretrained + processor.save_pretrained) into `directory`; returns `directory`.
    `model_vocab_size` keeps a larger embedding than the tokenizer needs (a real-size preset's shape)."""
    import torch

    from model import build_model
    from model.processing import Processor
    from model.tokenizer import build_tiny_tokenizer, model_config_ids

    directory = Path(directory)
    tokenizer = build_tiny_tokenizer(CORPUS, vocab_size)
    fields = model_config_ids(tokenizer, template)
    torch.manual_seed(seed)
    if model_vocab_size is not None:
        fields["vocab_size"] = max(model_vocab_size, fields["vocab_size"])
    model = build_model(preset, template=template, **fields)
    model.save_pretrained(directory)
    Processor(tokenizer, model.config).save_pretrained(directory)
    return directory
