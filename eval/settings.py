"""Generation settings: our default (greedy, bf16 on GPU / float32 on CPU, no quantization) and the authors'
evaluation setup (TroL: beam 5, fp16, NF4 4-bit for the InternLM2 sizes / LLM.int8 for 3.8B; Phantom: beam 3,
bf16, LLM.int8; model.md §6.4 and §7). Quantization and half precision need a GPU; on CPU the authors' setup
keeps their beam search and falls back to float32 without quantization, with a one-line notice."""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class GenerationSettings:
    """How predictions are generated; recorded next to the scores in results.json."""

    name: str = "default"
    dtype: str = "float32"
    num_beams: int = 1
    do_sample: bool = False
    quantization: str | None = None

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_model_config(path_or_id: str | Path) -> dict[str, Any]:
    """config.json of a local model directory ({} when it is not a directory, e.g. a hub id)."""
    config = Path(path_or_id) / "config.json"
    if config.is_file():
        return json.loads(config.read_text(encoding="utf-8"))
    return {}


def model_kind(config: dict[str, Any]) -> tuple[str, str]:
    """(method, family): method "phantom" | "trol" | "plain", family as in our configs. Reads our flat
    config and the official TroL/Phantom configs (model_type trol / phantom / internlm)."""
    family = str(config.get("family") or "")
    if not family:
        arch = " ".join((config.get("llm_config") or {}).get("architectures") or [])
        family = "phi3" if "Phi3" in arch else "qwen2" if "Qwen2" in arch else "internlm2"
    mtype = str(config.get("model_type", ""))
    if config.get("use_phantom") or mtype == "phantom":
        return "phantom", family
    if config.get("use_trol") or mtype in ("trol", "internlm"):
        return "trol", family
    return "plain", family


def default_settings(cuda: bool) -> GenerationSettings:
    """Greedy decoding in bf16 on a GPU, float32 on CPU."""
    return GenerationSettings(name="default", dtype="bfloat16" if cuda else "float32")


def authors_settings(config: dict[str, Any], cuda: bool) -> GenerationSettings:
    """The TroL/Phantom test scripts' beam search, precision and bitsandbytes quantization."""
    method, family = model_kind(config)
    if method == "phantom" or method == "plain":
        beams, dtype, quant = 3, "bfloat16", "8bit"
    else:
        beams, dtype, quant = 5, "float16", "4bit" if family == "internlm2" else "8bit"
    if not cuda:
        log.warning("authors' settings on CPU: beam search %d kept; %s and %s quantization need a GPU, using float32",
                    beams, dtype, quant)
        dtype, quant = "float32", None
    return GenerationSettings(name="authors", dtype=dtype, num_beams=beams, quantization=quant)
