"""Vision towers: InternViT (on transformers' `InternVLVisionModel`), CLIP ViT and SigLIP, plus pixel shuffle.

`VisionEncoder` turns a batch of tiles (N, 3, S, S) into features (N, T, C') that the projector consumes:
  1. optional in-model normalisation of raw 0..255 pixels (TroL-1.8B/7B: (x - 255 mean) / (255 std));
  2. the tower's last hidden state (InternViT has no final norm; CLIP's last encoder layer output is taken before
     `post_layernorm`, which the released code never uses), spec/model.md §2.1, §2.4;
  3. the CLS token dropped (InternViT, CLIP);
  4. pixel shuffle with ratio 0.5 (InternViT models): 2x2 neighbouring patches concatenated on the channel axis in
     the order (2i,2j), (2i,2j+1), (2i+1,2j), (2i+1,2j+1) (InternVL's "v2" shuffle, spec §2.2).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PretrainedConfig


def pixel_shuffle(features: torch.Tensor, ratio: float) -> torch.Tensor:
    """(N, T, C) with T a square grid -> (N, T * ratio^2, C / ratio^2), InternVL's v2 channel order."""
    n, t, c = features.shape
    side = math.isqrt(t)
    f = round(1 / ratio)
    if side * side != t or side % f or abs(1 / f - ratio) > 1e-9:
        raise ValueError(f"pixel shuffle: {t} vision tokens do not form a square grid divisible by {f}; "
                         "check vision_config image_size/patch_size and downsample_ratio")
    x = features.reshape(n, side // f, f, side // f, f, c)      # (n, row, dr, col, dc, c)
    x = x.permute(0, 1, 3, 2, 4, 5)                             # (n, row, col, dr, dc, c)
    return x.reshape(n, (side // f) ** 2, f * f * c)


def resize_position_table(table: torch.Tensor, grid: int) -> torch.Tensor:
    """Bicubically resize a CLIP/InternViT position table (CLS row + g*g rows, C) to grid*grid patch rows.

    This is how TroL-1.8B/7B's CLIP-L/14-336 table (24x24) became 35x35 for 490-px inputs (spec §2.4); computed in
    float32 with align_corners=False and cast back. Equal sizes are an exact copy."""
    squeeze = table.dim() == 3
    rows = table[0] if squeeze else table
    cls, patches = rows[:1], rows[1:]
    old = math.isqrt(patches.shape[0])
    if old * old != patches.shape[0]:
        raise ValueError(f"position table with {patches.shape[0]} patch rows is not a square grid")
    if old != grid:
        x = patches.float().reshape(1, old, old, -1).permute(0, 3, 1, 2)
        x = F.interpolate(x, size=(grid, grid), mode="bicubic", align_corners=False)
        patches = x.permute(0, 2, 3, 1).reshape(grid * grid, -1).to(rows.dtype)
    out = torch.cat([cls, patches], 0)
    return out[None] if squeeze else out


class VisionEncoder(nn.Module):
    """Vision tower + feature selection + pixel shuffle. `tower` keeps the stock transformers module."""

    def __init__(self, vision_type: str, vision_config: PretrainedConfig, *, image_size: int,
                 downsample_ratio: float | None, drop_cls: bool, feature_layer: int,
                 rescale_in_model: bool, image_mean: list[float], image_std: list[float]) -> None:
        super().__init__()
        self.vision_type = vision_type
        self.image_size = image_size
        self.downsample_ratio = downsample_ratio
        self.drop_cls = drop_cls
        self.feature_layer = feature_layer
        self.rescale_in_model = rescale_in_model
        self.register_buffer("pixel_mean", torch.tensor(image_mean).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.register_buffer("pixel_std", torch.tensor(image_std).view(1, 3, 1, 1) * 255.0, persistent=False)
        if vision_type == "clip":
            from transformers import CLIPVisionModel
            self.tower = CLIPVisionModel._from_config(vision_config)
        elif vision_type == "siglip":
            from transformers import SiglipVisionModel
            self.tower = SiglipVisionModel._from_config(vision_config)
        else:
            self.tower = AutoModel.from_config(vision_config)

    @property
    def out_channels(self) -> int:
        width = self.tower.config.hidden_size
        return int(width / self.downsample_ratio**2) if self.downsample_ratio else width

    def check_pixels(self, pixel_values: torch.Tensor) -> None:
        """One-line actionable errors for malformed tiles."""
        if pixel_values.dim() != 4:
            raise ValueError(f"pixel_values must be (tiles, 3, H, W), got shape {tuple(pixel_values.shape)}; "
                             "stack the processor's tiles along dim 0")
        n, c, h, w = pixel_values.shape
        if h == 0 or w == 0 or n == 0:
            raise ValueError(f"pixel_values has an empty image (shape {tuple(pixel_values.shape)}); "
                             "drop the image or pass a real RGB picture")
        if c != 3:
            raise ValueError(f"pixel_values has {c} channel(s), expected 3 (RGB); convert the image with "
                             "PIL's .convert('RGB') before processing")
        if h != self.image_size or w != self.image_size:
            raise ValueError(f"pixel_values tiles are {h}x{w}, the model expects {self.image_size}x{self.image_size}; "
                             "tile/resize with the model's processor")

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        self.check_pixels(pixel_values)
        dtype = next(self.tower.parameters()).dtype
        x = pixel_values
        if self.rescale_in_model:
            x = (x.float() - self.pixel_mean) / self.pixel_std
        x = x.to(dtype)
        want_hidden = self.feature_layer != -1
        out = self.tower(pixel_values=x, output_hidden_states=want_hidden)
        feats = out.hidden_states[self.feature_layer] if want_hidden else out.last_hidden_state
        if self.drop_cls:
            feats = feats[:, 1:]
        if self.downsample_ratio:
            feats = pixel_shuffle(feats, self.downsample_ratio)
        return feats
