"""A resumable, rank-aware batch sampler with optional length and modality grouping.

Each epoch has one global order, the same on every rank (seeded by ``seed + epoch``): a permutation, optionally
cut into mega-batches that are sorted by length (LLaVA's `LengthGroupedSampler` idea: similar lengths share a
batch, little padding) and optionally split by modality so that a batch is all text-only or all image records
(LLaVA's modality grouping, prismatic's `SplitModalitySampler`). The order is cut into global batches of
``batch_size * world_size``; rank r takes its slice of each. `state_dict()` holds the epoch and the number of
batches this rank consumed, so a resumed run continues exactly after them and consumes no sample twice.

With DataLoader workers the sampler runs ahead of the training loop (prefetching); pass the number of batches the
loop actually consumed to `state_dict(consumed_batches=...)` (the trainer's step count within the epoch).
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


class ResumableBatchSampler(Sampler[list[int]]):
    """Yields lists of dataset indices (use as ``DataLoader(batch_sampler=...)``)."""

    def __init__(self, n: int, batch_size: int, *, rank: int = 0, world_size: int = 1, seed: int = 0,
                 shuffle: bool = True, lengths: Sequence[int] | np.ndarray | None = None,
                 text_only: Sequence[bool] | np.ndarray | None = None, mega_batch_mult: int = 32,
                 drop_last: bool = False) -> None:
        if batch_size < 1 or world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need batch_size >= 1 and 0 <= rank < world_size (got {batch_size}, {rank}, "
                             f"{world_size})")
        if lengths is not None and len(lengths) != n:
            raise ValueError(f"lengths has {len(lengths)} entries for {n} samples")
        if text_only is not None and len(text_only) != n:
            raise ValueError(f"text_only has {len(text_only)} entries for {n} samples")
        self.n, self.batch_size, self.rank, self.world_size = n, batch_size, rank, world_size
        self.seed, self.shuffle, self.drop_last, self.mega_batch_mult = seed, shuffle, drop_last, mega_batch_mult
        self.lengths = None if lengths is None else np.asarray(lengths, dtype=np.int64)
        self.text_only = None if text_only is None else np.asarray(text_only, dtype=bool)
        self.epoch = 0
        self.position = 0  # batches of this rank already consumed in `epoch`
        self._yielded = 0
        self._cache: tuple[int, list[np.ndarray]] | None = None

    # --- order ------------------------------------------------------------------------------------------------
    def _grouped(self, idx: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        """Global batches (size batch_size * world_size) of `idx`, length-sorted within mega-batches."""
        g = self.batch_size * self.world_size
        if self.lengths is not None:
            mega = g * self.mega_batch_mult
            parts = []
            for s in range(0, len(idx), mega):
                chunk = idx[s:s + mega]
                parts.append(chunk[np.argsort(-self.lengths[chunk], kind="stable")])
            idx = np.concatenate(parts) if parts else idx
        return [idx[s:s + g] for s in range(0, len(idx), g)]

    def global_batches(self, epoch: int | None = None) -> list[np.ndarray]:
        """The epoch's global batches (identical on all ranks); the last epoch's order is cached."""
        epoch = self.epoch if epoch is None else epoch
        if self._cache is not None and self._cache[0] == epoch:
            return self._cache[1]
        batches = self._build(epoch)
        self._cache = (epoch, batches)
        return batches

    def _build(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(self.n) if self.shuffle else np.arange(self.n)
        groups = [order] if self.text_only is None else [order[self.text_only[order]],
                                                          order[~self.text_only[order]]]
        g = self.batch_size * self.world_size
        batches: list[np.ndarray] = []
        for grp in groups:
            if len(grp) == 0:
                continue
            part = self._grouped(grp, rng)
            if len(part[-1]) < g:
                if self.drop_last:
                    part.pop()
                else:
                    # Pad the last batch from its own group (wrapping around), so every rank gets the same number
                    # of equally sized batches and a batch keeps one modality; a few samples repeat, none is lost.
                    part[-1] = np.concatenate([part[-1], np.resize(grp, g - len(part[-1]))])
            batches += part
        if self.shuffle and batches:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def __len__(self) -> int:
        """Batches this rank yields in a full epoch."""
        return len(self.global_batches())

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.global_batches()
        lo, hi = self.rank * self.batch_size, (self.rank + 1) * self.batch_size
        start = self.position
        self._yielded = start
        for b in batches[start:]:
            self._yielded += 1
            yield [int(i) for i in b[lo:hi]]
        # Epoch finished: the next iteration starts the next epoch from its beginning.
        self.epoch += 1
        self.position = 0
        self._yielded = 0

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self.position, self._yielded = epoch, 0, 0

    # --- resume -----------------------------------------------------------------------------------------------
    def state_dict(self, consumed_batches: int | None = None) -> dict[str, Any]:
        """Epoch and position to resume from. `consumed_batches` (this epoch) overrides the sampler's own count."""
        position = self._yielded if consumed_batches is None else int(consumed_batches)
        return {"epoch": self.epoch, "position": position, "seed": self.seed, "n": self.n,
                "batch_size": self.batch_size, "world_size": self.world_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ("seed", "n", "batch_size", "world_size"):
            if key in state and state[key] != getattr(self, key):
                raise ValueError(f"sampler state was saved with {key}={state[key]}, this run has "
                                 f"{getattr(self, key)}; resume with the same data, batch size and world size")
        self.epoch, self.position, self._yielded = int(state["epoch"]), int(state["position"]), int(state["position"])
