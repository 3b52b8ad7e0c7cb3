"""One module per benchmark; each registers a `Benchmark` in `eval.registry` when imported."""
