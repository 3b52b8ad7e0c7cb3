"""Image side of the Processor: dynamic tiling (grid choice, ties, thumbnail), CLIP resize, multi-image concat,
bad images, left padding of generation inputs."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from model.processing import (IMAGENET_MEAN, IMAGENET_STD, ImageError, Processor, candidate_grids, choose_grid,
                              concat_horizontally, dynamic_tiles, load_image, resize_uint8)
from model.tokenizer import build_tiny_tokenizer


def solid(w: int, h: int, rgb: tuple[int, int, int] = (200, 30, 60)) -> Image.Image:
    return Image.new("RGB", (w, h), rgb)


def test_candidate_grids_order() -> None:
    grids = candidate_grids(1, 6)
    assert len(grids) == 14 and len(set(grids)) == 14
    assert all(1 <= i * j <= 6 for i, j in grids)
    products = [i * j for i, j in grids]
    assert products == sorted(products)
    assert grids[0] == (1, 1)


@pytest.mark.parametrize("w,h,grid", [
    (448, 448, (1, 1)),    # square, small area: (2,2) ties on ratio but area too small
    (1000, 1000, (2, 2)),  # square, area > 0.5*448^2*4: the later tie (2,2) wins
    (896, 448, (2, 1)),
    (448, 896, (1, 2)),
    (1344, 448, (3, 1)),
    (300, 1000, (1, 3)),   # a = 0.3: closest 1/3
    (5000, 100, (6, 1)),   # very wide: capped at 6 tiles
    (1120, 448, (3, 1)),   # a = 2.5 ties (2,1)/(3,1): area 501760 > 0.5*448^2*3 -> (3,1)
    (250, 100, (2, 1)),    # a = 2.5 tie, small area -> keeps the first, (2,1)
    (640, 480, (3, 2)),    # a = 4/3: |4/3 - 3/2| = 0.167 beats |4/3 - 1| = 0.333
])
def test_choose_grid(w: int, h: int, grid: tuple[int, int]) -> None:
    assert choose_grid(w, h, 448) == grid


def test_tiles_count_and_thumbnail() -> None:
    assert len(dynamic_tiles(solid(448, 448))) == 1  # one tile: no thumbnail
    assert len(dynamic_tiles(solid(896, 448))) == 3  # 2 tiles + thumbnail
    assert len(dynamic_tiles(solid(1344, 448))) == 4
    assert len(dynamic_tiles(solid(1000, 1000))) == 5
    assert len(dynamic_tiles(solid(5000, 100))) == 7
    assert len(dynamic_tiles(solid(896, 448), use_thumbnail=False)) == 2
    assert all(t.size == (448, 448) for t in dynamic_tiles(solid(1000, 700)))


def test_tile_order_is_row_major_and_thumbnail_is_whole_image() -> None:
    # 2 x 2 grid of coloured quadrants, 896 x 896 -> 4 tiles + thumbnail.
    arr = np.zeros((896, 896, 3), np.uint8)
    arr[:448, :448] = (255, 0, 0)
    arr[:448, 448:] = (0, 255, 0)
    arr[448:, :448] = (0, 0, 255)
    arr[448:, 448:] = (255, 255, 255)
    tiles = dynamic_tiles(Image.fromarray(arr))
    assert len(tiles) == 5
    centres = [tuple(np.asarray(t)[224, 224]) for t in tiles[:4]]
    assert centres == [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
    thumb = np.asarray(tiles[4])
    assert tuple(thumb[100, 100]) == (255, 0, 0) and tuple(thumb[350, 350]) == (255, 255, 255)


def test_normalised_pixels() -> None:
    tok = build_tiny_tokenizer(["hello world"], 300)
    proc = Processor(tok, SimpleNamespace(template="tiny", image_size=28, tokens_per_tile=4))
    x = proc.image_tensor(solid(56, 28, (255, 0, 128)))
    assert x.shape == (3, 3, 28, 28) and x.dtype == torch.float32
    expect = [(255 / 255 - IMAGENET_MEAN[0]) / IMAGENET_STD[0], (0 - IMAGENET_MEAN[1]) / IMAGENET_STD[1],
              (128 / 255 - IMAGENET_MEAN[2]) / IMAGENET_STD[2]]
    assert torch.allclose(x[0, :, 10, 10], torch.tensor(expect), atol=1e-6)


def test_clip_resize_is_uint8_bicubic_without_normalisation() -> None:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (37, 53, 3), dtype=np.uint8))
    y = resize_uint8(img, 49)
    assert y.shape == (1, 3, 49, 49) and y.dtype == torch.float32
    ref = torch.nn.functional.interpolate(torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)[None],
                                          size=(49, 49), mode="bicubic", align_corners=False)
    assert torch.equal(y, ref.float())
    assert y.min() >= 0 and y.max() <= 255 and torch.equal(y, y.round())


def test_concat_horizontally() -> None:
    out = concat_horizontally([solid(100, 50, (255, 0, 0)), solid(60, 80, (0, 255, 0))], margin=10)
    a = np.asarray(out)
    assert out.size == (170, 80)
    assert tuple(a[40, 50]) == (255, 0, 0) and tuple(a[10, 50]) == (0, 0, 0)  # centred: rows 15..64
    assert tuple(a[15, 50]) == (255, 0, 0) and tuple(a[14, 50]) == (0, 0, 0)
    assert tuple(a[40, 105]) == (0, 0, 0)  # margin
    assert tuple(a[0, 110]) == (0, 255, 0) and tuple(a[79, 169]) == (0, 255, 0)


@pytest.fixture(scope="module")
def tiny_tok():
    return build_tiny_tokenizer(["what is in the picture", "describe it please", "a red cube"] * 20, 400)


def test_generation_inputs_left_padding_and_tiles(tiny_tok) -> None:
    proc = Processor(tiny_tok, SimpleNamespace(template="tiny", image_size=28, tokens_per_tile=4))
    batch = proc.generation_inputs(["what is in the picture", "hi"], [solid(56, 28), None])
    ids, mask = batch["input_ids"], batch["attention_mask"]
    # Row 0: 2 tiles + thumbnail = 3 tiles = 12 image tokens; row 1 text-only and shorter -> left padded.
    assert batch["pixel_values"].shape == (3, 3, 28, 28)
    assert int((ids[0] == proc.image_token_index).sum()) == 12
    assert int((ids[1] == proc.image_token_index).sum()) == 0
    assert mask[0].all()
    n_pad = int((mask[1] == 0).sum())
    assert n_pad > 0 and not mask[1, :n_pad].any() and mask[1, n_pad:].all()
    assert (ids[1, :n_pad] == proc.pad_token_id).all()
    text = tiny_tok.decode(ids[1, n_pad:].tolist())
    assert text == "<|im_start|>user\nhi<|im_end|><|im_start|>assistant\n"
    # Text-only batch: no pixels.
    assert proc.generation_inputs(["hi"])["pixel_values"] is None


def test_multi_image_phantom_merges_trol_keeps_separate(tiny_tok) -> None:
    phantom = Processor(tiny_tok, SimpleNamespace(template="tiny", image_size=28, tokens_per_tile=4))
    b = phantom.generation_inputs(["<image> and <image>: same?"], [[solid(28, 28), solid(28, 28)]])
    # 28+10+28 = 66 x 28 -> grid (2,1) -> 2 tiles + thumbnail, one image block.
    assert b["pixel_values"].shape[0] == 3
    assert tiny_tok.decode(b["input_ids"][0].tolist()).count("<img>") == 1
    tok = build_tiny_tokenizer(["hello"], 300, specials=("<|endoftext|>", "<s>", "</s>", "<|system|>", "<|end|>",
                                                          "<|user|>", "<|assistant|>", "<img>", "</img>",
                                                          "<IMG_CONTEXT>"), eos_token="<|endoftext|>")
    trol = Processor(tok, SimpleNamespace(template="trol_phi3", image_size=28, tokens_per_tile=4))
    b = trol.generation_inputs(["compare"], [[solid(28, 28), solid(56, 28)]])
    assert b["pixel_values"].shape[0] == 1 + 3
    assert tok.decode(b["input_ids"][0].tolist()).count("<img>") == 2


def test_bad_images(tmp_path: Path, tiny_tok) -> None:
    with pytest.raises(ImageError, match=r"0 pixels.*fix"):
        load_image(Image.new("RGB", (0, 5)), "img0")
    with pytest.raises(ImageError, match=r"img1: has 1 channel.*convert it to RGB"):
        load_image(torch.zeros((1, 8, 8), dtype=torch.uint8), "img1")
    with pytest.raises(ImageError, match=r"1 channel"):
        load_image(np.zeros((8, 8), np.uint8), "img1b")
    with pytest.raises(ImageError, match="uint8"):
        load_image(torch.zeros((3, 8, 8)), "img2")
    missing = tmp_path / "missing.jpg"
    with pytest.raises(ImageError, match=r"missing\.jpg.*cannot be read.*fix"):
        load_image(str(missing), "img3")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    with pytest.raises(ImageError, match=r"broken\.png"):
        load_image(broken, "img4")
    with pytest.raises(ImageError, match="16/32-bit"):
        load_image(Image.new("I;16", (4, 4)), "img5")
    # Documented decision: PIL grayscale (and palette/RGBA) images are converted to RGB.
    gray = load_image(Image.new("L", (4, 4), 77), "gray")
    assert gray.mode == "RGB" and tuple(np.asarray(gray)[0, 0]) == (77, 77, 77)
    with pytest.raises(ImageError, match=r"mode L.*convert\('RGB'\)"):
        load_image(Image.new("L", (4, 4)), "strict", convert_to_rgb=False)
    chw = load_image(torch.full((3, 5, 7), 9, dtype=torch.uint8), "chw")
    assert chw.size == (7, 5)
    proc = Processor(tiny_tok, SimpleNamespace(template="tiny", image_size=28, tokens_per_tile=4))
    with pytest.raises(ImageError, match="question 0 image"):
        proc.generation_inputs(["x"], [Image.new("RGB", (0, 3))])


def test_placeholder_count_mismatch(tiny_tok) -> None:
    tok = tiny_tok
    proc = Processor(tok, SimpleNamespace(template="tiny", image_size=28, tokens_per_tile=4))
    with pytest.raises(ValueError, match="placeholders"):
        proc.generation_inputs(["<image><image><image>"], [[solid(28, 28), solid(28, 28)]])


def test_image_token_index_mismatch_is_reported(tiny_tok) -> None:
    with pytest.raises(ValueError, match="image_token_index=3 but the tokenizer"):
        Processor(tiny_tok, SimpleNamespace(template="tiny", image_token_index=3))


def test_history_puts_image_in_first_turn(tiny_tok) -> None:
    proc = Processor(tiny_tok, SimpleNamespace(template="tiny", image_size=28, tokens_per_tile=2))
    b = proc.generation_inputs(["and now?"], [solid(28, 28)], history=[[("what colour?", "red")]])
    assert tiny_tok.decode(b["input_ids"][0].tolist()) == (
        "<|im_start|>user\n<img><IMG_CONTEXT><IMG_CONTEXT></img>what colour?<|im_end|><|im_start|>assistant\n"
        "red<|im_end|><|im_start|>user\nand now?<|im_end|><|im_start|>assistant\n")
    assert b["pixel_values"].shape[0] == 1


def test_settings_from_model_core_config_fields(tiny_tok) -> None:
    clip = Processor(tiny_tok, SimpleNamespace(template="tiny", vision_type="clip", rescale_in_model=True,
                                               image_size=14, tokens_per_tile=1, max_tiles=1, use_thumbnail=False))
    assert clip.settings.image_mode == "resize" and not clip.settings.normalize
    x = clip.generation_inputs(["q"], [solid(40, 20, (250, 0, 3))])["pixel_values"]
    assert x.shape == (1, 3, 14, 14) and float(x[0, 0, 7, 7]) == 250.0  # raw 0..255, model normalises
    tiles = Processor(tiny_tok, SimpleNamespace(template="tiny", vision_type="internvit", image_size=28,
                                                tokens_per_tile=4, max_tiles=1, use_thumbnail=False))
    assert tiles.settings.image_mode == "tiles" and tiles.settings.normalize
    assert tiles.generation_inputs(["q"], [solid(90, 28)])["pixel_values"].shape == (1, 3, 28, 28)
