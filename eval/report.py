"""Results: the JSON written after a run and the table printed at its end."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence


def headline_values(metrics: Mapping[str, Any], path: Sequence[str], limit: int = 6) -> dict[str, float]:
    """The headline number at `path`; when there is none (empty path, or a block without it such as the
    authors' numbers), the first `limit` numeric leaves, keyed by dotted paths."""
    node: Any = metrics
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    if path and isinstance(node, (int, float)) and not isinstance(node, bool):
        return {".".join(path): node}
    found: dict[str, float] = {}

    def walk(value: Any, prefix: str) -> None:
        if len(found) >= limit:
            return
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found[prefix] = value

    walk(metrics, "")
    return found


def format_table(rows: Sequence[tuple[str, str, float, int]]) -> str:
    """rows: (benchmark, metric, value, items) -> an aligned text table."""
    header = ("benchmark", "metric", "value", "items")
    cells = [header] + [(b, m, f"{v:.4f}" if isinstance(v, float) else str(v), str(n)) for b, m, v, n in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temporary file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
