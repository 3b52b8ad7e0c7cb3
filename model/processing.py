"""The Processor: questions/conversations + images -> model inputs, and generated ids -> answers.

Image handling (spec/model.md §2.3, §2.4, §6.4):

* `image_mode="tiles"` (TroL-3.8B, all Phantom, our tiny models): the authors' `dynamic_preprocess` — choose the
  grid (i, j), 1 <= i*j <= max_tiles, closest to the aspect ratio (ties: the later candidate if the image area
  exceeds half the grid's area), PIL-resize to (S*i, S*j), crop i*j tiles row-major, add an SxS thumbnail of the
  whole image when there is more than one tile; each tile -> float32 /255, normalised with mean/std.
  Image tokens = tokens_per_tile x tiles. Phantom templates paste several images of one question side by side
  (10-px black margin between them, vertically centred) before tiling.
* `image_mode="resize"` (TroL-1.8B/7B, CLIP): the uint8 image is resized to SxS with torch bicubic interpolation
  *as uint8* and returned as float32 0..255 without normalisation (the model normalises, spec §2.4);
  one image = tokens_per_tile tokens.

Besides the contract (`generation_inputs`, `decode`, `save_pretrained`, `load_processor`), the collator and the
demo use `prepare_images`, `place_placeholders`, `image_token_count`, `encode_conversation` and `prompt_text`;
`generation_inputs(..., system=, history=)` also lays out multi-turn prompts.

Bad images raise `ImageError` naming the image and the fix. Decision: a PIL image in another mode (L, P, RGBA,
CMYK, ...) is converted to RGB (what the authors' `Image.open(...).convert("RGB")` loading does); 16-bit/float
PIL modes and tensors/arrays that are not 3-channel uint8 are refused, since a silent conversion could change
their values.
"""
from __future__ import annotations

import io
import json
import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from transformers import PreTrainedTokenizerBase

from model.configuration import stored_vision_tower
from model.templates import ALIASES, IMAGE_PLACEHOLDER, TEMPLATES, Template, get_template, template_for
from model.tokenizer import load_tokenizer

log = logging.getLogger(__name__)

PROCESSOR_CONFIG = "processor_config.json"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class ImageError(ValueError):
    """An image that cannot be turned into model input; the message names the image and the fix."""


# ----------------------------------------------------------------------------------------------------------------
# images
# ----------------------------------------------------------------------------------------------------------------
def load_image(ref: Any, name: str = "image", convert_to_rgb: bool = True) -> Image.Image:
    """Decode an image reference (path, bytes, PIL image, uint8 array/tensor) into a PIL RGB image."""
    if isinstance(ref, (str, Path, bytes, bytearray)):
        src = io.BytesIO(ref) if isinstance(ref, (bytes, bytearray)) else ref
        label = name if isinstance(ref, (bytes, bytearray)) else f"{name} ({ref})"
        try:
            img = Image.open(src)
            img.load()
        except (OSError, UnidentifiedImageError, ValueError) as err:
            raise ImageError(f"{label}: cannot be read ({err}); fix: check the path, or re-encode the file as "
                             "PNG/JPEG") from err
        return _to_rgb(img, label, convert_to_rgb)
    if isinstance(ref, Image.Image):
        return _to_rgb(ref, name, convert_to_rgb)
    if isinstance(ref, (np.ndarray, torch.Tensor)):
        return _array_to_pil(ref, name)
    raise ImageError(f"{name}: unsupported image type {type(ref).__name__}; fix: pass a path, bytes, a PIL image or "
                     "a uint8 (3,H,W)/(H,W,3) array")


def _to_rgb(img: Image.Image, name: str, convert: bool) -> Image.Image:
    if img.width == 0 or img.height == 0:
        raise ImageError(f"{name}: has 0 pixels ({img.width}x{img.height}); fix: drop the record or replace the image")
    if img.mode == "RGB":
        return img
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        raise ImageError(f"{name}: {img.mode} (16/32-bit) image; fix: scale it to 8-bit RGB before use")
    if not convert:
        raise ImageError(f"{name}: mode {img.mode}, the model needs 3-channel RGB; fix: img.convert('RGB')")
    return img.convert("RGB")


