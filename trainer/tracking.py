"""Rank-0 logging: `metrics.jsonl` (one flushed line per optimizer step), a tqdm bar, TensorBoard or W&B.

Named `tracking.py`, not `logging.py`, so the standard library module stays importable. W&B reads its key from the
environment (`WANDB_API_KEY`) and is never given one here; `WANDB_MODE=offline` works without network.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("trainer")


def setup_logging(is_main: bool) -> logging.Logger:
    """Readable timestamped logs on rank 0; warnings only on the other ranks."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.INFO if is_main else logging.WARNING)
    return log


def truncate_metrics(path: Path, last_step: int) -> None:
    """Drop lines after `last_step` (a killed run may have logged steps past its newest checkpoint)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            break  # a line cut by the kill: everything after it is from the lost tail
        if rec.get("step", 0) <= last_step:
            kept.append(line)
    path.write_text("".join(k + "\n" for k in kept))


class Tracker:
    """Writes metrics on rank 0 only; every method is a no-op elsewhere."""

    def __init__(self, output_dir: Path, kind: str, is_main: bool, total_steps: int, start_step: int,
                 progress: bool = True, run_config: dict[str, Any] | None = None, wandb_project: str = "") -> None:
        self.is_main = is_main
        self.path = output_dir / "metrics.jsonl"
        self.file = None
        self.tb = None
        self.wandb = None
        self.bar = None
        if not is_main:
            return
        self.file = self.path.open("a", encoding="utf-8")
        if kind == "tensorboard":
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(log_dir=str(output_dir / "tensorboard"))
            except ImportError:
                log.warning("notice: tensorboard is not installed; logging to metrics.jsonl only")
        elif kind == "wandb":
            try:
                import wandb
                self.wandb = wandb.init(project=wandb_project, dir=str(output_dir), config=run_config or {},
                                        resume="allow")
            except ImportError:
                log.warning("notice: wandb is not installed; logging to metrics.jsonl only")
        if progress:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total_steps, initial=start_step, desc="train", unit="step", dynamic_ncols=True)

    def log_step(self, record: dict[str, Any]) -> None:
        if not self.is_main:
            return
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()  # a SIGKILL loses nothing already written
        step = record["step"]
        scalars = {k: v for k, v in record.items() if isinstance(v, (int, float)) and k != "step"}
        if self.tb is not None:
            for k, v in scalars.items():
                self.tb.add_scalar(f"train/{k}", v, step)
        if self.wandb is not None:
            self.wandb.log({f"train/{k}": v for k, v in scalars.items()}, step=step)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{record['lr']:.2e}",
                                 tok_s=f"{record.get('tokens_per_s', 0):.0f}",
                                 step_s=f"{record.get('steps_per_s', 0):.2f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.file is not None:
            self.file.close()
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()
