"""Evaluation harness: the benchmark registry (`eval.registry`), shared answer parsers (`eval.parsing`),
one module per benchmark (`eval.benchmarks`), the generation runner (`eval.runner`) and scoring of saved
predictions (`eval.scoring`). Nothing heavy is imported here, so `eval.py score` never loads torch models."""
from eval.registry import BENCHMARKS, Benchmark, all_benchmarks, get_benchmark, register_benchmark

__all__ = ["BENCHMARKS", "Benchmark", "all_benchmarks", "get_benchmark", "register_benchmark"]
