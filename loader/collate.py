"""Training collation: `loader.records.Sample` lists -> padded model inputs with labels.

`Collator(processor, max_length)` returns `input_ids`, `attention_mask`, `labels` (-100 except the tokens of the
assistant answers, end marker included) and `pixel_values` (tiles of the batch row by row, None when no sample has
an image). Padding is on the right by default (training). Phantom triples (`Sample.chosen`/`rejected` set) also
give `rejected_input_ids`, `rejected_attention_mask`, `rejected_labels`; in both branches only the final answer
is labelled (the preference term compares the two answers; spec/model.md §10). `turns` holds the prompt; if it
ends with an assistant turn, that turn is taken to be the chosen answer and replaced by `chosen`.

Truncation never splits an image's tokens: trailing (user, assistant) pairs are dropped first; if the remaining
conversation is still too long, the text after the image blocks is cut at `max_length`; a sample whose image
block does not fit, or that keeps no answer token, is skipped with a warning (counted in `num_skipped`), never
crashed on. A batch whose samples were all skipped is returned as None (the trainer skips it).

`PackingCollator` packs text-only samples into rows of `max_length` tokens. Labels never cross a sample boundary
(the first token of every sample is -100, so no sample is predicted from its predecessor). Attention is *not*
isolated between the packed samples: the row is one causal sequence. With `return_position_ids=True` positions
restart at 0 for every sample; transformers' FlashAttention-2 path uses such position ids to isolate packed
sequences, SDPA/eager do not. Phantom's sos position is the row's first real token, so in a packed row only
the first sample gets its own: pack text for models without Phantom, or accept that approximation.

Collators hold only the processor (tokenizer + settings), no global state, and pickle, so they run inside
DataLoader workers; images are decoded and tiled there.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence

import torch

from loader.records import IMAGE_PLACEHOLDER, Sample
from model.processing import ImageError, Processor

log = logging.getLogger(__name__)


class SkipSample(Exception):
    """A sample that cannot be used (reported and left out of the batch)."""


class Collator:
    """See the module docstring."""

    def __init__(self, processor: Processor, max_length: int | None = None, padding_side: str = "right",
                 pad_to_multiple_of: int | None = None, skip_bad_images: bool = True) -> None:
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        self.processor = processor
        self.max_length = max_length
        self.padding_side = padding_side
        self.pad_to_multiple_of = pad_to_multiple_of
        self.skip_bad_images = skip_bad_images
        self.num_skipped = 0

    # -- one sample -----------------------------------------------------------------------------------------
    def _turns(self, sample: Sample) -> list[tuple[str, str]]:
        return [(t.role, t.content) for t in sample.turns]

    def _place(self, turns: list[tuple[str, str]], n_pix: int, n_refs: int) -> list[tuple[str, str]]:
        users = [i for i, (r, _) in enumerate(turns) if r == "user"]
        if not users:
            raise SkipSample("no user turn")
        texts = self.processor.place_placeholders([turns[i][1] for i in users], n_pix, n_refs)
        out = list(turns)
        for i, t in zip(users, texts):
            out[i] = (out[i][0], t)
        return out

    def _image_blocks(self, ids: list[int]) -> list[tuple[int, int]]:
        """(start, end) of every image block, the <img>/</img> markers included."""
        tpl, tok = self.processor.template, self.processor.tokenizer
        start_id = tok.convert_tokens_to_ids(tpl.image_start) if tpl.image_start else None
        end_id = tok.convert_tokens_to_ids(tpl.image_end) if tpl.image_end else None
        blocks, i, img = [], 0, self.processor.image_token_index
        while i < len(ids):
            if ids[i] == img:
                j = i
                while j < len(ids) and ids[j] == img:
                    j += 1
                s = i - 1 if start_id is not None and i > 0 and ids[i - 1] == start_id else i
                e = j + 1 if end_id is not None and j < len(ids) and ids[j] == end_id else j
                blocks.append((s, e))
                i = j
            else:
                i += 1
        return blocks

    def _fit(self, turns: list[tuple[str, str]], pixels: list[torch.Tensor], target_turns: str,
             allow_drop_turns: bool) -> tuple[list[int], list[int], list[torch.Tensor]]:
        """Encode, dropping trailing turn pairs / cutting text so that no image block is split."""
        proc = self.processor
        while True:
            n_ph = sum(c.count(IMAGE_PLACEHOLDER) for _, c in turns)
            use = pixels[:n_ph]
            ids, labels = proc.encode_conversation(turns, use, target_turns=target_turns)
            if self.max_length is None or len(ids) <= self.max_length:
                return ids, labels, use
            users = [i for i, (r, _) in enumerate(turns) if r == "user"]
            if allow_drop_turns and len(users) > 1:
                turns = turns[:users[-1]]
                continue
            break
        limit = self.max_length
        blocks = self._image_blocks(ids)
        for k, (s, e) in enumerate(blocks):
            if s < limit < e:
                raise SkipSample(f"image block {k} spans tokens {s}..{e} but max_length is {limit}")
        kept_images = sum(1 for s, e in blocks if e <= limit)
        counts = [proc.image_token_count(p) for p in use]
        if sum(counts[:kept_images]) != sum(1 for t in ids[:limit] if t == proc.image_token_index):
            raise SkipSample("image tokens do not match the images after truncation")
        ids, labels = ids[:limit], labels[:limit]
        if all(x == -100 for x in labels):
            raise SkipSample(f"no answer token fits in max_length={limit}")
        return ids, labels, use[:kept_images]

    def encode_sample(self, sample: Sample) -> dict[str, Any]:
        """ids/labels (and the rejected branch for triples) of one sample; raises SkipSample or ImageError."""
        name = f"sample {sample.id!r} (source {sample.source})"
        try:
            pixels = self.processor.prepare_images(list(sample.images), name=f"{name} image")
        except ImageError as err:
            if not self.skip_bad_images:
                raise
            raise SkipSample(str(err)) from err
        try:
            turns = self._place(self._turns(sample), len(pixels), len(sample.images))
            if sample.chosen is None and sample.rejected is None:
                ids, labels, used = self._fit(turns, pixels, "all", allow_drop_turns=True)
                return {"ids": ids, "labels": labels, "pixels": used}
            if sample.chosen is None or sample.rejected is None:
                raise SkipSample("a Phantom triple needs both chosen and rejected")
            prompt = list(turns)
            if prompt and prompt[-1][0] == "assistant":
                prompt = prompt[:-1]  # the reader may have put the chosen answer as the final turn
            ids, labels, used = self._fit(prompt + [("assistant", sample.chosen)], pixels, "last", False)
            r_ids, r_labels, r_used = self._fit(prompt + [("assistant", sample.rejected)], pixels, "last", False)
            if len(r_used) != len(used):
                raise SkipSample("chosen and rejected branches keep different images after truncation")
            return {"ids": ids, "labels": labels, "pixels": used, "r_ids": r_ids, "r_labels": r_labels}
        except ValueError as err:
            raise SkipSample(str(err)) from err

    # -- batch ----------------------------------------------------------------------------------------------
    def _pad(self, rows: Sequence[list[int]], value: int) -> torch.Tensor:
        width = max(len(r) for r in rows)
        if self.pad_to_multiple_of:
            m = self.pad_to_multiple_of
            width = (width + m - 1) // m * m
        out = torch.full((len(rows), width), value, dtype=torch.long)
        for b, r in enumerate(rows):
            if self.padding_side == "right":
                out[b, :len(r)] = torch.tensor(r, dtype=torch.long)
            else:
                out[b, width - len(r):] = torch.tensor(r, dtype=torch.long)
        return out

    def _mask(self, rows: Sequence[list[int]], width: int) -> torch.Tensor:
        return self._pad([[1] * len(r) for r in rows], 0)[:, :width]

    def __call__(self, samples: Sequence[Sample]) -> dict[str, torch.Tensor | None] | None:
        encoded = []
        for sample in samples:
            try:
                encoded.append(self.encode_sample(sample))
            except SkipSample as err:
                self.num_skipped += 1
                log.warning("skipping sample %r (source %s): %s; fix: raise max_length, lower max_tiles or repair "
                            "the record", sample.id, sample.source, err)
        if not encoded:
            return None
        triples = ["r_ids" in e for e in encoded]
        if any(triples) and not all(triples):
            raise ValueError("batch mixes Phantom triples and plain samples (ids "
                             f"{[s.id for s in samples]}); fix: batch triples separately")
        pad = self.processor.pad_token_id
        ids = [e["ids"] for e in encoded]
        batch: dict[str, torch.Tensor | None] = {"input_ids": self._pad(ids, pad)}
        batch["attention_mask"] = self._mask(ids, batch["input_ids"].shape[1])
        batch["labels"] = self._pad([e["labels"] for e in encoded], -100)
        tiles = [p for e in encoded for p in e["pixels"]]
        batch["pixel_values"] = torch.cat(tiles).float() if tiles else None
        if all(triples):
            r_ids = [e["r_ids"] for e in encoded]
            batch["rejected_input_ids"] = self._pad(r_ids, pad)
            batch["rejected_attention_mask"] = self._mask(r_ids, batch["rejected_input_ids"].shape[1])
            batch["rejected_labels"] = self._pad([e["r_labels"] for e in encoded], -100)
        return batch


class PackingCollator(Collator):
    """Packs text-only samples into rows of at most `max_length` tokens (see the module docstring)."""

    def __init__(self, processor: Processor, max_length: int, return_position_ids: bool = False) -> None:
        super().__init__(processor, max_length, padding_side="right")
        self.return_position_ids = return_position_ids

    def __call__(self, samples: Sequence[Sample]) -> dict[str, torch.Tensor | None] | None:
        rows: list[tuple[list[int], list[int], list[int]]] = []
        cur_ids: list[int] = []
        cur_labels: list[int] = []
        cur_pos: list[int] = []
        for sample in samples:
            if sample.images or sample.chosen is not None:
                raise ValueError(f"sample {sample.id!r} (source {sample.source}): PackingCollator takes text-only "
                                 "SFT samples; fix: use Collator for image samples and triples")
            try:
                enc = self.encode_sample(sample)
            except SkipSample as err:
                self.num_skipped += 1
                log.warning("skipping sample %r (source %s): %s", sample.id, sample.source, err)
                continue
            ids, labels = enc["ids"], list(enc["labels"])
            labels[0] = -100  # never predict a sample's first token from the previous sample
            if cur_ids and len(cur_ids) + len(ids) > self.max_length:
                rows.append((cur_ids, cur_labels, cur_pos))
                cur_ids, cur_labels, cur_pos = [], [], []
            cur_ids += ids
            cur_labels += labels
            cur_pos += list(range(len(ids)))
        if cur_ids:
            rows.append((cur_ids, cur_labels, cur_pos))
        if not rows:
            return None
        pad = self.processor.pad_token_id
        batch: dict[str, torch.Tensor | None] = {"input_ids": self._pad([r[0] for r in rows], pad)}
        batch["attention_mask"] = self._mask([r[0] for r in rows], batch["input_ids"].shape[1])
        batch["labels"] = self._pad([r[1] for r in rows], -100)
        batch["pixel_values"] = None
        if self.return_position_ids:
            batch["position_ids"] = self._pad([r[2] for r in rows], 0)
        return batch
