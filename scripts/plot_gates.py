"""TroL gate usage per layer and token type: how strongly each layer's second pass is mixed in.

    python scripts/plot_gates.py --model runs/quickstart/trol-phantom --data data/synthetic \
        --out figures/gates_tiny.png
    python scripts/plot_gates.py --model DIR --image cat.png --question "What is this?" --answer "A cat."

This is the analysis of the TroL paper's Figure 5 ("where layer traversing mostly happens", spec/model.md
§4.5): the mixer weight w in out = (1 - w)·L(x) + w·L(L(x)) per layer and token. Decoding steps compute no
gate (§4.3), so the values come from one teacher-forced forward over question + answer, as the figure must
have. The figure has two panels: the layer × token heat map of one sample (layer 1 at the bottom, like the
paper) and the mean gate per layer for each token type (image / question / answer / special) over all
samples. The numbers also go to a JSON file next to the figure.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python scripts/plot_gates.py` from anywhere
    sys.path.insert(0, str(ROOT))

log = logging.getLogger("plot_gates")

TOKEN_TYPES = ("image", "question", "answer", "special")
PAD = -1


def token_types(input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor | None,
                image_token_index: int, special: set[int]) -> torch.Tensor:
    """Index into TOKEN_TYPES per position (B, L), PAD where attention_mask is 0. Answer = supervised
    positions (labels != -100), image = the image token id, special = other special/template ids."""
    types = torch.full_like(input_ids, TOKEN_TYPES.index("question"))
    if special:
        types[torch.isin(input_ids, torch.tensor(sorted(special), dtype=input_ids.dtype))] = \
            TOKEN_TYPES.index("special")
    if labels is not None:
        types[labels != -100] = TOKEN_TYPES.index("answer")
    types[input_ids == image_token_index] = TOKEN_TYPES.index("image")
    types[attention_mask == 0] = PAD
    return types


def gate_values(gates: dict[int, list[torch.Tensor]]) -> torch.Tensor:
    """(layers, B, L) gate values from `record_gates`: a per-channel gate (B, L, H) is averaged over H; several
    calls of one layer in the forward are averaged (one call per layer is the normal case)."""
    if not gates:
        raise ValueError("no TroL gate was recorded: the model has no TroL layers (config.use_trol is false?). "
                         "Gate usage exists only for TroL models")
    layers = []
    for index in sorted(gates):
        calls = [g.detach().float().mean(dim=-1) if g.dim() == 3 else g.detach().float() for g in gates[index]]
        if not calls:
            raise ValueError(f"layer {index}: record_gates returned no gate value for this forward")
        layers.append(torch.stack(calls).mean(0) if len({c.shape for c in calls}) == 1 else calls[0])
    return torch.stack(layers)


def usage_by_type(values: torch.Tensor, types: torch.Tensor) -> dict[str, dict[str, Any]]:
    """Mean, spread and token count of the gate per layer for each token type present; `values` is
    (layers, N) or (layers, B, L) with `types` of the same trailing shape."""
    flat_values, flat_types = values.reshape(values.shape[0], -1), types.reshape(-1)
    summary = {}
    for index, name in enumerate(TOKEN_TYPES):
        chosen = flat_types == index
        if chosen.any():
            picked = flat_values[:, chosen]
            summary[name] = {"mean": picked.mean(1).tolist(), "std": picked.std(1, unbiased=False).tolist(),
                             "tokens": int(chosen.sum())}
    return summary


def layer_ticks(layers: int) -> list[int]:
    """Integer layer ticks 1..layers, thinned to at most ~16 labels."""
    step = max(1, -(-layers // 16))
    return list(range(1, layers + 1, step))


def plot(summary: dict[str, dict[str, Any]], example: torch.Tensor, example_types: torch.Tensor, out: Path,
         title: str) -> Path:
    """Heat map of one sample (layers × tokens) and the per-layer mean per token type."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    layers = example.shape[0]
    fig = plt.figure(figsize=(12, 5))
    grid = fig.add_gridspec(2, 2, width_ratios=[2.2, 1], height_ratios=[12, 1], hspace=0.08, wspace=0.25)
    ax_map, ax_type, ax_mean = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[:, 1])
    image = ax_map.imshow(example.numpy(), aspect="auto", origin="lower", cmap="viridis", vmin=0, vmax=1,
                          extent=(-0.5, example.shape[1] - 0.5, 0.5, layers + 0.5), interpolation="nearest")
    ax_map.set_ylabel("layer")
    ax_map.set_yticks(layer_ticks(layers))
    ax_map.set_xticks([])
    ax_map.set_title(f"{title}: gate w per token (one sample)")
    fig.colorbar(image, ax=ax_map, pad=0.01, label="layer traversing degree w")
    colors = ["#d62728", "#1f77b4", "#2ca02c", "#7f7f7f"]
    ax_type.imshow(example_types.numpy()[None, :], aspect="auto", cmap=ListedColormap(colors), vmin=0,
                   vmax=len(TOKEN_TYPES) - 1, interpolation="nearest")
    ax_type.set_yticks([])
    ax_type.set_xlabel("token position (colour band: token type)")
    depth = list(range(1, layers + 1))
    for index, name in enumerate(TOKEN_TYPES):
        if name in summary:
            ax_mean.plot(summary[name]["mean"], depth, "o-", color=colors[index], markersize=3,
                         label=f"{name} ({summary[name]['tokens']} tokens)")
    ax_mean.set_xlim(0, 1)
    ax_mean.set_ylim(0.5, layers + 0.5)
    ax_mean.set_yticks(layer_ticks(layers))
    ax_mean.set_xlabel("mean gate w")
    ax_mean.set_ylabel("layer")
    ax_mean.grid(alpha=0.3)
    ax_mean.legend(fontsize=8, loc="best")
    ax_mean.set_title("mean per layer and token type")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out


