"""Command line of `eval.py`: `run` (generate + score; the default) and `score` (score a predictions file).

  python eval.py --model PATH_OR_HUB_ID --benchmark NAME[,NAME...|all] --data-root DIR [--output-dir DIR]
                 [--batch-size 8] [--limit N] [--settings default|authors] [--scoring official|authors]
  python eval.py score --benchmark NAME --data-root DIR --predictions FILE --out FILE [--scoring ...]
                 [--judge-replay FILE and the other judge flags of eval.judge]
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

from eval.predictions import read_predictions
from eval.registry import Benchmark, all_benchmarks, get_benchmark
from eval.report import format_table, headline_values, write_json

log = logging.getLogger("eval")


def judge_module() -> ModuleType | None:
    """`eval.judge` (the open-benchmark engineer's module) if it exists; closed benchmarks work without it."""
    try:
        return importlib.import_module("eval.judge")
    except ModuleNotFoundError as exc:
        if exc.name != "eval.judge":
            raise
        return None


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--benchmark", required=True, help="benchmark name(s), comma-separated, or 'all'")
    parser.add_argument("--data-root", required=True, type=Path, help="the Evaluation_Dataset_Path folder")
    parser.add_argument("--scoring", default="official", choices=("official", "authors"),
                        help="official/reference scorer (default) or the TroL/Phantom evaluator's numbers")
    parser.add_argument("--limit", type=int, default=None, help="only the first N items of each benchmark")
    judge = judge_module()
    if judge is not None:
        judge.add_judge_arguments(parser)


def run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eval.py", description="Generate answers on benchmarks and score them.")
    parser.add_argument("--model", required=True, help="model directory (save_pretrained) or a cached hub id")
    _add_common(parser)
    parser.add_argument("--output-dir", type=Path, default=Path("runs/eval"),
                        help="predictions, results.json (default runs/eval)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="questions per generate call (default 8; 1 with --settings authors, as the authors ran)")
    parser.add_argument("--settings", default="default", choices=("default", "authors"),
                        help="default: greedy, bf16 on GPU / float32 on CPU; authors: their beam search + quantization")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu or cuda")
    parser.add_argument("--max-new-tokens", type=int, default=None,
                        help="cap every benchmark's generation budget (smoke tests; the authors' budgets otherwise)")
    parser.add_argument("--overwrite", action="store_true",
                        help="discard predictions already in --output-dir instead of resuming from them")
    return parser


def score_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eval.py score", description="Score a predictions JSONL without a model.")
    _add_common(parser)
    parser.add_argument("--predictions", required=True, type=Path, help='JSONL of {"id", "prediction"} lines')
    parser.add_argument("--out", required=True, type=Path, help="metrics JSON to write")
    return parser


def select(names: str) -> list[Benchmark]:
    """Benchmarks named in a comma-separated list; `all` = every registered benchmark."""
    if names.strip() == "all":
        return all_benchmarks()
    return [get_benchmark(n.strip()) for n in names.split(",") if n.strip()]


def make_judge(args: argparse.Namespace, benches: Sequence[Benchmark]) -> Any:
    judge = judge_module()
    if judge is None:
        needing = [b.name for b in benches if b.needs_judge]
        if needing:
            raise SystemExit(f"{', '.join(needing)} need an LLM judge, but eval/judge.py is not available")
        return None
    return judge.judge_from_args(args)


def score_one(bench: Benchmark, items: list, predictions: dict[str, str], scoring: str, judge: Any,
              strict: bool = True) -> dict[str, Any]:
    """Score with `scoring`; a benchmark without it is an error (`strict`) or falls back to official."""
    if scoring not in bench.scorings:
        if strict:
            raise SystemExit(f"{bench.name}: --scoring {scoring} is not implemented (available: "
                             f"{', '.join(bench.scorings)})")
        log.warning("%s: no %s scoring, using official", bench.name, scoring)
        scoring = "official"
    return bench.score(items, predictions, judge=judge, scoring=scoring)


def read_items(bench: Benchmark, data_root: Path, limit: int | None) -> list:
    items = bench.read(data_root)
    return items[:limit] if limit is not None else items


def read_all(benches: Sequence[Benchmark], data_root: Path, limit: int | None, skip_missing: bool) -> dict[str, list]:
    """Items of every benchmark, read before any model is loaded so that a missing file fails fast. With
    `skip_missing` (`--benchmark all`), benchmarks whose files are absent are skipped with a warning."""
    from loader.benchmarks.common import BenchmarkLayoutError

    out, skipped = {}, []
    for bench in benches:
        try:
            out[bench.name] = read_items(bench, data_root, limit)
        except BenchmarkLayoutError as exc:
            if not skip_missing:
                raise
            skipped.append(bench.name)
            log.debug("%s", exc)
    if skipped:
        log.warning("--benchmark all: skipping %s (their files are not under %s)", ", ".join(skipped), data_root)
    return out


def main_score(argv: Sequence[str]) -> int:
    args = score_parser().parse_args(argv)
    benches = select(args.benchmark)
    if len(benches) != 1:
        raise SystemExit("score takes exactly one --benchmark")
    bench = benches[0]
    items = read_items(bench, args.data_root, args.limit)
    predictions = read_predictions(args.predictions, strict=True)
    unknown = set(predictions) - {str(it.id) for it in items}
    if unknown:
        log.warning("%s: %d prediction ids are not items of %s (ignored), e.g. %s", args.predictions, len(unknown),
                    bench.name, sorted(unknown)[:3])
    missing = sum(str(it.id) not in predictions for it in items)
    if missing:
        log.warning("%s: %d of %d items have no prediction (scored as empty answers)", args.predictions, missing,
                    len(items))
    metrics = score_one(bench, items, predictions, args.scoring, make_judge(args, [bench]))
    write_json(args.out, metrics)
    print(format_table([(bench.name, k, v, len(items)) for k, v in headline_values(metrics, bench.headline).items()]))
    return 0


def main_run(argv: Sequence[str]) -> int:
    from eval.distributed import process_context
    from eval.runner import run_benchmark
    from eval.settings import authors_settings, default_settings, read_model_config
    from model import load_model, load_processor

    args = run_parser().parse_args(argv)
    benches = select(args.benchmark)
    all_items = read_all(benches, args.data_root, args.limit, skip_missing=args.benchmark.strip() == "all")
    benches = [b for b in benches if b.name in all_items]
    ctx = process_context(args.device)
    cuda = ctx.device.startswith("cuda")
    config = read_model_config(args.model)
    settings = authors_settings(config, cuda) if args.settings == "authors" else default_settings(cuda)
    judge = make_judge(args, benches)
    model = load_model(args.model, dtype=settings.torch_dtype, device=ctx.device, quantization=settings.quantization)
    processor = load_processor(args.model)
    family = str(getattr(model.config, "template", "") or config.get("template", ""))
    batch_size = args.batch_size or (1 if settings.name == "authors" else 8)
    signature = {"model": str(args.model), "settings": settings.to_dict(), "template": family,
                 "max_new_tokens_cap": args.max_new_tokens}
    states = {}
    for bench in benches:
        states[bench.name] = run_benchmark(bench, all_items[bench.name], model, processor, family, args.output_dir,
                                           ctx, settings, batch_size=batch_size, data_root=args.data_root,
                                           signature=signature, overwrite=args.overwrite,
                                           max_new_tokens=args.max_new_tokens)
    if not ctx.is_main:
        return 0  # rank 0 scores alone (a judge may take long; nobody waits for it at a barrier)
    results: dict[str, Any] = {"model": str(args.model), "settings": settings.to_dict(), "scoring": args.scoring,
                               "world_size": ctx.world_size, "batch_size": batch_size, "benchmarks": {}}
    rows = []
    for bench in benches:
        items, state = all_items[bench.name], states[bench.name]
        metrics = score_one(bench, items, state.predictions, args.scoring, judge, strict=False)
        results["benchmarks"][bench.name] = {
            "metrics": metrics, "n_items": len(items), "resumed": state.resumed,
            "generated": sum(str(it.id) in state.predictions for it in items) - state.resumed,
            "predictions": str(Path(args.output_dir) / bench.name / "predictions.jsonl"),
        }
        write_json(args.output_dir / bench.name / "metrics.json", metrics)
        rows += [(bench.name, k, v, len(items)) for k, v in headline_values(metrics, bench.headline).items()]
    write_json(args.output_dir / "results.json", results)
    print(format_table(rows))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of eval.py."""
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if argv and argv[0] == "score":
        return main_score(argv[1:])
    if argv and argv[0] == "run":
        argv = argv[1:]
    return main_run(argv)
