"""scripts/plot_gates.py: token typing, gate aggregation per layer and token type, and the figure, on tensors
with known values."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("plot_gates", ROOT / "scripts" / "plot_gates.py")
plot_gates = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plot_gates)

IMG, BOS, EOT = 9, 1, 2
IMAGE, QUESTION, ANSWER, SPECIAL = (plot_gates.TOKEN_TYPES.index(n) for n in ("image", "question", "answer", "special"))


def test_token_types() -> None:
    ids = torch.tensor([[0, BOS, IMG, IMG, 5, 6, 7, EOT], [BOS, IMG, IMG, 5, 5, 6, 7, EOT]])
    mask = torch.tensor([[0, 1, 1, 1, 1, 1, 1, 1], [1] * 8])
    labels = torch.full_like(ids, -100)
    labels[:, 6:] = ids[:, 6:]  # answer token 7 and its end-of-turn are supervised
    types = plot_gates.token_types(ids, mask, labels, IMG, {BOS, EOT, 0})
    assert types[0].tolist() == [plot_gates.PAD, SPECIAL, IMAGE, IMAGE, QUESTION, QUESTION, ANSWER, ANSWER]
    assert types[1].tolist() == [SPECIAL, IMAGE, IMAGE, QUESTION, QUESTION, QUESTION, ANSWER, ANSWER]
    no_labels = plot_gates.token_types(ids, mask, None, IMG, set())
    assert (no_labels[1, 3:] == QUESTION).all() and no_labels[1, 0] == QUESTION


def test_gate_values_average_channels_and_calls() -> None:
    per_token = torch.tensor([[[0.2], [0.4], [0.6]]])  # (B=1, L=3, 1)
    per_channel = torch.tensor([[[0.0, 1.0], [0.5, 0.5], [1.0, 1.0]]])  # (1, 3, H=2)
    values = plot_gates.gate_values({1: [per_channel], 0: [per_token, per_token * 0.5]})
    assert values.shape == (2, 1, 3)
    assert values[0, 0].tolist() == pytest.approx([0.15, 0.3, 0.45])
    assert values[1, 0].tolist() == pytest.approx([0.5, 0.5, 1.0])
    with pytest.raises(ValueError, match="use_trol"):
        plot_gates.gate_values({})


def test_usage_by_type_means_per_layer() -> None:
    values = torch.tensor([[0.9, 0.7, 0.1, 0.3], [0.2, 0.0, 0.5, 0.5]])  # 2 layers, 4 tokens
    types = torch.tensor([IMAGE, IMAGE, ANSWER, ANSWER])
    summary = plot_gates.usage_by_type(values, types)
    assert set(summary) == {"image", "answer"}
    assert summary["image"]["mean"] == pytest.approx([0.8, 0.1])
    assert summary["answer"]["mean"] == pytest.approx([0.2, 0.5])
    assert summary["image"]["std"] == pytest.approx([0.1, 0.1])
    assert summary["answer"]["tokens"] == 2
    json.dumps(summary)  # goes to the JSON report as is


def test_figure_is_drawn(tmp_path: Path) -> None:
    layers, tokens = 6, 40
    torch.manual_seed(0)
    example = torch.rand(layers, tokens) * torch.linspace(1, 0, layers)[:, None]
    types = torch.tensor([SPECIAL] + [IMAGE] * 16 + [QUESTION] * 15 + [ANSWER] * 8)
    summary = plot_gates.usage_by_type(example, types)
    out = plot_gates.plot(summary, example, types, tmp_path / "gates.png", "test")
    image = np.asarray(Image.open(out).convert("RGB"), dtype=float)
    assert image.shape[0] > 300 and image.shape[1] > 800
    assert image.std() > 20


def test_command_line_needs_one_input_kind() -> None:
    with pytest.raises(SystemExit):
        plot_gates.main(["--model", "x"])
    with pytest.raises(SystemExit):
        plot_gates.main(["--model", "x", "--image", "a.png"])


def save_tiny_model(root: Path, **overrides) -> Path:
    """A randomly initialised `tiny` model + processor saved the way train.py saves `final/`."""
    from config import model_preset
    from model import build_model
    from model.processing import Processor
    from model.tokenizer import build_tiny_tokenizer, special_token_ids

    corpus = ["Is there a red circle in the image?", "Yes", "No", "There are 2 shapes: a blue square."] * 10
    tokenizer = build_tiny_tokenizer(corpus, 300)
    config = model_preset("tiny", **overrides)
    ids = {k: v for k, v in special_token_ids(tokenizer, "tiny").items() if k in config.__dataclass_fields__}
    model = build_model(config.replace(**ids))
    model.save_pretrained(root)
    Processor(tokenizer, model.config).save_pretrained(root)
    return root


def _tokens_per_tile(model_dir: Path) -> int:
    return json.loads((model_dir / "config.json").read_text())["tokens_per_tile"]


@pytest.mark.slow
def test_gate_usage_from_a_model_directory(tmp_path: Path) -> None:
    model_dir = save_tiny_model(tmp_path / "model")
    image = tmp_path / "shapes.png"
    Image.new("RGB", (64, 64), (200, 30, 30)).save(image)
    out = plot_gates.main(["--model", str(model_dir), "--image", str(image), "--question",
                           "Is there a red circle in the image?", "--answer", "Yes", "--out",
                           str(tmp_path / "fig" / "gates.png")])
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["layers"] == 4 and report["samples"] == 1
    by_type = report["by_type"]
    assert {"image", "question", "answer", "special"} <= set(by_type)
    assert by_type["image"]["tokens"] == _tokens_per_tile(model_dir)  # one 64-px tile of the tiny model
    for stats in by_type.values():
        assert len(stats["mean"]) == 4 and all(0 < v < 1 for v in stats["mean"])


@pytest.mark.slow
def test_gate_usage_from_a_benchmark_split(tmp_path: Path) -> None:
    from loader.synthetic import generate

    model_dir = save_tiny_model(tmp_path / "model")
    task = generate(tmp_path / "data", seed=0, n_train=2, n_eval=3)
    out = plot_gates.main(["--model", str(model_dir), "--data-root", str(task.eval_root), "--samples", "5",
                           "--out", str(tmp_path / "gates.png")])
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["samples"] == 5
    assert report["by_type"]["image"]["tokens"] == 5 * _tokens_per_tile(model_dir)
    assert report["by_type"]["answer"]["tokens"] >= 5  # "yes"/"no" and the end-of-turn token


def test_model_without_trol_is_refused(tmp_path: Path) -> None:
    model_dir = save_tiny_model(tmp_path / "plain", use_trol=False)
    image = tmp_path / "x.png"
    Image.new("RGB", (64, 64)).save(image)
    with pytest.raises(SystemExit, match="use_trol=false"):
        plot_gates.main(["--model", str(model_dir), "--image", str(image), "--question", "q?"])