def special_ids(tokenizer: Any) -> set[int]:
    """Ids of the tokenizer's special and added tokens (chat markup such as <|im_start|>, <img>)."""
    ids = set(getattr(tokenizer, "all_special_ids", []) or [])
    ids.update(int(i) for i in (getattr(tokenizer, "added_tokens_decoder", None) or {}))
    return ids


def cli_sample(image: str, question: str, answer: str) -> Any:
    """One conversation from the command line, in the loader's record form."""
    from loader.records import IMAGE_PLACEHOLDER, Sample, Turn

    if not Path(image).is_file():
        raise SystemExit(f"plot_gates: image {image!r} not found; pass an existing file with --image")
    text = question if IMAGE_PLACEHOLDER in question else f"{IMAGE_PLACEHOLDER}\n{question}"
    return Sample(id="cli", source="cli", turns=[Turn("user", text), Turn("assistant", answer)], images=[image])


def benchmark_samples(data_root: Path, benchmark: str, family: str, limit: int) -> list[Any]:
    """The first `limit` items of a benchmark split (the same readers as eval.py), each turned into a
    teacher-forced conversation: the benchmark's prompt, then its reference answer."""
    from eval.registry import get_benchmark
    from loader.records import IMAGE_PLACEHOLDER, Sample, Turn

    bench = get_benchmark(benchmark)
    items = bench.read(data_root)[:limit]
    if not items:
        raise SystemExit(f"plot_gates: no {benchmark} items under {data_root}; generate them with "
                         f"`python -m loader synthetic --out {data_root}` or pass --image/--question/--answer")
    samples = []
    for item in items:
        prompt = bench.prompt(item, family)
        if item.images and IMAGE_PLACEHOLDER not in prompt:
            prompt = f"{IMAGE_PLACEHOLDER}\n{prompt}"
        answer = item.answer if isinstance(item.answer, str) else json.dumps(item.answer)
        samples.append(Sample(id=item.id, source=benchmark, turns=[Turn("user", prompt), Turn("assistant", answer)],
                              images=list(item.images)))
    return samples


@dataclass
class GateMeasurement:
    """Gate values (layers, N) and token types (N,) over every real token of every sample, and the first
    sample's own (layers, L) map with its (L,) types, for the heat map."""

    values: torch.Tensor
    types: torch.Tensor
    example: torch.Tensor
    example_types: torch.Tensor


def measure(model: Any, processor: Any, samples: list[Any], batch_size: int = 8,
            max_length: int = 4096) -> GateMeasurement:
    """Teacher-forced forwards of `samples` under `record_gates`."""
    from loader.collate import Collator
    from model.trol import record_gates
    from tqdm import tqdm

    collate = Collator(processor, max_length)
    cfg = model.config
    special = special_ids(processor.tokenizer) - {cfg.image_token_index}
    device = next(model.parameters()).device
    values, types, first = [], [], None
    model.eval()
    for start in tqdm(range(0, len(samples), batch_size), desc="gate forwards", unit="batch"):
        batch = collate(samples[start:start + batch_size])
        inputs = {k: batch[k].to(device) if isinstance(batch.get(k), torch.Tensor) else batch.get(k)
                  for k in ("input_ids", "attention_mask", "pixel_values")}
        with torch.inference_mode(), record_gates(model) as gates:
            model(**inputs)
        gate = gate_values(gates).cpu()
        kinds = token_types(batch["input_ids"], batch["attention_mask"], batch.get("labels"),
                            cfg.image_token_index, special)
        real = kinds != PAD
        if first is None:
            first = (gate[:, 0][:, real[0]], kinds[0][real[0]])
        values.append(gate[:, real])
        types.append(kinds[real])
    return GateMeasurement(torch.cat(values, dim=1), torch.cat(types), *first)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="run dir (its final/), model dir or hub id with TroL")
    parser.add_argument("--data-root", type=Path, help="benchmark data root, e.g. the synthetic task's")
    parser.add_argument("--benchmark", default="pope", help="split read from --data-root (default pope)")
    parser.add_argument("--samples", type=int, default=64, help="how many items of the split")
    parser.add_argument("--image", help="instead of a split: one image ...")
    parser.add_argument("--question", help="... a question about it ...")
    parser.add_argument("--answer", default="", help="... and the answer to teacher-force")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("figures/gates.png"))
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    if bool(args.image) == bool(args.data_root) or (args.image and not args.question):
        parser.error("give either --data-root DIR or --image FILE --question TEXT [--answer TEXT]")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    from demo import resolve_model_path
    from model import load_model, load_processor

    path = resolve_model_path(args.model)
    model, processor = load_model(path, device=args.device), load_processor(path)
    if not getattr(model.config, "use_trol", True):
        raise SystemExit(f"plot_gates: {path} has use_trol=false; gate usage exists only for TroL models")
    samples = ([cli_sample(args.image, args.question, args.answer)] if args.image else
               benchmark_samples(args.data_root, args.benchmark, model.config.family, args.samples))
    measured = measure(model, processor, samples, args.batch_size)
    summary = usage_by_type(measured.values, measured.types)
    title = args.title or Path(args.model).name
    out = plot(summary, measured.example, measured.example_types, args.out, title)
    report = {"model": str(path), "samples": len(samples), "layers": int(measured.values.shape[0]),
              "source": args.image or f"{args.data_root}:{args.benchmark}", "by_type": summary}
    out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    for name, stats in summary.items():
        log.info("%-8s mean gate per layer: %s", name, " ".join(f"{v:.2f}" for v in stats["mean"]))
    print(f"plot_gates: wrote {out} and {out.with_suffix('.json')}")
    return out


if __name__ == "__main__":
    main()
