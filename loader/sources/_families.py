"""Record converters for the record families of datasets spec §2, shared by the reader modules.

* LLaVA/ShareGPT conversation: ``{id?, image?, conversations: [{from, value}]}`` (json, jsonl, parquet)
* DocOwl messages: ``{image: [path], messages: [{role, content}], task_name, dataset_name}``
* instruction/output pairs (MathInstruct, MathPlus), text only
and the image-path selection rules (first path components).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from loader.records import Sample
from loader.sources._convert import docowl_turns, image_list, llava_turns, require, strip_dot, turns_from_pairs
from loader.sources._spec import Context


def resolve(root: Path, path: str, image_dir: str | None = None) -> str:
    """Join a root-relative (or `image_dir`-relative) image path with the dataset root."""
    rel = strip_dot(path)
    return str(Path(root) / image_dir / rel) if image_dir else str(Path(root) / rel)


def _meta(ctx: Context, **extra: Any) -> dict[str, Any]:
    return {"file": ctx.file, "position": ctx.position, **extra}


def llava_sample(raw: Any, ctx: Context, *, id_field: str = "id", image_dir: str | None = None) -> Sample:
    require(raw, "conversations")
    images = [resolve(ctx.root, p, image_dir) for p in image_list(raw.get("image"))]
    turns = llava_turns(raw["conversations"], len(images))
    rid = raw.get(id_field)
    return Sample(id=str(rid) if rid not in (None, "") else f"{ctx.source}-{ctx.position}", source=ctx.source,
                  turns=turns, images=images, meta=_meta(ctx))


def docowl_sample(raw: Any, ctx: Context) -> Sample:
    require(raw, "messages")
    images = [resolve(ctx.root, p) for p in image_list(raw.get("image"))]
    turns = docowl_turns(raw["messages"], len(images))
    return Sample(id=f"{ctx.source}-{ctx.position}", source=ctx.source, turns=turns, images=images,
                  meta=_meta(ctx, dataset_name=raw.get("dataset_name"), task_name=raw.get("task_name")))


def pair_sample(raw: Any, ctx: Context) -> Sample:
    """instruction -> user, output -> assistant (LLaMA-Factory's mapping of MathInstruct, datasets spec §4.12)."""
    require(raw, "instruction", "output")
    turns = turns_from_pairs([("user", raw["instruction"]), ("assistant", raw["output"])], 0)
    extra = {"origin": raw["source"]} if isinstance(raw.get("source"), str) else {}
    return Sample(id=f"{ctx.source}-{ctx.position}", source=ctx.source, turns=turns, meta=_meta(ctx, **extra))


def first_images(raw: Any) -> list[str]:
    """Image paths of a raw record for the selection rules (no validation; malformed records fail later)."""
    value = raw.get("image") if isinstance(raw, dict) else None
    if isinstance(value, str):
        return [strip_dot(value)]
    if isinstance(value, list):
        return [strip_dot(v) for v in value if isinstance(v, str)]
    return []


class PrefixRule:
    """Selection by image path prefix: keep (or drop, keep=False) records whose first image starts so.
    A class rather than a closure so that a dataset holding it pickles into spawned DataLoader workers."""

    def __init__(self, *prefixes: str, keep: bool = True) -> None:
        self.prefixes = tuple(prefixes)
        self.keep = keep

    def __call__(self, raw: Any) -> bool:
        paths = first_images(raw)
        hit = bool(paths) and paths[0].startswith(self.prefixes)
        return hit if self.keep else not hit

    def __repr__(self) -> str:
        return f"PrefixRule({', '.join(map(repr, self.prefixes))}, keep={self.keep})"


prefix_rule = PrefixRule
