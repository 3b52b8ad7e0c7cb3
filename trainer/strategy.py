"""Distribution strategies behind one interface: plain (one process, or DDP under torchrun) and DeepSpeed ZeRO-2/3.

The loop is written once against `Strategy`. This is the only module that imports deepspeed (lazily, so the plain
path works without it). On CPU both use gloo; measured combinations in spec/env.md §3: torchrun + DDP works,
`deepspeed.initialize` under torchrun or the `deepspeed` launcher works, accelerate + DeepSpeed on CPU is broken (so
DeepSpeed is driven directly here). A torch AdamW is handed to DeepSpeed unless optimizer offload is on, which avoids
the 277 s JIT compile of DeepSpeed's own fused/CPU Adam on first use (spec/env.md §3.2).
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from pathlib import Path
from typing import Any, Iterator

import torch
import torch.distributed as dist

from trainer.recipes import TrainConfig

log = logging.getLogger("trainer")


def cosine_with_warmup(warmup: int, total: int, lr: float, min_lr: float):
    """Multiplier for LambdaLR: linear warmup to lr, then cosine annealing to min_lr at `total` steps."""
    floor = min_lr / lr if lr > 0 else 0.0

    def fn(step: int) -> float:
        if warmup > 0 and step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return fn


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: decay on matrices, none on biases, norms and gates' vectors."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def _device(local_rank: int) -> torch.device:
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


class Strategy:
    """Common state: rank, world size, device, collective helpers."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.rank = int(os.environ.get("RANK", 0))
        self.world_size = int(os.environ.get("WORLD_SIZE", 1))
        self.local_rank = int(os.environ.get("LOCAL_RANK", 0))
        self.device = _device(self.local_rank)
        self.model: torch.nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_reduce_sum(self, values: list[float]) -> list[float]:
        if self.world_size == 1:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.cfg.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _scheduler(self, optimizer: torch.optim.Optimizer, total_steps: int):
        cfg = self.cfg
        warmup = cfg.warmup_steps or int(round(cfg.warmup_ratio * total_steps))
        return torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_with_warmup(warmup, total_steps, cfg.lr,
                                                                              cfg.min_lr))

    def close(self) -> None:
        if self.world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()


class PlainStrategy(Strategy):
    """One process, or DistributedDataParallel when launched by torchrun (WORLD_SIZE > 1)."""

    name = "plain"

    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__(cfg)
        if self.world_size > 1 and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if self.device.type == "cuda" else "gloo")

    def setup(self, model: torch.nn.Module, total_steps: int) -> None:
        cfg = self.cfg
        model.to(self.device)
        self.module = model
        self.optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=tuple(cfg.betas))
        self.scheduler = self._scheduler(self.optimizer, total_steps)
        if self.world_size > 1:
            ids = [self.local_rank] if self.device.type == "cuda" else None
            # text-only batches leave the vision tower and projector without gradients on some ranks
            self.model = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=ids, find_unused_parameters=self.cfg.ddp_find_unused)
        else:
            self.model = model

    @contextlib.contextmanager
    def accumulate(self, boundary: bool) -> Iterator[None]:
        """Skip DDP's gradient all-reduce on micro-steps that do not end the optimizer step."""
        if self.world_size > 1 and not boundary:
            with self.model.no_sync():
                yield
        else:
            yield

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def step(self) -> float:
        params = [p for p in self.module.parameters() if p.requires_grad]
        norm = torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip if self.cfg.grad_clip > 0 else float("inf"))
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(norm)

    def save(self, state_dir: Path) -> None:
        """Optimizer and scheduler (rank 0; the states are replicated under DDP)."""
        if self.is_main:
            torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()},
                       state_dir / "optimizer.pt")

    def load(self, state_dir: Path, trainable: dict[str, torch.Tensor]) -> None:
        missing = [n for n, p in self.module.named_parameters() if p.requires_grad and n not in trainable]
        if missing:
            raise RuntimeError(f"{state_dir}/trainable.safetensors lacks {missing[:5]}; the checkpoint was written "
                               f"by a different stage/config. Resume with the same preset and --set values")
        with torch.no_grad():
            for n, p in self.module.named_parameters():
                if n in trainable:
                    p.copy_(trainable[n].to(p.dtype))
        blob = torch.load(state_dir / "optimizer.pt", map_location=self.device, weights_only=True)
        self.optimizer.load_state_dict(blob["optimizer"])
        self.scheduler.load_state_dict(blob["scheduler"])

    def export_state_dict(self) -> dict[str, torch.Tensor] | None:
        return None  # the module holds full weights: save_pretrained reads them directly


def _skip_cpu_op_builds() -> None:
    """On CPU, mark DeepSpeed's C++ ops unavailable, so that it neither probes compilers nor JIT-builds its
    shared-memory all-reduce (minutes on a fresh machine, spec/env.md §3.2); collectives then go through gloo.
    Only done before DeepSpeed has probed on its own; GPU runs and ZeRO-Offload (which needs CPU Adam) keep them."""
    import deepspeed.ops as ds_ops

    if "__compatible_ops__" not in vars(ds_ops):
        ds_ops.__compatible_ops__ = {}
        log.warning("notice: DeepSpeed on CPU without its C++ ops (gloo collectives, torch AdamW)")