def _array_to_pil(arr: Any, name: str) -> Image.Image:
    t = torch.as_tensor(arr)
    if t.dtype != torch.uint8:
        raise ImageError(f"{name}: tensor of dtype {t.dtype}; fix: pass uint8 values 0..255 (or a PIL image)")
    if t.ndim == 2 or (t.ndim == 3 and 1 in (t.shape[0], t.shape[-1]) and 3 not in (t.shape[0], t.shape[-1])):
        raise ImageError(f"{name}: has 1 channel, the model needs 3 (RGB); fix: convert it to RGB, e.g. "
                         "x.expand(3, -1, -1) for a (1,H,W) tensor or Image.fromarray(a).convert('RGB')")
    if t.ndim != 3:
        raise ImageError(f"{name}: tensor of shape {tuple(t.shape)}; fix: pass one image as (3,H,W) or (H,W,3)")
    if t.shape[0] == 3 and t.shape[-1] != 3:
        t = t.permute(1, 2, 0)
    if t.shape[-1] != 3:
        raise ImageError(f"{name}: {t.shape[-1]} channels, the model needs 3 (RGB); fix: convert it to RGB")
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise ImageError(f"{name}: has 0 pixels ({t.shape[1]}x{t.shape[0]}); fix: drop the record or replace the "
                         "image")
    return Image.fromarray(t.contiguous().numpy(), mode="RGB")


