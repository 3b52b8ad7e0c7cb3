"""Supervised pretraining of a from-scratch vision tower on the synthetic scenes, before the LLVM is trained.

Every real LLVM starts from a pretrained vision encoder (InternViT, CLIP, SigLIP); the `tiny` model has none, and
trained only through the language model its image tokens learn colour and shape too slowly for the quickstart's
budget (docs/quickstart.md, "Diagnosis" 5). This stage is the tiny model's stand-in for that pretrained encoder:
linear heads on the projected image tokens classify, for the quadrant each token covers, the colour, the shape and
the (colour, shape) pair drawn there (or "empty"), and which quadrant the token covers, trained together with the
vision tower and the projector for a few hundred steps (~10 s on one CPU core); the heads are then dropped. The
quadrant head is there because attention moves a token's content, not its place: without it the tiny tower's tokens
do not say where they are (a linear read-out of the quadrant: 0.32 after the other heads' training, chance 0.25),
and "Where is the red circle?" cannot be answered from their content (docs/quickstart.md, "Diagnosis" 7). Only the
vision tower and the projector change; the language model is untouched. Deterministic from `seed`.

Labels come from `loader.synthetic.read_scenes` (the objects of every training image). The pixel shuffle lays the
tokens of a tile out row-major on a square grid, so token (r, c) of a g x g grid lies in quadrant
(2r // g, 2c // g), the order of `loader.synthetic.POSITIONS`.
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

log = logging.getLogger("trainer")


def _quadrant_of_tokens(n_tokens: int) -> torch.Tensor:
    side = math.isqrt(n_tokens)
    if side * side != n_tokens or side % 2:
        raise ValueError(f"vision pretraining: {n_tokens} image tokens per tile do not form an even square grid; "
                         "use a tile of 2x2 (or 4x4, ...) tokens (tiny preset: image_size 64, patch_size 16)")
    rows, cols = np.divmod(np.arange(n_tokens), side)
    return torch.as_tensor((2 * rows // side) * 2 + 2 * cols // side)


def scene_labels(objects: list[Any], quadrant_of_token: torch.Tensor) -> torch.Tensor:
    """(tokens, 4) labels (colour, shape, pair, quadrant) of one image; the last class of the first three is
    "nothing here"."""
    from loader.synthetic import COLOURS, POSITIONS, SHAPES

    colours, shapes = list(COLOURS), list(SHAPES)
    per_quadrant = [[len(colours), len(shapes), len(colours) * len(shapes)] for _ in POSITIONS]
    for o in objects:
        c, s = colours.index(o.colour), shapes.index(o.shape)
        per_quadrant[POSITIONS.index(o.position)] = [c, s, c * len(shapes) + s]
    return torch.cat([torch.tensor(per_quadrant)[quadrant_of_token], quadrant_of_token[:, None]], 1)


def pretrain_vision(model: nn.Module, processor: Any, scenes: str | Path | Sequence[tuple[Any, list[Any]]],
                    steps: int, batch_size: int = 32, lr: float = 1e-3, seed: int = 0,
                    progress: bool = True) -> dict[str, float]:
    """Train `model.vision_tower` + `model.vision_proj` for `steps` steps on `scenes`: a synthetic training root
    (read with `loader.synthetic.read_scenes`) or (image or image path, objects) pairs. Each batch draws
    `batch_size` of them at random (seeded).

    Returns the last step's loss and the per-token accuracies on that batch (colour, shape, pair, quadrant). The
    global random state is left as it was (the run's later draws do not depend on this stage)."""
    with torch.random.fork_rng(devices=[]):
        return _pretrain(model, processor, scenes, steps, batch_size, lr, seed, progress)


def _pixels(processor: Any, image: Any) -> torch.Tensor:
    from PIL import Image

    if isinstance(image, (str, Path)):
        with Image.open(image) as img:
            tiles = processor.image_tensor(img.convert("RGB"))
    else:
        tiles = processor.image_tensor(image.convert("RGB"))
    if tiles.shape[0] != 1:
        raise ValueError(f"vision pretraining: an image ({image if isinstance(image, (str, Path)) else 'given'}) "
                         f"became {tiles.shape[0]} tiles; the scene labels describe a single tile (render the "
                         "images at the model's image_size)")
    return tiles


def _pretrain(model: nn.Module, processor: Any, scenes: Any, steps: int, batch_size: int, lr: float,
              seed: int, progress: bool) -> dict[str, float]:
    from loader.synthetic import COLOURS, POSITIONS, SHAPES, read_scenes

    where = scenes if isinstance(scenes, (str, Path)) else "the given scenes"
    if isinstance(scenes, (str, Path)):
        scenes = read_scenes(scenes)
    if not scenes:
        raise ValueError(f"vision pretraining: no scenes in {where}")
    if steps < 1:
        raise ValueError(f"vision pretraining: steps must be >= 1, got {steps}")
    width = model.vision_proj[-1].out_features
    device = next(model.vision_proj.parameters()).device
    sizes = (len(COLOURS) + 1, len(SHAPES) + 1, len(COLOURS) * len(SHAPES) + 1, len(POSITIONS))
    torch.manual_seed(seed)
    heads = nn.ModuleList(nn.Linear(width, n) for n in sizes).to(device)
    trained = [*model.vision_tower.parameters(), *model.vision_proj.parameters()]
    opt = torch.optim.AdamW([*heads.parameters(), *trained], lr=lr)
    rng = np.random.default_rng(seed)
    was_training = model.training
    model.train()
    quadrant_of_token: torch.Tensor | None = None
    start, summary = time.time(), {}
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, desc="vision pretraining", unit="step", dynamic_ncols=True)
    for step in range(1, steps + 1):
        picks = rng.integers(len(scenes), size=batch_size)
        pixels = torch.cat([_pixels(processor, scenes[int(i)][0]) for i in picks])
        feats = model.image_features(pixels.to(device))
        if quadrant_of_token is None:
            quadrant_of_token = _quadrant_of_tokens(feats.shape[1])
        y = torch.stack([scene_labels(scenes[int(i)][1], quadrant_of_token) for i in picks]).to(device)
        logits = [head(feats.float()) for head in heads]
        loss = sum(nn.functional.cross_entropy(lg.flatten(0, 1), y[..., k].flatten()) for k, lg in enumerate(logits))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        if step == steps:
            with torch.no_grad():
                acc = [(lg.argmax(-1) == y[..., k]).float().mean().item() for k, lg in enumerate(logits)]
            summary = {"loss": loss.item(), "colour_accuracy": acc[0], "shape_accuracy": acc[1],
                       "pair_accuracy": acc[2], "quadrant_accuracy": acc[3]}
    if bar is not None:
        bar.close()
    for p in trained:
        p.grad = None
    model.train(was_training)
    log.info("vision pretraining: %d steps of %d images in %.0f s; last batch: loss %.3f, per-token accuracy "
             "colour %.3f, shape %.3f, pair %.3f, quadrant %.3f", steps, batch_size, time.time() - start,
             summary["loss"], summary["colour_accuracy"], summary["shape_accuracy"], summary["pair_accuracy"],
             summary["quadrant_accuracy"])
    return summary
