"""`--set key=value` overrides on (nested) dataclass configs.

Dotted keys reach nested dataclasses (`lora.r=8`) and dict fields (`model.use_trol=false` lands in
`TrainConfig.model["use_trol"]`). Values are parsed as JSON when they can be (numbers, true/false/null, lists),
else kept as strings, then coerced to the type of the field's current value.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any


def parse_value(text: str) -> Any:
    """'1e-3' -> 0.001, 'false' -> False, 'null'/'none' -> None, '[1,2]' -> [1, 2], 'a,b' -> stays 'a,b'."""
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false", "yes", "no", "on", "off"):
        return low in ("true", "yes", "on")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _coerce(value: Any, current: Any, key: str, raw: str | None = None) -> Any:
    if isinstance(current, str) and raw is not None:
        return raw
    if current is None or value is None:
        return value
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        raise ValueError(f"--set {key}: expected true/false, got {value!r}")
    if isinstance(current, int) and not isinstance(value, bool):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        raise ValueError(f"--set {key}: expected an integer, got {value!r}")
    if isinstance(current, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(current, (list, tuple)):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not isinstance(value, list):
            value = [value]
        return type(current)(value)
    if isinstance(current, str) and not isinstance(value, str):
        return str(value)
    return value


def set_path(obj: Any, dotted: str, value: Any, full_key: str | None = None, raw: str | None = None) -> None:
    """Set `obj.<dotted>` (dataclass attributes and dict keys), coercing to the current value's type.
    `raw` is the unparsed text (a string field takes it verbatim, so `tracker=none` stays "none")."""
    full_key = full_key or dotted
    head, _, rest = dotted.partition(".")
    if isinstance(obj, dict):
        if rest:
            if head in obj and (dataclasses.is_dataclass(obj[head]) or isinstance(obj[head], dict)):
                set_path(obj[head], rest, value, full_key, raw)
            else:
                obj[dotted] = value  # dict of pending overrides: keep the dotted key for the target config
            return
        obj[head] = _coerce(value, obj.get(head), full_key, raw)
        return
    if not dataclasses.is_dataclass(obj):
        raise KeyError(f"--set {full_key}: {type(obj).__name__} is neither a dataclass nor a dict")
    names = {f.name for f in dataclasses.fields(obj)}
    if head not in names:
        raise KeyError(f"--set {full_key}: {type(obj).__name__} has no field {head!r}; fields: {sorted(names)}")
    if rest:
        set_path(getattr(obj, head), rest, value, full_key, raw)
    else:
        setattr(obj, head, _coerce(value, getattr(obj, head), full_key, raw))


def apply_overrides(cfg: Any, items: list[str]) -> Any:
    """Apply `key=value` strings to `cfg` in place and re-run its validation; returns `cfg`."""
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: expected key=value, e.g. --set lr=1e-3")
        key, raw = item.split("=", 1)
        set_path(cfg, key.strip(), parse_value(raw), raw=raw)
    post = getattr(cfg, "__post_init__", None)
    if post is not None:
        post()
    return cfg


def apply_mapping(obj: Any, mapping: dict[str, Any]) -> Any:
    """Apply already-parsed overrides (e.g. `TrainConfig.model`) onto a config object in place."""
    for key, value in mapping.items():
        set_path(obj, key, value, f"model.{key}")
    post = getattr(obj, "__post_init__", None)
    if post is not None:
        post()
    return obj
