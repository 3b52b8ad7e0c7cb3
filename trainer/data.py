"""The trainer's view of the data: a resumable stream of collated micro-batches for this rank.

The order of an epoch comes from `loader.sampler.ResumableBatchSampler.global_batches(epoch)` (seeded by
(seed, epoch), optional length/modality grouping), cut into global micro-batches of `micro_batch_size * world_size`
samples; rank r takes the r-th slice of each. So 2 ranks x B rows see exactly the
samples of 1 rank x 2B rows at every step, and the position `(epoch, micro-batches consumed)` identifies the next
sample on every rank: a resumed run consumes no sample twice. A micro-batch whose samples the collator all drops
is yielded as None (the loop weights it zero) rather than replaced by the next one, so ranks stay aligned with the
single-process order; each rank still checkpoints its own position. The slicing and the position are kept here,
not in the sampler, because a DataLoader with workers prefetches ahead of what the loop has consumed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import torch
from torch.utils.data import DataLoader

log = logging.getLogger("trainer")


@dataclass
class DataPosition:
    epoch: int = 0
    consumed: int = 0  # micro-batches of this epoch already trained on (same count on every rank)
    samples_seen: int = 0  # global samples across ranks

    def to_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "consumed": self.consumed, "samples_seen": self.samples_seen}


class MicroBatchStream:
    """Epoch-ordered, rank-sliced micro-batches with an exact, resumable position.

    `sampler` is a `loader.sampler.ResumableBatchSampler` built with this rank and world size; its
    `global_batches(epoch)` fixes the order (identical on all ranks) and this stream takes the rank's slice.
    """

    def __init__(self, samples: Sequence[Any], collate: Callable[[list[Any]], dict[str, torch.Tensor] | None],
                 sampler: Any, micro_batch_size: int | None = None, num_workers: int = 0, seed: int = 0) -> None:
        self.samples = samples
        self.collate = collate
        self.sampler = sampler
        self.rank, self.world = sampler.rank, sampler.world_size
        self.rows = sampler.batch_size  # rows per rank per optimizer step
        self.mb = micro_batch_size or self.rows
        if self.rows % self.mb:
            raise ValueError(f"sampler batch size {self.rows} is not a multiple of micro_batch_size {self.mb}")
        if len(samples) < self.rows * self.world:
            raise ValueError(f"only {len(samples)} training samples for a global batch of "
                             f"{self.rows * self.world}; lower --set micro_batch_size / grad_accum or add data")
        self.num_workers = num_workers
        self.seed = seed
        self.position = DataPosition()
        self.skipped_batches = 0
        self._cache: tuple[int, list[list[int]]] | None = None
        self.last_indices: list[int] = []  # dataset indices of the micro-batch yielded last

    @property
    def micro_batches_per_epoch(self) -> int:
        return len(self._rank_batches(self.position.epoch))

    def _rank_batches(self, epoch: int) -> list[list[int]]:
        """This rank's micro-batches of `epoch`: its slice of every global batch, cut into micro-batches."""
        if self._cache is None or self._cache[0] != epoch:
            lo, hi = self.rank * self.rows, (self.rank + 1) * self.rows
            out = []
            for b in self.sampler.global_batches(epoch):
                mine = [int(i) for i in b[lo:hi]]
                out += [mine[k:k + self.mb] for k in range(0, len(mine), self.mb)]
            self._cache = (epoch, out)
        return self._cache[1]

    def _collate_ids(self, ids: list[int]) -> dict[str, torch.Tensor]:
        return self.collate([self.samples[i] for i in ids])

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        """Yields micro-batches from the current position on; the position advances as each is yielded."""
        while True:
            batches = self._rank_batches(self.position.epoch)[self.position.consumed:]
            if self.num_workers > 0:
                # an own generator: creating the loader must not draw from the global RNG (exact resume)
                gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.position.epoch)
                it = iter(DataLoader(batches, batch_size=None, num_workers=self.num_workers,
                                     collate_fn=self._collate_ids, generator=gen))
            else:
                it = (self._collate_ids(b) for b in batches)
            for k, batch in enumerate(it):
                self.last_indices = batches[k]
                self.position.consumed += 1
                self.position.samples_seen += self.mb * self.world  # full micro-batches (drop_last sampler)
                if batch is None:  # the collator skipped every sample of this micro-batch (it logged why)
                    self.skipped_batches += 1
                yield batch  # None too: the loop gives it zero weight, so no rank takes extra samples
            self.position = DataPosition(self.position.epoch + 1, 0, self.position.samples_seen)

    def state_dict(self) -> dict[str, int]:
        return self.position.to_dict()

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.position = DataPosition(int(state["epoch"]), int(state["consumed"]), int(state.get("samples_seen", 0)))

    def sample_ids(self, epoch: int, start: int, count: int) -> list[int]:
        """The dataset indices this rank trains on in micro-batches [start, start+count) of `epoch` (for tests)."""
        return [i for b in self._rank_batches(epoch)[start:start + count] for i in b]
