"""Training collation: fixture train ids/labels, label masks, right padding, truncation that never splits an
image, skipping, Phantom triples, mixed batches, DataLoader workers, packing."""
from __future__ import annotations

import logging
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from loader.collate import Collator, PackingCollator
from loader.records import Sample, Turn
from model.processing import Processor
from model.tokenizer import build_tiny_tokenizer
from tests.test_processing_templates import CASES, OFFICIAL, fixture_processor


def img(w: int = 28, h: int = 28, rgb: tuple[int, int, int] = (10, 200, 30)) -> Image.Image:
    return Image.new("RGB", (w, h), rgb)


def sample(sid: str, turns: list[tuple[str, str]], images=(), **kw) -> Sample:
    return Sample(sid, "test", [Turn(r, c) for r, c in turns], list(images), **kw)


@pytest.mark.parametrize("name", sorted(CASES))
def test_train_ids_and_labels_match_fixture(name: str) -> None:
    proc = fixture_processor(name)
    picture = Image.fromarray(np.zeros((112, 112, 3), np.uint8))
    batch = Collator(proc, padding_side="left")([
        sample("a", [("user", "what is in the picture ?"), ("assistant", "a small red cube on a table")], [picture]),
        sample("b", [("user", "describe it"), ("assistant", "two dots")], [picture])])
    ref = load_file(str(OFFICIAL / name / "inputs.safetensors"))
    assert torch.equal(batch["input_ids"], ref["train_input_ids"])
    assert torch.equal(batch["attention_mask"], ref["train_attention_mask"])
    assert torch.equal(batch["labels"], ref["train_labels"])


@pytest.fixture(scope="module")
def proc() -> Processor:
    corpus = [f"question {i}: what colour is the cube? answer: the cube is red and {i} dots" for i in range(100)]
    tok = build_tiny_tokenizer(corpus, 400)
    return Processor(tok, SimpleNamespace(template="tiny", image_size=28, tokens_per_tile=4))


def supervised_text(proc: Processor, ids: torch.Tensor, labels: torch.Tensor) -> str:
    return proc.tokenizer.decode(ids[labels != -100].tolist())


def test_labels_cover_every_answer_with_end_marker_and_right_padding(proc: Processor) -> None:
    long = sample("long", [("user", "<image>\nwhat colour?"), ("assistant", "red"), ("user", "and now?"),
                           ("assistant", "still red")], [img()])
    short = sample("short", [("user", "hi"), ("assistant", "ok")])
    batch = Collator(proc)([long, short])
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    assert supervised_text(proc, ids[0], labels[0]) == "red<|im_end|>still red<|im_end|>"
    assert supervised_text(proc, ids[1], labels[1]) == "ok<|im_end|>"
    n = int(mask[1].sum())
    assert mask[1, :n].all() and not mask[1, n:].any()  # right padding
    assert (ids[1, n:] == proc.pad_token_id).all() and (labels[1, n:] == -100).all()
    assert (labels[mask == 0] == -100).all()
    assert (labels[ids == proc.image_token_index] == -100).all()
    # Mixed batch: only the image sample contributes tiles (one 28x28 tile = 4 image tokens).
    assert batch["pixel_values"].shape == (1, 3, 28, 28)
    assert int((ids[0] == proc.image_token_index).sum()) == 4
    assert Collator(proc)([short])["pixel_values"] is None


def test_truncation_drops_trailing_turns_first(proc: Processor) -> None:
    s = sample("multi", [("user", "<image>\nq"), ("assistant", "red"), ("user", "what colour is the cube " * 5),
                         ("assistant", "the cube is red " * 5)], [img()])
    full = Collator(proc)([s])["input_ids"]
    one_pair = Collator(proc)([sample("one", [("user", "<image>\nq"), ("assistant", "red")], [img()])])
    limit = one_pair["input_ids"].shape[1] + 3
    assert full.shape[1] > limit
    batch = Collator(proc, max_length=limit)([s])
    assert torch.equal(batch["input_ids"], one_pair["input_ids"])
    assert torch.equal(batch["labels"], one_pair["labels"])


def test_truncation_cuts_text_after_image_block_never_inside(proc: Processor) -> None:
    big = img(56, 28)  # 2 tiles + thumbnail = 12 image tokens
    s = sample("cut", [("user", "<image>\nq"), ("assistant", "the cube is red " * 10)], [big])
    full = Collator(proc)([s])
    answer_start = int((full["labels"][0] != -100).nonzero().min())
    limit = answer_start + 4  # the cut falls inside the answer, after the image block
    assert limit < full["input_ids"].shape[1]
    out = Collator(proc, max_length=limit)([s])
    assert out["input_ids"].shape == (1, limit)
    assert int((out["input_ids"][0] == proc.image_token_index).sum()) == 12
    assert out["pixel_values"].shape[0] == 3
    assert torch.equal(out["input_ids"][0], full["input_ids"][0, :limit])
    assert (out["labels"][0] != -100).any()


def test_sample_whose_image_does_not_fit_is_skipped(proc: Processor, caplog) -> None:
    big = sample("huge", [("user", "<image>\nq"), ("assistant", "red")], [img(84, 28)])  # 4 tiles, 16 tokens
    ok = sample("fine", [("user", "hi"), ("assistant", "ok")])
    fine_len = Collator(proc)([ok])["input_ids"].shape[1]
    col = Collator(proc, max_length=fine_len)
    assert fine_len < 5 + 18  # the image block (after "<|im_start|>user\n") cannot fit
    with caplog.at_level(logging.WARNING, logger="loader.collate"):
        batch = col([big, ok])
    assert col.num_skipped == 1
    assert "huge" in caplog.text and "image block" in caplog.text and "max_length" in caplog.text
    assert batch["input_ids"].shape[0] == 1 and batch["pixel_values"] is None
    assert col([big]) is None and col.num_skipped == 2


