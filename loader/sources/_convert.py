"""Turning a source's conversation fields into canonical `Turn`s (datasets spec §2 rules, shared by all readers).

Roles map ``human``/``user`` -> user and ``gpt``/``assistant`` -> assistant. A conversation must start with a user
turn, alternate, and contain an assistant turn; a trailing unanswered user turn is dropped. Image placeholders of
every family (``<image>``, DocOwl's ``<|image|>``, MathVision's ``<imageN>``) are removed and one ``<image>`` per
image is put at the start of the first user turn, as LLaVA's preprocessing does; a text-only record that still
carries a placeholder is malformed.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from loader.records import IMAGE_PLACEHOLDER, Turn
from loader.sources._log import MALFORMED

ROLE_MAP = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}
# LLaVA / ShareGPT, DocOwl, MathVision placeholders.
PLACEHOLDER_RE = re.compile(r"<image>|<\|image\|>|<image\d+>")


class RecordError(ValueError):
    """A record that must be skipped; `kind` is one of the `loader.sources._log` problem kinds."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def require(raw: Any, *keys: str) -> None:
    """Fail as malformed unless `raw` is a dict holding every key."""
    if not isinstance(raw, dict):
        raise RecordError(MALFORMED, f"record is a {type(raw).__name__}, expected an object")
    missing = [k for k in keys if k not in raw or raw[k] is None]
    if missing:
        raise RecordError(MALFORMED, f"missing field(s) {missing}; fields found: {sorted(raw)}")


def turns_from_pairs(pairs: Iterable[tuple[Any, Any]], n_images: int) -> list[Turn]:
    """Build canonical turns from (role, text) pairs and normalise the image placeholders."""
    turns: list[Turn] = []
    for idx, (role, text) in enumerate(pairs):
        if role not in ROLE_MAP:
            raise RecordError(MALFORMED, f"turn {idx} has unknown role {role!r} (expected human/gpt/user/assistant)")
        if not isinstance(text, str):
            raise RecordError(MALFORMED, f"turn {idx} text is a {type(text).__name__}, expected a string")
        turns.append(Turn(ROLE_MAP[role], text))
    if not turns:
        raise RecordError(MALFORMED, "empty conversation")
    if turns[0].role != "user":
        raise RecordError(MALFORMED, "conversation does not start with a user turn")
    for idx, (a, b) in enumerate(zip(turns, turns[1:])):
        if a.role == b.role:
            raise RecordError(MALFORMED, f"turns {idx} and {idx + 1} are both {a.role} turns (roles must alternate)")
    if turns[-1].role == "user":
        turns = turns[:-1]  # an unanswered final question teaches nothing
    if not any(t.role == "assistant" for t in turns):
        raise RecordError(MALFORMED, "no assistant turn")
    found = sum(len(PLACEHOLDER_RE.findall(t.content)) for t in turns)
    if n_images == 0 and found:
        raise RecordError(MALFORMED, f"{found} image placeholder(s) but no image")
    if n_images:
        for t in turns:
            t.content = PLACEHOLDER_RE.sub("", t.content).strip() if PLACEHOLDER_RE.search(t.content) else t.content
        turns[0].content = (IMAGE_PLACEHOLDER + "\n") * n_images + turns[0].content
    return turns


def llava_turns(conversations: Any, n_images: int, value_key: str = "value") -> list[Turn]:
    """LLaVA/ShareGPT ``[{"from": ..., "value": ...}, ...]``."""
    if not isinstance(conversations, list):
        raise RecordError(MALFORMED, f"'conversations' is a {type(conversations).__name__}, expected a list")
    pairs = []
    for idx, turn in enumerate(conversations):
        if not isinstance(turn, dict) or "from" not in turn or value_key not in turn:
            found = sorted(turn) if isinstance(turn, dict) else type(turn).__name__
            raise RecordError(MALFORMED, f"turn {idx} lacks 'from'/'{value_key}' (found {found})")
        pairs.append((turn["from"], turn[value_key]))
    return turns_from_pairs(pairs, n_images)


def docowl_turns(messages: Any, n_images: int) -> list[Turn]:
    """DocOwl ``[{"role": ..., "content": ...}, ...]``."""
    if not isinstance(messages, list):
        raise RecordError(MALFORMED, f"'messages' is a {type(messages).__name__}, expected a list")
    pairs = []
    for idx, turn in enumerate(messages):
        if not isinstance(turn, dict) or "role" not in turn or "content" not in turn:
            found = sorted(turn) if isinstance(turn, dict) else type(turn).__name__
            raise RecordError(MALFORMED, f"message {idx} lacks 'role'/'content' (found {found})")
        pairs.append((turn["role"], turn["content"]))
    return turns_from_pairs(pairs, n_images)


def image_list(value: Any) -> list[str]:
    """An ``image`` field as a list of path strings (absent/None -> [], str -> [str], list kept)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise RecordError(MALFORMED, f"'image' is a {type(value).__name__}, expected a path or a list of paths")


def strip_dot(path: str) -> str:
    """DocOwl (and Meteor-style) paths carry a leading ``./``; all paths are relative to the dataset root."""
    return path[2:] if path.startswith("./") else path
