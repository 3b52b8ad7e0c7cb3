"""The generation runner: batched, left-padded generation over a benchmark's items, sharded across processes,
with predictions appended to JSONL as they are produced so that a killed run resumes where it stopped.

Files per benchmark under `<output_dir>/<benchmark>/`:
  predictions.jsonl          the merged predictions, in item order (rewritten once per run, by rank 0)
  predictions.rank<r>.jsonl  what rank r generated in the current run (appended batch by batch, fsync'd)
At start, rank 0 folds every leftover rank file of an interrupted run (any world size) into predictions.jsonl;
every rank then skips the items already predicted and takes every world_size-th remaining item. At the end the
rank files are gathered once into predictions.jsonl; each item id appears there once.
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from tqdm import tqdm

from eval.distributed import ProcessContext
from eval.predictions import PredictionWriter, read_predictions, write_predictions
from eval.registry import Benchmark
from eval.settings import GenerationSettings
from loader.benchmarks.common import layout_error
from loader.records import EvalItem

log = logging.getLogger(__name__)

PREDICTIONS = "predictions.jsonl"
SIGNATURE = "run.json"


@dataclass
class RunState:
    """What one benchmark run did: the merged predictions and how many were generated now (this rank)."""

    predictions: dict[str, str]
    generated: int
    resumed: int


def rank_file(bench_dir: Path, rank: int) -> Path:
    return bench_dir / f"predictions.rank{rank}.jsonl"


def consolidate(bench_dir: Path, items: Sequence[EvalItem]) -> dict[str, str]:
    """Merge predictions.jsonl and every rank file into predictions.jsonl (item order, one line per id) and
    delete the rank files. Called by rank 0 only."""
    merged = read_predictions(bench_dir / PREDICTIONS)
    parts = sorted(bench_dir.glob("predictions.rank*.jsonl"))
    for part in parts:
        for key, text in read_predictions(part).items():
            merged.setdefault(key, text)
    order = [str(it.id) for it in items]
    known = set(order)
    extra = [k for k in merged if k not in known]
    if extra:
        log.warning("%s: %d predictions have ids that are not items of this run (kept at the end), e.g. %s",
                    bench_dir / PREDICTIONS, len(extra), extra[:3])
    if merged or parts:
        write_predictions(bench_dir / PREDICTIONS, [(k, merged[k]) for k in order + extra if k in merged])
    for part in parts:
        part.unlink()
    return merged


def check_signature(bench_dir: Path, signature: dict[str, Any]) -> None:
    """Resume only predictions made by the same model and settings: a different `run.json` in the folder is
    an error (raised on every rank, so that no process waits for the others)."""
    path = bench_dir / SIGNATURE
    if path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != signature:
            raise ValueError(f"{path}: the predictions in {bench_dir} come from another run ({old}), not from "
                             f"{signature}; fix: pass a new --output-dir, or --overwrite to discard them")


def _check_images(bench: Benchmark, item: EvalItem, data_root: Path) -> None:
    for ref in item.images:
        if isinstance(ref, str) and not Path(ref).exists():
            raise layout_error(bench.name, data_root, Path(ref), bench.layout or "(see the benchmark's reader)",
                               f"missing (an image of item {item.id})")


def new_tokens(output: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """The generated part of `generate`'s output (prompt + new tokens, or only the new tokens)."""
    width = input_ids.shape[1]
    if output.shape[1] >= width and torch.equal(output[:, :width].to(input_ids.device), input_ids):
        return output[:, width:]
    return output


@torch.inference_mode()
def generate_batch(model: Any, processor: Any, questions: list[str], images: list[Any], max_new_tokens: int,
                   settings: GenerationSettings, device: str) -> list[str]:
    """One left-padded batch through `model.generate`; the decoded, stripped answers."""
    batch = processor.generation_inputs(questions, images)
    inputs = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
    if inputs.get("pixel_values") is not None:
        inputs["pixel_values"] = inputs["pixel_values"].to(settings.torch_dtype)
    output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=settings.do_sample,
                            num_beams=settings.num_beams)
    rows = new_tokens(output, inputs["input_ids"]).cpu()
    # Scorers receive whitespace-stripped text, as after the authors' output_filtering (eval-closed.md §0.2).
    return [str(processor.decode(row)).strip() for row in rows]


def run_benchmark(bench: Benchmark, items: Sequence[EvalItem], model: Any, processor: Any, family: str,
                  output_dir: Path, ctx: ProcessContext, settings: GenerationSettings, batch_size: int = 8,
                  data_root: Path | None = None, signature: dict[str, Any] | None = None,
                  overwrite: bool = False, max_new_tokens: int | None = None) -> RunState:
    """Generate the missing predictions of `items` on this rank and return the merged predictions
    (complete on rank 0 after the final gather; other ranks return only their view). `signature` (model,
    settings) guards resuming from another run's predictions; `max_new_tokens` caps the benchmark's budget."""
    bench_dir = Path(output_dir) / bench.name
    signature = signature or {}
    if ctx.is_main and overwrite and bench_dir.exists():
        shutil.rmtree(bench_dir)
    ctx.barrier()
    check_signature(bench_dir, signature)
    if ctx.is_main:
        bench_dir.mkdir(parents=True, exist_ok=True)
        (bench_dir / SIGNATURE).write_text(json.dumps(signature, indent=2) + "\n", encoding="utf-8")
        consolidate(bench_dir, items)
    ctx.barrier()
    done = read_predictions(bench_dir / PREDICTIONS)
    todo = [it for it in items if str(it.id) not in done]
    mine = todo[ctx.rank::ctx.world_size]
    if ctx.is_main and done:
        log.info("%s: resuming, %d of %d items already predicted", bench.name, len(items) - len(todo), len(items))
    generated = 0
    desc = bench.name if ctx.world_size == 1 else f"{bench.name} [rank {ctx.rank}]"
    with PredictionWriter(rank_file(bench_dir, ctx.rank)) as writer, \
            tqdm(total=len(mine), desc=desc, unit="item", position=ctx.rank, leave=ctx.is_main) as bar:
        for start in range(0, len(mine), batch_size):
            chunk = mine[start:start + batch_size]
            for item in chunk:
                _check_images(bench, item, Path(data_root) if data_root else bench_dir)
            questions = [bench.prompt(it, family) for it in chunk]
            images = [list(it.images) if it.images else None for it in chunk]
            budget = min(bench.max_new_tokens, max_new_tokens) if max_new_tokens else bench.max_new_tokens
            answers = generate_batch(model, processor, questions, images, budget, settings, ctx.device)
            writer.write({str(it.id): text for it, text in zip(chunk, answers)})
            generated += len(chunk)
            bar.update(len(chunk))
    ctx.barrier()
    merged = consolidate(bench_dir, items) if ctx.is_main else done
    ctx.barrier()
    return RunState(predictions=merged, generated=generated, resumed=len(items) - len(todo))