def test_bad_image_sample_is_skipped_with_its_name(proc: Processor, caplog, tmp_path) -> None:
    bad = sample("broken", [("user", "<image>\nq"), ("assistant", "red")], [str(tmp_path / "gone.jpg")])
    gray = sample("gray", [("user", "q"), ("assistant", "red")], [Image.new("L", (28, 28), 50)])
    col = Collator(proc)
    with caplog.at_level(logging.WARNING, logger="loader.collate"):
        batch = col([bad, gray])
    assert "broken" in caplog.text and "gone.jpg" in caplog.text
    assert batch["input_ids"].shape[0] == 1 and batch["pixel_values"].shape[0] == 1  # grayscale -> RGB
    with pytest.raises(ValueError, match="gone.jpg"):
        Collator(proc, skip_bad_images=False)([bad])


def test_phantom_triples(proc: Processor) -> None:
    triple = sample("t1", [("user", "<image>\nwhat colour is the cube?")], [img()], chosen="red",
                    rejected="the cube is blue")
    # A reader may also keep the chosen answer as the final assistant turn.
    triple2 = sample("t2", [("user", "q"), ("assistant", "red"), ("user", "dots?"), ("assistant", "2 dots")],
                     chosen="2 dots", rejected="no dots")
    batch = Collator(proc)([triple, triple2])
    assert set(batch) >= {"rejected_input_ids", "rejected_attention_mask", "rejected_labels"}
    assert supervised_text(proc, batch["input_ids"][0], batch["labels"][0]) == "red<|im_end|>"
    assert supervised_text(proc, batch["rejected_input_ids"][0], batch["rejected_labels"][0]) == \
        "the cube is blue<|im_end|>"
    # Only the final answer is labelled, earlier assistant turns are context.
    assert supervised_text(proc, batch["input_ids"][1], batch["labels"][1]) == "2 dots<|im_end|>"
    assert supervised_text(proc, batch["rejected_input_ids"][1], batch["rejected_labels"][1]) == "no dots<|im_end|>"
    # Same prompt in both branches, same image tokens; pixels shared.
    c, r = batch["input_ids"][0], batch["rejected_input_ids"][0]
    k = int((batch["labels"][0] != -100).nonzero().min())
    assert torch.equal(c[:k], r[:k])
    assert batch["pixel_values"].shape[0] == 1
    with pytest.raises(ValueError, match="mixes Phantom triples"):
        Collator(proc)([triple, sample("plain", [("user", "q"), ("assistant", "a")])])


def test_collator_pickles_and_runs_in_a_worker(proc: Processor) -> None:
    samples = [sample(str(i), [("user", f"<image>\nq{i}"), ("assistant", "red")], [img()]) for i in range(4)]
    col = Collator(proc, max_length=64)
    clone = pickle.loads(pickle.dumps(col))
    direct = col(samples[:2])
    assert torch.equal(clone(samples[:2])["input_ids"], direct["input_ids"])
    loader = torch.utils.data.DataLoader(samples, batch_size=2, collate_fn=col, num_workers=1)
    batches = list(loader)
    assert len(batches) == 2 and torch.equal(batches[0]["input_ids"], direct["input_ids"])
    assert torch.equal(batches[0]["pixel_values"], direct["pixel_values"])


def test_packing_keeps_labels_inside_samples(proc: Processor) -> None:
    samples = [sample(str(i), [("user", f"q{i}"), ("assistant", "the cube is red")]) for i in range(5)]
    single = [Collator(proc)([s]) for s in samples]
    lengths = [int(b["input_ids"].shape[1]) for b in single]
    limit = lengths[0] * 2 + 1
    batch = PackingCollator(proc, max_length=limit, return_position_ids=True)(samples)
    assert batch["input_ids"].shape == (3, lengths[0] * 2)
    assert batch["pixel_values"] is None
    row_ids, row_labels, pos = batch["input_ids"][0], batch["labels"][0], batch["position_ids"][0]
    n = lengths[0]
    assert torch.equal(row_ids[:n], single[0]["input_ids"][0]) and torch.equal(row_ids[n:], single[1]["input_ids"][0])
    assert row_labels[n] == -100  # no prediction across the boundary
    assert torch.equal(row_labels[n + 1:], single[1]["labels"][0][1:])
    assert pos[0] == 0 and pos[n] == 0 and pos[n - 1] == n - 1
    assert int(batch["attention_mask"][2].sum()) == n  # last row: one sample, right padded
    with pytest.raises(ValueError, match="text-only"):
        PackingCollator(proc, max_length=100)([sample("i", [("user", "q"), ("assistant", "a")], [img()])])


def test_tokenizers_without_offsets_label_piecewise(monkeypatch) -> None:
    proc = fixture_processor("phantom-qwen2")
    picture = Image.fromarray(np.zeros((112, 112, 3), np.uint8))
    samples = [sample("b", [("user", "describe it"), ("assistant", "two dots")], [picture])]
    expected = Collator(proc)(samples)
    call = proc.tokenizer.__class__.__call__

    def no_offsets(self, *args, **kwargs):
        if kwargs.get("return_offsets_mapping"):
            raise NotImplementedError("no offsets in this backend")
        return call(self, *args, **kwargs)

    monkeypatch.setattr(proc.tokenizer.__class__, "__call__", no_offsets)
    got = Collator(proc)(samples)
    assert torch.equal(got["input_ids"], expected["input_ids"]) and torch.equal(got["labels"], expected["labels"])
