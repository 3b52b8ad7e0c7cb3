"""Atomic checkpoints and exact resume: model, optimizer, scheduler, RNG states and data position.

Layout of `OUT/checkpoint-<step>/` (CONTRACTS.md): the model as `save_pretrained` writes it (or `adapter/` while
LoRA trains) plus the processor, and `trainer_state/` with `state.json` (step, data position, counters),
`trainable.safetensors` (the trained parameters, exact float32), `optimizer.pt` (optimizer + scheduler, read back
with `torch.load(weights_only=True)`) or `deepspeed/` (ZeRO partitions), and `rank<r>.pt` per rank (RNG states
and data position).
A checkpoint is written under a temporary name and renamed when complete, so a kill never leaves a half one that
`--resume` would pick.
"""
from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from trainer.lora import is_peft

STATE_DIR = "trainer_state"
_NAME = re.compile(r"^checkpoint-(\d+)$")


def capture_rng() -> dict[str, Any]:
    """Every RNG the step consumes (dropout, data augmentation), in weights_only-loadable types."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(_to_tuple(state["python"]))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(gauss)))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_tuple(x: Any) -> Any:
    return tuple(_to_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


def list_checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints (with `trainer_state/state.json`), oldest first."""
    found = []
    if output_dir.is_dir():
        for p in output_dir.iterdir():
            m = _NAME.match(p.name)
            if m and (p / STATE_DIR / "state.json").is_file():
                found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(output_dir: Path) -> Path | None:
    found = list_checkpoints(output_dir)
    return found[-1][1] if found else None


def save_model_dir(model: torch.nn.Module, processor: Any, target: Path,
                   state_dict: dict[str, torch.Tensor] | None = None) -> None:
    """`save_pretrained` of the model (a peft model writes its adapter to `adapter/`) and of the processor."""
    target.mkdir(parents=True, exist_ok=True)
    if is_peft(model):
        model.save_pretrained(str(target / "adapter"))
    elif state_dict is not None:
        model.save_pretrained(str(target), state_dict=state_dict)
    else:
        model.save_pretrained(str(target))
    if processor is not None and hasattr(processor, "save_pretrained"):
        processor.save_pretrained(str(target))


def save_checkpoint(output_dir: Path, step: int, strategy: Any, processor: Any, state: dict[str, Any],
                    keep_last: int) -> Path:
    """Write `checkpoint-<step>` from every rank (collective), rename it into place, prune old ones."""
    final = output_dir / f"checkpoint-{step}"
    tmp = output_dir / f".tmp-checkpoint-{step}"
    if strategy.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / STATE_DIR).mkdir(parents=True)
    strategy.barrier()
    strategy.save(tmp / STATE_DIR)
    export_sd = strategy.export_state_dict()  # collective under ZeRO-3
    torch.save({"rng": capture_rng(), "data": state["data"]}, tmp / STATE_DIR / f"rank{strategy.rank}.pt")
    if strategy.is_main:
        module = strategy.module
        save_model_dir(module, processor, tmp, export_sd)
        if strategy.name == "plain":
            save_file({n: p.detach().cpu().contiguous() for n, p in module.named_parameters() if p.requires_grad},
                      str(tmp / STATE_DIR / "trainable.safetensors"))
        state = dict(state, step=step, world_size=strategy.world_size)
        (tmp / STATE_DIR / "state.json").write_text(json.dumps(state, indent=1))
    strategy.barrier()
    if strategy.is_main:
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for _, old in list_checkpoints(output_dir)[:-keep_last] if keep_last > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    strategy.barrier()
    return final


def load_checkpoint(ckpt: Path, strategy: Any) -> dict[str, Any]:
    """Restore model, optimizer, scheduler and this rank's RNG from `ckpt`; returns `state.json`."""
    sdir = ckpt / STATE_DIR
    state = json.loads((sdir / "state.json").read_text())
    if state.get("world_size", 1) != strategy.world_size:
        raise RuntimeError(f"{sdir}/state.json: written with world size {state.get('world_size')}, resuming with "
                           f"{strategy.world_size}; resume with the same number of processes for an exact resume")
    trainable: dict[str, torch.Tensor] = {}
    if (sdir / "trainable.safetensors").is_file():
        trainable = load_file(str(sdir / "trainable.safetensors"))
    strategy.load(sdir, trainable)
    own = torch.load(sdir / f"rank{strategy.rank}.pt", weights_only=True)
    restore_rng(own["rng"])
    state["data"] = own["data"]  # this rank's data position
    return state


def write_final(output_dir: Path, model: torch.nn.Module, processor: Any, export: Callable[[], torch.nn.Module],
                strategy: Any, run_config: dict[str, Any]) -> Path:
    """`OUT/final/`: the merged model + processor, loadable by `load_model` / `load_processor`."""
    target = output_dir / "final"
    export_sd = strategy.export_state_dict()  # collective under ZeRO-3
    if strategy.is_main:
        shutil.rmtree(target, ignore_errors=True)
        save_model_dir(export(), processor, target, export_sd)
        (target / "train_config.json").write_text(json.dumps(run_config, indent=1, default=str))
    strategy.barrier()
    return target