def concat_horizontally(images: Sequence[Image.Image], margin: int = 10) -> Image.Image:
    """Paste images side by side on black, `margin` px between them, each vertically centred (spec §6.4)."""
    width = sum(im.width for im in images) + margin * (len(images) - 1)
    height = max(im.height for im in images)
    canvas = Image.new("RGB", (width, height), (0, 0, 0))
    x = 0
    for im in images:
        canvas.paste(im, (x, (height - im.height) // 2))
        x += im.width + margin
    return canvas


def candidate_grids(min_tiles: int, max_tiles: int) -> list[tuple[int, int]]:
    """(i, j) grids with min <= i*j <= max, in the authors' order: built as a Python set, then stable-sorted by
    i*j, so ties inside one product follow CPython's set iteration order (spec §2.3 step 2)."""
    grids = set((i, j) for n in range(min_tiles, max_tiles + 1) for i in range(1, n + 1) for j in range(1, n + 1)
                if min_tiles <= i * j <= max_tiles)
    return sorted(grids, key=lambda g: g[0] * g[1])


def choose_grid(width: int, height: int, image_size: int, min_tiles: int = 1, max_tiles: int = 6) -> tuple[int, int]:
    """The authors' aspect-ratio choice (spec §2.3 step 3): (columns, rows)."""
    aspect = width / height
    best, best_diff = (1, 1), float("inf")
    for i, j in candidate_grids(min_tiles, max_tiles):
        diff = abs(aspect - i / j)
        if diff < best_diff:
            best, best_diff = (i, j), diff
        elif diff == best_diff and width * height > 0.5 * image_size * image_size * i * j:
            best = (i, j)
    return best


def dynamic_tiles(image: Image.Image, image_size: int = 448, min_tiles: int = 1, max_tiles: int = 6,
                  use_thumbnail: bool = True) -> list[Image.Image]:
    """Split `image` into tiles the way the authors' `dynamic_preprocess` does (spec §2.3 steps 4-5)."""
    cols, rows = choose_grid(image.width, image.height, image_size, min_tiles, max_tiles)
    # PIL's default filter for RGB is BICUBIC; named explicitly so a Pillow default change cannot move pixels.
    resized = image.resize((image_size * cols, image_size * rows), Image.Resampling.BICUBIC)
    tiles = []
    for k in range(cols * rows):
        x, y = (k % cols) * image_size, (k // cols) * image_size
        tiles.append(resized.crop((x, y, x + image_size, y + image_size)))
    if use_thumbnail and len(tiles) > 1:
        tiles.append(image.resize((image_size, image_size), Image.Resampling.BICUBIC))
    return tiles


def tiles_to_tensor(tiles: Sequence[Image.Image], mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """ToTensor (/255, float32) then Normalize, as torchvision does: (n, 3, S, S)."""
    x = torch.stack([torch.from_numpy(np.asarray(t, dtype=np.uint8).copy()).permute(2, 0, 1) for t in tiles])
    x = x.float().div(255)
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return x.sub(m).div(s)


def resize_uint8(image: Image.Image, size: int) -> torch.Tensor:
    """TroL-InternLM2 preprocessing (spec §2.4): uint8 bicubic interpolate to (size, size), no antialias, returned as
    float32 0..255 of shape (1, 3, size, size)."""
    x = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).unsqueeze(0)
    try:
        y = torch.nn.functional.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)
    except RuntimeError:  # older PyTorch builds refuse uint8 bicubic
        log.warning("uint8 bicubic resize unsupported by this PyTorch; using float resize + rounding (pixels may "
                    "differ from the authors')")
        y = torch.nn.functional.interpolate(x.float(), size=(size, size), mode="bicubic", align_corners=False)
        y = y.round().clamp(0, 255)
    return y.float()


# ----------------------------------------------------------------------------------------------------------------
# settings
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class ProcessorSettings:
    """Everything besides the tokenizer; saved as processor_config.json."""

    template: str = "phantom_chatml"
    image_mode: str = "tiles"  # "tiles" | "resize"
    image_size: int = 448
    tokens_per_tile: int = 256
    min_tiles: int = 1
    max_tiles: int = 6
    use_thumbnail: bool = True
    normalize: bool = True
    image_mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    image_std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))
    concat_margin: int = 10
    convert_to_rgb: bool = True
    system: str | None = None  # None: the template's default system prompt
    image_token_index: int | None = None
    eos_token_id: int | None = None
    pad_token_id: int | None = None

    @classmethod
    def from_config(cls, config: Any) -> "ProcessorSettings":
        """Read a model config object (attributes, all optional) the way spec/CONTRACTS.md names them."""
        get = (lambda k, d=None: config.get(k, d)) if isinstance(config, dict) else \
            (lambda k, d=None: getattr(config, k, d))
        tpl = get("template") or template_for(get("family", "qwen2") or "qwen2", bool(get("use_trol", False)),
                                              bool(get("use_phantom", False))).name
        tpl = get_template(tpl).name
        # CLIP towers (TroL-1.8B/7B) take one resized, un-normalised image; the model config marks them with
        # vision_type="clip" / rescale_in_model=True (model/configuration.py).
        clip = get("vision_type") == "clip" or bool(get("rescale_in_model", False))
        mode = get("image_mode") or ("resize" if clip or (tpl == "trol_internlm2" and get("vision_type") is None)
                                     else "tiles")
        s = cls(template=tpl, image_mode=mode)
        s.image_size = int(get("image_size") or (490 if mode == "resize" else 448))
        s.tokens_per_tile = int(get("tokens_per_tile") or (1225 if mode == "resize" else 256))
        for key in ("min_tiles", "max_tiles", "use_thumbnail", "concat_margin", "convert_to_rgb", "system",
                    "image_token_index", "eos_token_id", "pad_token_id"):
            if get(key) is not None:
                setattr(s, key, get(key))
        default_norm = mode == "tiles" and not bool(get("rescale_in_model", False))
        s.normalize = bool(get("normalize_images", default_norm))
        if get("image_mean") is not None:
            s.image_mean, s.image_std = list(get("image_mean")), list(get("image_std"))
        return s


