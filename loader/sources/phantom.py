"""Phantom triples: `Phantom.json` (hub BK-Lee/Phantom; datasets spec §4.15), the Phantom Optimization data.

The file's schema is undocumented. The assumed shape (spec §4.15, by analogy with BK-Lee/Meteor) is a JSON array of
``{id: "<source>-...", image?: path, conversations: [{from: human, value}, ..., {from: gpt, value, rejected}]}``:
the last gpt turn's `value` is the chosen answer and its `rejected` key the rejected one. The key names live in
`PhantomSchema`; the first records of the file are checked against it, and a file of another shape is rejected with
the fields actually found (then pass a matching `PhantomSchema`).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Iterator

from loader.records import Sample
from loader.sources._convert import RecordError, image_list, llava_turns, require
from loader.sources._families import resolve
from loader.sources._files import RecordDecodeError
from loader.sources._log import MALFORMED, SourceLog
from loader.sources._spec import Context, SourceSpec

FILE = "Phantom.json"


@dataclass(frozen=True)
class PhantomSchema:
    """Field names of a triple (defaults: the shape assumed by the datasets spec)."""

    conversations: str = "conversations"
    role: str = "from"
    text: str = "value"
    rejected: str = "rejected"
    image: str = "image"
    id: str = "id"


class PhantomSchemaError(ValueError):
    """`Phantom.json` does not have the expected shape."""


def _shape_problem(raw: Any, schema: PhantomSchema) -> str | None:
    if not isinstance(raw, dict):
        return f"a record is a {type(raw).__name__}, not an object"
    conv = raw.get(schema.conversations)
    if not isinstance(conv, list) or not conv:
        return f"no non-empty list '{schema.conversations}'"
    last = conv[-1]
    if not isinstance(last, dict) or schema.text not in last or schema.rejected not in last:
        return f"the last turn lacks '{schema.text}' and/or '{schema.rejected}'"
    return None


def describe_fields(records: list[Any], schema: PhantomSchema) -> str:
    """The fields actually present: top-level keys and the keys of the conversation turns."""
    top, turn_keys = set(), set()
    for raw in records:
        if isinstance(raw, dict):
            top.update(raw)
            conv = raw.get(schema.conversations)
            if isinstance(conv, list):
                for t in conv:
                    if isinstance(t, dict):
                        turn_keys.update(t)
    return f"top-level fields {sorted(top)}; turn fields {sorted(turn_keys) or 'none'}"


def validate_head(records: list[Any], path: Path, schema: PhantomSchema = PhantomSchema()) -> None:
    """Reject the file unless its first records have the expected triple shape."""
    parsed = [r for r in records if not isinstance(r, RecordDecodeError)]
    problems = [p for p in (_shape_problem(r, schema) for r in parsed) if p]
    if not parsed or problems:
        raise PhantomSchemaError(
            f"{path}: the first {len(records)} records do not have the assumed Phantom triple shape "
            f"({problems[0] if problems else 'no decodable record'}). Expected {schema}; found "
            f"{describe_fields(parsed, schema)}. Fix: pass a matching loader.sources.phantom.PhantomSchema "
            f"(build_curriculum(..., phantom_schema=...)).")


def convert(raw: Any, ctx: Context, schema: PhantomSchema = PhantomSchema()) -> Sample:
    require(raw, schema.conversations)
    problem = _shape_problem(raw, schema)
    if problem:
        raise RecordError(MALFORMED, f"not a triple: {problem}")
    images = [resolve(ctx.root, p) for p in image_list(raw.get(schema.image))]
    conv = [{"from": t.get(schema.role), "value": t.get(schema.text)} if isinstance(t, dict) else t
            for t in raw[schema.conversations]]
    turns = llava_turns(conv, len(images))
    rejected = raw[schema.conversations][-1][schema.rejected]
    if turns[-1].role != "assistant" or not isinstance(rejected, str) or not rejected.strip():
        raise RecordError(MALFORMED, "the final turn must be an assistant answer with a non-empty rejected answer")
    rid = str(raw.get(schema.id) or f"phantom-{ctx.position}")
    origin = rid.split("-", 1)[0] if "-" in rid else "unknown"
    return Sample(id=rid, source=ctx.source, turns=turns, images=images, chosen=turns[-1].content,
                  rejected=rejected, meta={"file": ctx.file, "position": ctx.position, "origin": origin})


def make_source(schema: PhantomSchema = PhantomSchema()) -> SourceSpec:
    """A `SourceSpec` for `Phantom.json` with the given field names."""
    return SourceSpec(name="phantom", title="Phantom triples", files=(FILE,), convert=partial(convert, schema=schema),
                      validate_head=partial(validate_head, schema=schema), rule="whole file (assumed schema)",
                      extra={"schema": repr(schema)})


SOURCE = make_source()


def read(root: Path, log: SourceLog | None = None, schema: PhantomSchema | None = None, **kwargs) -> Iterator[Sample]:
    """Phantom triples under `root` with `chosen` / `rejected` filled."""
    return (make_source(schema) if schema else SOURCE).read(root, log, **kwargs)
