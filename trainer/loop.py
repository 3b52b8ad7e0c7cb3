"""The one training loop: accumulate, normalise, step, schedule, log, checkpoint, resume, stop.

Loss normalisation: every micro-batch's summed CE is divided by the label-token count of the whole optimizer step
(all micro-batches, all ranks) and multiplied by the world size (DDP and ZeRO average gradients over ranks), so
the gradient equals that of one process with the full batch (`trainer.losses`).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

import torch

from trainer import checkpoint as ckpt
from trainer.data import MicroBatchStream
from trainer.losses import LossParts, combine, phantom_opt_parts, sft_parts
from trainer.recipes import TrainConfig
from trainer.tracking import Tracker, truncate_metrics

log = logging.getLogger("trainer")

# Keys of the rejected branch a Phantom-triple batch carries next to the chosen one (loader/collate.py).
REJECTED_PREFIX = "rejected_"
MODEL_INPUTS = ("input_ids", "attention_mask", "pixel_values")


def _to_device(batch: dict[str, Any], device: torch.device, float_dtype: torch.dtype | None) -> dict[str, Any]:
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor):
            v = v.to(device)
            if float_dtype is not None and v.is_floating_point():
                v = v.to(float_dtype)
        out[k] = v
    return out


def _label_tokens(labels: torch.Tensor, attention_mask: torch.Tensor | None) -> int:
    valid = labels[:, 1:] != -100
    if attention_mask is not None:
        valid = valid & attention_mask[:, 1:].bool()
    return int(valid.sum())


def _forward_logits(model: torch.nn.Module, batch: dict[str, Any]) -> torch.Tensor:
    kwargs = {k: batch[k] for k in MODEL_INPUTS if batch.get(k) is not None}
    return model(**kwargs).logits


def _right_pad(x: torch.Tensor, width: int, value: int) -> torch.Tensor:
    return torch.nn.functional.pad(x, (0, width - x.shape[1]), value=value)


def _both_branches(batch: dict[str, Any], pad_id: int) -> dict[str, Any]:
    """Chosen rows then rejected rows in one batch (right-padded to one width; both share the triple's images), so
    that one forward serves both branches (one autograd graph: safe under DDP and ZeRO-3, and faster)."""
    c_ids, r_ids = batch["input_ids"], batch[REJECTED_PREFIX + "input_ids"]
    width = max(c_ids.shape[1], r_ids.shape[1])
    c_mask = batch.get("attention_mask", torch.ones_like(c_ids))
    r_mask = batch.get(REJECTED_PREFIX + "attention_mask", torch.ones_like(r_ids))
    pix = batch.get("pixel_values")
    return {"input_ids": torch.cat([_right_pad(c_ids, width, pad_id), _right_pad(r_ids, width, pad_id)]),
            "attention_mask": torch.cat([_right_pad(c_mask, width, 0), _right_pad(r_mask, width, 0)]),
            "pixel_values": None if pix is None else torch.cat([pix, pix])}


def _stand_in_batch(stream: MicroBatchStream) -> dict[str, Any]:
    """The first dataset sample that collates: the (zero-weight) input of an all-skipped micro-batch."""
    for i in range(min(len(stream.samples), 1000)):
        batch = stream.collate([stream.samples[i]])
        if batch is not None:
            return batch
    raise RuntimeError("none of the first 1000 samples survives collation; raise --set data.max_length or check "
                       "the collator warnings for the records' problems")


def micro_step_parts(model: torch.nn.Module, batch: dict[str, Any], cfg: TrainConfig, pad_id: int = 0) -> LossParts:
    """Forward one micro-batch and return its loss sums (SFT, or SFT + preference for Phantom Optimization)."""
    if cfg.objective == "phantom_opt":
        if REJECTED_PREFIX + "input_ids" not in batch:
            raise KeyError("objective 'phantom_opt' needs Phantom triples: the batch has no 'rejected_input_ids'. "
                           "Use --set data.kind=triples (a Phantom.json root) or --set objective=sft")
        rows = batch["input_ids"].shape[0]
        logits = _forward_logits(model, _both_branches(batch, pad_id))
        c_len, r_len = batch["input_ids"].shape[1], batch[REJECTED_PREFIX + "input_ids"].shape[1]
        return phantom_opt_parts(logits[:rows, :c_len], batch["labels"], logits[rows:, :r_len],
                                 batch[REJECTED_PREFIX + "labels"], cfg.po.beta, cfg.po.gamma,
                                 batch.get("attention_mask"), batch.get(REJECTED_PREFIX + "attention_mask"))
    logits = _forward_logits(model, batch)
    return sft_parts(logits, batch["labels"], batch.get("attention_mask"))


def train(cfg: TrainConfig, strategy: Any, stream: MicroBatchStream, processor: Any, output_dir: Path,
          total_steps: int, resume: bool, export: Callable[[], torch.nn.Module]) -> dict[str, Any]:
    """Run optimizer steps until `total_steps`; returns a summary (final loss, steps, time)."""
    start_step, state = 0, {}
    if resume:
        found = ckpt.latest_checkpoint(output_dir)
        if found is None:
            log.info("--resume: no checkpoint in %s, starting from step 0", output_dir)
        else:
            state = ckpt.load_checkpoint(found, strategy)
            start_step = int(state["step"])
            stream.load_state_dict(state["data"])
            log.info("resumed from %s (step %d, epoch %d, micro-batch %d)", found, start_step,
                     stream.position.epoch, stream.position.consumed)
    if strategy.is_main:
        if start_step == 0:
            (output_dir / "metrics.jsonl").unlink(missing_ok=True)
        else:
            truncate_metrics(output_dir / "metrics.jsonl", start_step)
    tracker = Tracker(output_dir, cfg.tracker, strategy.is_main, total_steps, start_step, cfg.progress,
                      cfg.to_dict(), cfg.wandb_project)
    model = strategy.model
    model.train()
    float_dtype = torch.bfloat16 if (cfg.precision == "bf16" and strategy.name == "deepspeed") else None
    tokens_total = int(state.get("tokens_seen", 0))
    pad_id = int(getattr(processor, "pad_token_id", 0) or 0)
    it = iter(stream)
    t_run = time.perf_counter()
    record: dict[str, Any] = {}
    stand_in: dict[str, Any] | None = None
    for step in range(start_step + 1, total_steps + 1):
        t0 = time.perf_counter()
        micro, step_indices, weights = [], [], []
        for _ in range(cfg.grad_accum):
            batch = next(it)
            step_indices += stream.last_indices
            # an all-skipped micro-batch still runs (on a fixed stand-in batch, weight 0) so that every rank does
            # the same forward/backward calls (DDP / ZeRO collectives) and no rank takes extra samples
            weights.append(0.0 if batch is None else 1.0)
            if batch is None:
                if stand_in is None:
                    stand_in = _stand_in_batch(stream)
                batch = stand_in
            micro.append(batch)
        real = [b for w, b in zip(weights, micro, strict=True) if w > 0]
        local_tok = sum(_label_tokens(b["labels"], b.get("attention_mask")) for b in real)
        local_pairs = sum(int(b["labels"].shape[0]) for b in real) if cfg.objective == "phantom_opt" else 0
        local_in = sum(int(b["attention_mask"].sum()) if "attention_mask" in b else b["input_ids"].numel()
                       for b in real)
        g_tok, g_pairs, g_in = strategy.all_reduce_sum([local_tok, local_pairs, local_in])
        lr = strategy.lr()
        sums = [0.0, 0.0, 0.0, 0.0]  # ce, pref, margin, correct
        for i, batch in enumerate(micro):
            batch = _to_device(batch, strategy.device, float_dtype)
            with strategy.accumulate(boundary=i == len(micro) - 1):
                with strategy.autocast():
                    parts = micro_step_parts(model, batch, cfg, pad_id)
                loss = combine(parts, int(g_tok), int(g_pairs), cfg.po.sft_weight, cfg.po.pref_weight)
                strategy.backward(loss * (strategy.world_size * weights[i]))
            if weights[i] == 0.0:
                continue
            sums[0] += float(parts.ce_sum.detach())
            if parts.pref_sum is not None:
                sums[1] += float(parts.pref_sum.detach())
                sums[2] += parts.margin_sum
                sums[3] += parts.correct
        grad_norm = strategy.step()
        ce, pref, margin, correct = strategy.all_reduce_sum(sums)
        dt = time.perf_counter() - t0
        tokens_total += int(g_in)
        sft = ce / max(g_tok, 1)
        record = {"step": step, "loss": sft, "lr": lr, "grad_norm": grad_norm, "epoch": stream.position.epoch,
                  "samples": stream.position.samples_seen, "label_tokens": int(g_tok), "tokens": tokens_total,
                  "tokens_per_s": g_in / dt, "steps_per_s": 1.0 / dt, "step_time_s": dt}
        if cfg.log_sample_ids:
            record["sample_indices"] = step_indices
        if cfg.objective == "phantom_opt":
            record["sft_loss"] = sft
            record["pref_loss"] = pref / max(g_pairs, 1)
            record["loss"] = cfg.po.sft_weight * sft + cfg.po.pref_weight * record["pref_loss"]
            record["reward_margin"] = margin / max(g_pairs, 1)
            record["pref_accuracy"] = correct / max(g_pairs, 1)
        tracker.log_step(record)
        if strategy.is_main and (step % max(cfg.log_every, 1) == 0) and not cfg.progress:
            log.info("step %d/%d loss %.4f lr %.2e %.0f tok/s %.2f steps/s", step, total_steps, record["loss"], lr,
                     record["tokens_per_s"], record["steps_per_s"])
        if cfg.save_every > 0 and step % cfg.save_every == 0 and step < total_steps:
            _save(cfg, strategy, processor, output_dir, step, stream, tokens_total)
    tracker.close()
    elapsed = time.perf_counter() - t_run
    if total_steps > start_step:
        _save(cfg, strategy, processor, output_dir, total_steps, stream, tokens_total)
    final = ckpt.write_final(output_dir, strategy.module, processor, export, strategy, cfg.to_dict())
    if strategy.is_main:
        log.info("done: %d steps in %.1f s, final loss %s; model at %s", total_steps - start_step, elapsed,
                 f"{record['loss']:.4f}" if record else "n/a", final)
    return {"final_loss": record.get("loss"), "steps": total_steps, "elapsed_s": elapsed, "final_dir": str(final)}


def _save(cfg: TrainConfig, strategy: Any, processor: Any, output_dir: Path, step: int, stream: MicroBatchStream,
          tokens_total: int) -> None:
    path = ckpt.save_checkpoint(output_dir, step, strategy, processor,
                                {"data": stream.state_dict(), "tokens_seen": tokens_total}, cfg.keep_last)
    if strategy.is_main:
        log.info("checkpoint %s", path)