# ----------------------------------------------------------------------------------------------------------------
# the processor
# ----------------------------------------------------------------------------------------------------------------
class Processor:
    """Tokenizer + template + image settings. See the module docstring and docs/CONTRACTS.md."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, model_config: Any = None,
                 settings: ProcessorSettings | None = None) -> None:
        self.tokenizer = tokenizer
        self.settings = settings or ProcessorSettings.from_config(model_config or {})
        self.template: Template = get_template(self.settings.template)
        if self.settings.image_mode not in ("tiles", "resize"):
            raise ValueError(f"image_mode must be 'tiles' or 'resize', got {self.settings.image_mode!r}")
        image_id = self._token_id(self.template.image_token)
        if self.settings.image_token_index is not None and self.settings.image_token_index != image_id:
            raise ValueError(f"config image_token_index={self.settings.image_token_index} but the tokenizer gives "
                             f"{self.template.image_token!r} id {image_id}; fix: set image_token_index from "
                             "model.tokenizer.model_config_ids(tokenizer, template)")
        self.image_token_index = image_id
        eos = self.settings.eos_token_id
        self.eos_token_id = int(eos) if eos is not None else self._token_id(self.template.eos_token)
        pad = self.settings.pad_token_id
        if pad is None:
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_token_id
        self.pad_token_id = int(pad)

    def _token_id(self, token: str) -> int:
        got = self.tokenizer.convert_tokens_to_ids(token)
        if got is None or (got == self.tokenizer.unk_token_id and token != self.tokenizer.unk_token):
            raise ValueError(f"tokenizer has no token {token!r} needed by template {self.template.name}; fix: use the "
                             "checkpoint's tokenizer or build one with model.tokenizer.build_tiny_tokenizer")
        return int(got)

    # -- images ---------------------------------------------------------------------------------------------
    def image_tensor(self, image: Image.Image) -> torch.Tensor:
        """Pixel tensor of one (RGB) image: (tiles, 3, S, S) float32."""
        s = self.settings
        if s.image_mode == "resize":
            return resize_uint8(image, s.image_size)
        tiles = dynamic_tiles(image, s.image_size, s.min_tiles, s.max_tiles, s.use_thumbnail)
        if s.normalize:
            return tiles_to_tensor(tiles, s.image_mean, s.image_std)
        return tiles_to_tensor(tiles, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))

    def prepare_images(self, refs: Sequence[Any], name: str = "image") -> list[torch.Tensor]:
        """Decode and transform the images of one question/sample: one pixel tensor per image placeholder
        (Phantom templates merge several images into one first)."""
        pics = [load_image(r, f"{name}[{k}]" if len(refs) > 1 else name, self.settings.convert_to_rgb)
                for k, r in enumerate(refs)]
        if len(pics) > 1 and self.template.concat_images:
            pics = [concat_horizontally(pics, self.settings.concat_margin)]
        return [self.image_tensor(p) for p in pics]

    def image_token_count(self, pixels: torch.Tensor) -> int:
        return int(pixels.shape[0]) * self.settings.tokens_per_tile

    def place_placeholders(self, texts: list[str], num_images: int, num_refs: int) -> list[str]:
        """Make the texts (user turns) hold exactly `num_images` placeholders: none -> the authors' prefix on the
        first text; several images merged into one (Phantom) -> only the first placeholder is kept."""
        count = sum(t.count(IMAGE_PLACEHOLDER) for t in texts)
        if count == num_images:
            return texts
        if count == 0:
            return [self.template.prepare_question(texts[0], num_images)] + texts[1:]
        if num_images == 1 and count == num_refs:
            out, seen = [], False
            for t in texts:
                parts = t.split(IMAGE_PLACEHOLDER)
                if len(parts) > 1:
                    t = parts[0] + ("" if seen else IMAGE_PLACEHOLDER) + "".join(parts[1:])
                    seen = True
                out.append(t)
            return out
        raise ValueError(f"{count} {IMAGE_PLACEHOLDER} placeholders for {num_refs} images; fix: one placeholder per "
                         "image (or none)")

    # -- text -----------------------------------------------------------------------------------------------
    def encode_pieces(self, pieces: list[tuple[str, bool]]) -> tuple[list[int], list[int]]:
        """Tokenize the concatenated pieces once (no special tokens added) and label the tokens that start inside
        a target piece; returns (ids, labels with -100 elsewhere)."""
        text = "".join(p for p, _ in pieces)
        spans, pos = [], 0
        for piece, target in pieces:
            if target:
                spans.append((pos, pos + len(piece)))
            pos += len(piece)
        try:
            enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        except NotImplementedError:  # python-backend tokenizers have no offsets: tokenize piece by piece
            ids, labels = [], []
            for piece, target in pieces:
                piece_ids = list(self.tokenizer(piece, add_special_tokens=False)["input_ids"])
                ids += piece_ids
                labels += piece_ids if target else [-100] * len(piece_ids)
            return ids, labels
        ids = list(enc["input_ids"])
        labels = [-100] * len(ids)
        k = 0
        for i, (start, _end) in enumerate(enc["offset_mapping"]):
            while k < len(spans) and start >= spans[k][1]:
                k += 1
            if k < len(spans) and spans[k][0] <= start < spans[k][1]:
                labels[i] = ids[i]
        return ids, labels

    def encode_conversation(self, turns: list[tuple[str, str]], pixels: list[torch.Tensor],
                            target_turns: str = "all") -> tuple[list[int], list[int]]:
        """Token ids and labels of a training conversation whose placeholders are already in place."""
        pieces = self.template.conversation(turns, self.settings.system, target_turns=target_turns)
        counts = [self.image_token_count(p) for p in pixels]
        expanded, used = [], 0
        for text, target in pieces:
            n = text.count(IMAGE_PLACEHOLDER)
            expanded.append((self.template.expand_images(text, counts[used:used + n]) if n else text, target))
            used += n
        if used != len(counts):
            raise ValueError(f"{used} image placeholders for {len(counts)} images")
        return self.encode_pieces(expanded)

    def prompt_text(self, question: str, pixels: list[torch.Tensor], num_refs: int, system: str | None = None,
                    history: Sequence[tuple[str, str]] | None = None) -> str:
        """Generation prompt text, image tokens expanded. `history`: earlier (question, answer) pairs, laid out
        as training turns; the images belong to the first user turn that has placeholders (else the first)."""
        system = self.settings.system if system is None else system
        users = [q for q, _ in history or []] + [question]
        users = self.place_placeholders(users, len(pixels), num_refs)
        text = ""
        if history:
            turns = [m for (_, a), q in zip(history, users) for m in (("user", q), ("assistant", a))]
            text = "".join(piece for piece, _ in self.template.conversation(turns, system))
            text += self.template.user_format.format(content=users[-1]) + self.template.assistant_prefix
        else:
            text = self.template.prompt(users[-1], system)
        return self.template.expand_images(text, [self.image_token_count(p) for p in pixels])

    def generation_inputs(self, questions: list[str], images: list[Any] | None = None, system: str | None = None,
                          history: list[Sequence[tuple[str, str]] | None] | None = None,
                          ) -> dict[str, torch.Tensor | None]:
        """Left-padded prompts: dict(input_ids, attention_mask, pixel_values) (see docs/CONTRACTS.md).
        `history[b]` (optional): earlier (question, answer) pairs of row b, for multi-turn chat."""
        if images is None:
            images = [None] * len(questions)
        if len(images) != len(questions) or (history is not None and len(history) != len(questions)):
            raise ValueError(f"{len(questions)} questions but {len(images)} image entries"
                             f"{'' if history is None else f' and {len(history)} histories'}; pass one entry "
                             "(None, an image or a list of images) per question")
        rows, tiles = [], []
        for b, (question, refs) in enumerate(zip(questions, images)):
            refs = [] if refs is None else (list(refs) if isinstance(refs, (list, tuple)) else [refs])
            pixels = self.prepare_images(refs, name=f"question {b} image")
            text = self.prompt_text(question, pixels, len(refs), system, history[b] if history else None)
            rows.append(self.tokenizer(text, add_special_tokens=False)["input_ids"])
            tiles.extend(pixels)
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for b, r in enumerate(rows):
            input_ids[b, width - len(r):] = torch.tensor(r, dtype=torch.long)
            attention_mask[b, width - len(r):] = 1
        pixel_values = torch.cat(tiles).float() if tiles else None
        return {"input_ids": input_ids, "attention_mask": attention_mask, "pixel_values": pixel_values}

    def decode(self, ids: Any) -> str | list[str]:
        """Answer text of generated ids (1-D -> str, 2-D -> list): decode as the authors do (special tokens kept
        for TroL, skipped for Phantom), then their output filtering. Trailing pad/EOS ids are dropped first so
        batch padding never shows."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        if ids and isinstance(ids[0], (list, tuple)):
            return [self.decode(row) for row in ids]
        row = list(ids)
        while row and row[-1] in (self.pad_token_id, self.eos_token_id):
            row.pop()
        text = self.tokenizer.decode(row, skip_special_tokens=self.template.skip_special_tokens)
        return self.template.filter_output(text)

    # -- persistence ----------------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> None:
        """Write the tokenizer files and processor_config.json into `directory`."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(str(out))
        data = asdict(self.settings)
        data.update(image_token_index=self.image_token_index, eos_token_id=self.eos_token_id,
                    pad_token_id=self.pad_token_id)
        (out / PROCESSOR_CONFIG).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _resolve_dir(path_or_hub_id: str | Path) -> Path:
    path = Path(path_or_hub_id)
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        # Offline by design: only a copy already in the local hub cache is used.
        return Path(snapshot_download(repo_id=str(path_or_hub_id), local_files_only=True))
    except (ImportError, OSError, ValueError) as err:  # hub "not cached" / invalid-id errors subclass these
        raise FileNotFoundError(f"{path_or_hub_id}: not a directory and not in the local hub cache ({err}); fix: "
                                "download the checkpoint first or pass its directory") from err


def settings_from_model_config(cfg: dict[str, Any], vision_tower: dict[str, Any] | None = None) -> ProcessorSettings:
    """Settings from a config.json: ours (flat fields of docs/CONTRACTS.md) or an official TroL/Phantom one
    (nested llm_config/vision_config; spec §1, §6). `vision_tower`: a TroL-InternLM2 directory's stored
    `VISION_TOWER_FILE` (`stored_vision_tower`), whose image size wins over `img_size`, as it does for the model
    (`model.convert.authors_config`)."""
    # Official configs also carry a `template` field (InternVL names such as "Hermes-2", unused by the authors'
    # code, spec §9), so only our own template names or a `family` field mark one of our configs.
    if cfg.get("family") or cfg.get("template") in TEMPLATES or cfg.get("template") in ALIASES:
        return ProcessorSettings.from_config(cfg)
    mtype = str(cfg.get("model_type", ""))
    llm_arch = " ".join((cfg.get("llm_config") or {}).get("architectures") or [])
    vision = cfg.get("vision_config") or {}
    flat: dict[str, Any] = {k: cfg[k] for k in ("image_token_index", "eos_token_id", "pad_token_id") if k in cfg}
    if mtype == "internlm" or (mtype == "trol" and "Phi3" not in llm_arch):
        tower = vision_tower or {}
        size, patch = int(tower.get("image_size", cfg.get("img_size", 490))), int(tower.get("patch_size", 14))
        flat.update(template="trol_internlm2", image_mode="resize", image_size=size,
                    tokens_per_tile=(size // patch) ** 2)
    elif mtype in ("trol", "phantom"):
        size = int(vision.get("image_size", 448))
        patch = int(vision.get("patch_size", 14))
        ratio = float(cfg.get("downsample_ratio", 0.5))
        flat.update(template=("trol_phi3" if mtype == "trol" else "phantom_phi3") if "Phi3" in llm_arch
                    else "phantom_chatml", image_mode="tiles", image_size=size,
                    tokens_per_tile=int(round((size // patch) ** 2 * ratio * ratio)))
    else:
        raise ValueError(f"config.json (model_type {mtype!r}): cannot tell the prompt template; fix: add a "
                         f"{PROCESSOR_CONFIG} (Processor.save_pretrained) or a 'template' field")
    return ProcessorSettings.from_config(flat)


def load_processor(path_or_hub_id: str | Path) -> Processor:
    """Processor of a model directory (or a hub id in the local cache): tokenizer + processor_config.json, falling
    back to config.json."""
    root = _resolve_dir(path_or_hub_id)
    tokenizer = load_tokenizer(root)
    pfile, cfile = root / PROCESSOR_CONFIG, root / "config.json"
    if pfile.is_file():
        data = json.loads(pfile.read_text(encoding="utf-8"))
        known = {f.name for f in fields(ProcessorSettings)}
        unknown = set(data) - known
        if unknown:
            log.warning("%s: ignoring unknown keys %s", pfile, sorted(unknown))
        settings = ProcessorSettings(**{k: v for k, v in data.items() if k in known})
    elif cfile.is_file():
        settings = settings_from_model_config(json.loads(cfile.read_text(encoding="utf-8")), stored_vision_tower(root))
    else:
        raise FileNotFoundError(f"{root}: neither {PROCESSOR_CONFIG} nor config.json; fix: save the model with "
                                "save_pretrained (it writes both)")
    return Processor(tokenizer, settings=settings)