class DeepSpeedStrategy(Strategy):
    """DeepSpeed ZeRO-2/3 with optional optimizer offload; the DeepSpeed config is built from the TrainConfig."""

    name = "deepspeed"

    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__(cfg)
        import deepspeed  # optional dependency; only this strategy needs it

        if self.device.type == "cpu" and not cfg.offload_optimizer:
            _skip_cpu_op_builds()
        self.ds = deepspeed
        if not dist.is_initialized():
            deepspeed.init_distributed(dist_backend="nccl" if self.device.type == "cuda" else "gloo")
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()

    def ds_config(self) -> dict[str, Any]:
        cfg = self.cfg
        zero: dict[str, Any] = {"stage": cfg.zero_stage}
        if cfg.offload_optimizer:
            zero["offload_optimizer"] = {"device": "cpu", "pin_memory": self.device.type == "cuda"}
        if cfg.zero_stage == 3:
            zero["stage3_gather_16bit_weights_on_model_save"] = True
        conf: dict[str, Any] = {
            "train_micro_batch_size_per_gpu": cfg.micro_batch_size,
            "gradient_accumulation_steps": cfg.grad_accum,
            "train_batch_size": cfg.micro_batch_size * cfg.grad_accum * self.world_size,
            "gradient_clipping": cfg.grad_clip,
            "zero_optimization": zero,
            "zero_allow_untested_optimizer": True,
            "bf16": {"enabled": cfg.precision == "bf16"},
            "steps_per_print": 10 ** 9,
            "wall_clock_breakdown": False,
        }
        if cfg.offload_optimizer:  # ZeRO-Offload needs DeepSpeed's CPU Adam (JIT-built on first use)
            conf["optimizer"] = {"type": "AdamW", "params": {"lr": cfg.lr, "betas": list(cfg.betas),
                                                             "weight_decay": cfg.weight_decay}}
        if cfg.ds_config_file:
            conf.update(json.loads(Path(cfg.ds_config_file).read_text()))
        return conf

    def setup(self, model: torch.nn.Module, total_steps: int) -> None:
        cfg = self.cfg
        if cfg.zero_stage == 3 and hasattr(model, "peft_config"):
            raise ValueError("ZeRO-3 partitions the base weights that LoRA merges into on export; use "
                             "--set zero_stage=2 with lora.enabled=true")
        model.to(self.device)
        conf = self.ds_config()
        optimizer = None
        if "optimizer" not in conf:
            optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=tuple(cfg.betas))
        engine, opt, _, sched = self.ds.initialize(
            model=model, optimizer=optimizer, config=conf,
            model_parameters=[p for p in model.parameters() if p.requires_grad] if optimizer is None else None,
            lr_scheduler=lambda o: self._scheduler(o, total_steps))
        self.model, self.optimizer, self.scheduler = engine, opt, sched
        self.module = engine.module

    @contextlib.contextmanager
    def accumulate(self, boundary: bool) -> Iterator[None]:
        yield  # DeepSpeed tracks the accumulation boundary itself

    def autocast(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()  # bf16 is applied to the module by DeepSpeed

    def backward(self, loss: torch.Tensor) -> None:
        # the loop already divides by the step's global token count: no extra 1/gas scaling
        self.model.backward(loss, scale_wrt_gas=False)
        self.model.step()  # an optimizer update only at the accumulation boundary

    def step(self) -> float:
        norm = self.model.get_global_grad_norm()
        return float(norm) if norm is not None else float("nan")

    def save(self, state_dir: Path) -> None:
        # every rank writes its ZeRO partition; DeepSpeed's own checkpoint format
        self.model.save_checkpoint(str(state_dir / "deepspeed"), tag="state")

    def load(self, state_dir: Path, trainable: dict[str, torch.Tensor]) -> None:
        path, _ = self.model.load_checkpoint(str(state_dir / "deepspeed"), tag="state", load_optimizer_states=True,
                                             load_lr_scheduler_states=True)
        if path is None:
            raise RuntimeError(f"{state_dir}/deepspeed holds no DeepSpeed checkpoint 'state'; delete the incomplete "
                               f"checkpoint directory or start without --resume")

    def export_state_dict(self) -> dict[str, torch.Tensor] | None:
        """ZeRO-3: the consolidated 16-bit weights on rank 0 (collective: every rank calls it)."""
        if self.cfg.zero_stage == 3:
            return self.model._zero3_consolidated_16bit_state_dict()
        return None


def make_strategy(cfg: TrainConfig) -> Strategy:
    """`deepspeed` when asked for (and installed), else plain/DDP; a one-line notice on fallback."""
    if cfg.strategy == "deepspeed":
        try:
            import deepspeed  # noqa: F401
        except ImportError:
            log.warning("notice: deepspeed is not installed; falling back to the plain/DDP strategy")
            return PlainStrategy(cfg)
        return DeepSpeedStrategy(cfg)
    return PlainStrategy(cfg)
