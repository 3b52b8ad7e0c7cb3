"""Process context of an evaluation: rank, world size, device and a barrier.

Under `torchrun --nproc_per_node N` or `accelerate launch --multi_gpu --num_processes N` the processes form a
group through accelerate (gloo on CPU with `Accelerator(cpu=True)`, NCCL on GPUs; env.md §3.1: `accelerate
launch --cpu --num_processes 2` starts only one process). A plain `python eval.py` is a world of one and never
touches torch.distributed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class ProcessContext:
    """Where this process sits among the evaluation processes."""

    rank: int = 0
    world_size: int = 1
    device: str = "cpu"
    accelerator: Any = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every process (no-op for one process)."""
        if self.accelerator is not None and self.world_size > 1:
            self.accelerator.wait_for_everyone()


def launched_world_size() -> int:
    """WORLD_SIZE set by torchrun / accelerate launch (1 otherwise)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def process_context(device: str = "auto") -> ProcessContext:
    """The context of this process; `device` "auto" means CUDA when available, else CPU."""
    use_cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    if launched_world_size() > 1:
        from accelerate import Accelerator

        accelerator = Accelerator(cpu=use_cpu)
        return ProcessContext(rank=accelerator.process_index, world_size=accelerator.num_processes,
                              device=str(accelerator.device), accelerator=accelerator)
    if device == "auto":
        device = "cpu" if use_cpu else "cuda"
    return ProcessContext(device=device)
