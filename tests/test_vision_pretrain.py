"""The synthetic task's vision-tower pretraining (trainer/vision_pretrain.py): token-to-quadrant labels, what it
trains and leaves alone, that it really teaches colour and shape per image token, and its place in `trainer.run`
(fresh runs only, synthetic data only)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from loader.synthetic import COLOURS, POSITIONS, SHAPES, Obj, generate
from trainer import run
from trainer.overrides import apply_overrides
from trainer.recipes import get_train_preset
from trainer.vision_pretrain import _quadrant_of_tokens, pretrain_vision, scene_labels


def test_tokens_map_to_their_quadrants():
    assert _quadrant_of_tokens(4).tolist() == [0, 1, 2, 3]
    assert _quadrant_of_tokens(16).tolist() == [0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3]
    with pytest.raises(ValueError, match="even square grid"):
        _quadrant_of_tokens(9)
    labels = scene_labels([Obj("blue", "cross", "bottom left")], _quadrant_of_tokens(4))
    c, s = list(COLOURS).index("blue"), list(SHAPES).index("cross")
    empty = [len(COLOURS), len(SHAPES), len(COLOURS) * len(SHAPES)]
    # the last column is the token's own quadrant (POSITIONS order), object or not
    assert labels.tolist() == [empty + [0], empty + [1], [c, s, c * len(SHAPES) + s, 2], empty + [3]]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from model import build_model
    from model.processing import Processor
    from model.tokenizer import build_tiny_tokenizer, model_config_ids

    task = generate(tmp_path_factory.mktemp("vp") / "syn", seed=0, n_train=200, n_eval=4)
    tokenizer = build_tiny_tokenizer(["Is there a red circle in the image?"], 300)
    torch.manual_seed(0)
    model = build_model("tiny", **model_config_ids(tokenizer, "tiny"))
    return task, model, Processor(tokenizer, model.config)


def _accuracy(model, processor, n: int = 240) -> tuple[float, float, float]:
    from loader.synthetic import render, sample_scene

    rng = np.random.default_rng(123)  # scenes the pretraining never saw
    scenes = [sample_scene(rng) for _ in range(n)]
    pixels = torch.cat([processor.image_tensor(render(objs, rng, 64)) for objs in scenes])
    with torch.no_grad():
        feats = model.image_features(pixels)
    y = torch.stack([scene_labels(objs, _quadrant_of_tokens(feats.shape[1])) for objs in scenes])
    # a linear read-out (softmax regression) fitted on half of the tokens, scored on the other half: what a linear
    # head can get from the tokens
    x = feats.flatten(0, 1)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    half = x.shape[0] // 2
    scores = []
    for k, n_cls in ((0, len(COLOURS) + 1), (1, len(SHAPES) + 1), (3, len(POSITIONS))):
        target = y[..., k].flatten()
        head = torch.nn.Linear(x.shape[1], n_cls)
        opt = torch.optim.LBFGS(head.parameters(), max_iter=200)

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(head(x[:half]), target[:half]) + 1e-3 * head.weight.square().sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            scores.append(head(x[half:]).argmax(1).eq(target[half:]).float().mean().item())
    return scores[0], scores[1], scores[2]


def test_pretraining_teaches_colour_shape_and_place_and_leaves_the_llm_alone(tiny):
    task, model, processor = tiny
    _, shape_before, quadrant_before = _accuracy(model, processor)
    llm_before = {k: v.clone() for k, v in model.language_model.state_dict().items()}
    vision_before = {k: v.clone() for k, v in model.vision_tower.state_dict().items()}
    rng_before = torch.random.get_rng_state()
    summary = pretrain_vision(model, processor, task.train_root, steps=200, batch_size=32, seed=0, progress=False)
    assert torch.equal(torch.random.get_rng_state(), rng_before)
    assert all(torch.equal(v, model.language_model.state_dict()[k]) for k, v in llm_before.items())
    assert any(not torch.equal(v, model.vision_tower.state_dict()[k]) for k, v in vision_before.items())
    colour, shape, quadrant = _accuracy(model, processor)
    assert summary["colour_accuracy"] > 0.95 and summary["shape_accuracy"] > 0.9
    assert summary["quadrant_accuracy"] > 0.95
    assert colour > 0.95 and shape > 0.9 and shape > shape_before + 0.05, (shape_before, colour, shape)
    # the tokens say where they are: an untrained tower's do not (about chance, 0.25)
    assert quadrant > 0.95 and quadrant_before < 0.5, (quadrant_before, quadrant)


def _cfg(out, data, *items):
    return apply_overrides(get_train_preset("tiny"), [
        f"output_dir={out}", f"data.synthetic_dir={data}", 'data.synthetic_kwargs={"n_train": 24, "n_eval": 4}',
        "model.vocab_size=300", "progress=false", "tracker=none", "micro_batch_size=4", "max_steps=2", *items])


def test_run_pretrains_the_vision_tower_on_fresh_starts_only(tmp_path, monkeypatch):
    import trainer.vision_pretrain as vp

    data = tmp_path / "data"
    run(_cfg(tmp_path / "off", data))
    calls = []
    real = vp.pretrain_vision
    monkeypatch.setattr(vp, "pretrain_vision", lambda *a, **k: calls.append(k) or real(*a, **k))
    run(_cfg(tmp_path / "on", data, "vision_pretrain_steps=5", "save_every=1"))
    assert len(calls) == 1 and calls[0]["batch_size"] == 4
    off, on = (load_file(str(tmp_path / d / "final" / "model.safetensors")) for d in ("off", "on"))
    assert any(not torch.equal(off[k], on[k]) for k in off if k.startswith("vision_tower."))
    # resuming from a checkpoint restores the pretrained weights instead of pretraining again
    run(_cfg(tmp_path / "on", data, "vision_pretrain_steps=5", "max_steps=3"), resume=True)
    assert len(calls) == 1
    steps = [json.loads(x)["step"] for x in (tmp_path / "on" / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 3


def test_vision_pretraining_needs_the_synthetic_task(tmp_path):
    from tests.conftest import SHARED

    # refused when the configuration is made (TrainConfig's validation, re-run by every --set), before anything
    # is built or written
    with pytest.raises(ValueError, match="vision_pretrain_steps=5 needs the synthetic task"):
        _cfg(tmp_path / "x", tmp_path / "d", "vision_pretrain_steps=5", "data.kind=curriculum",
             f"data.root={SHARED / 'fixtures' / 'curriculum' / 'good'}")
    assert not (tmp_path / "x").exists()
