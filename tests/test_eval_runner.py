"""Runner pieces that need no model: the predictions files (truncated last line after a kill, merge of rank
files without duplicates, item order), the resume guard, and slicing the new tokens out of generate's output."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from eval.distributed import ProcessContext
from eval.predictions import read_predictions
from eval.registry import get_benchmark
from eval.runner import consolidate, new_tokens, run_benchmark
from eval.settings import GenerationSettings, authors_settings, default_settings
from loader.records import EvalItem


def items(n: int) -> list[EvalItem]:
    return [EvalItem(id=str(i), benchmark="x", question=f"q{i}") for i in range(n)]


def test_truncated_last_line_is_dropped_but_other_garbage_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "0", "prediction": "A"}\n{"id": "1", "predic')
    assert read_predictions(path) == {"0": "A"}
    with pytest.raises(ValueError, match="line 2"):
        read_predictions(path, strict=True)
    path.write_text('{"id": "0", "prediction": "A"}\nnot json\n{"id": "2", "prediction": "C"}\n')
    with pytest.raises(ValueError, match=r"p.jsonl: line 2"):
        read_predictions(path)


def test_consolidate_merges_rank_files_in_item_order(tmp_path: Path) -> None:
    (tmp_path / "predictions.jsonl").write_text('{"id": "3", "prediction": "d"}\n')
    (tmp_path / "predictions.rank0.jsonl").write_text('{"id": "0", "prediction": "a"}\n{"id": "2", "prediction": "c"}\n')
    (tmp_path / "predictions.rank1.jsonl").write_text('{"id": "1", "prediction": "b"}\n{"id": "3", "prediction": "x"}\n{"id"')
    merged = consolidate(tmp_path, items(5))
    assert merged == {"0": "a", "1": "b", "2": "c", "3": "d"}
    rows = [json.loads(x) for x in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["0", "1", "2", "3"]
    assert not list(tmp_path.glob("predictions.rank*.jsonl"))


def test_resume_refuses_predictions_of_another_model(tmp_path: Path) -> None:
    bench = get_benchmark("pope")
    kwargs = dict(model=None, processor=None, family="tiny", output_dir=tmp_path, ctx=ProcessContext(),
                  settings=GenerationSettings())
    run_benchmark(bench, [], signature={"model": "a"}, **kwargs)
    with pytest.raises(ValueError, match="--overwrite"):
        run_benchmark(bench, [], signature={"model": "b"}, **kwargs)
    run_benchmark(bench, [], signature={"model": "b"}, overwrite=True, **kwargs)
    assert json.loads((tmp_path / "pope" / "run.json").read_text()) == {"model": "b"}


def test_new_tokens_with_and_without_the_prompt() -> None:
    prompt = torch.tensor([[0, 5, 6], [7, 8, 9]])
    full = torch.tensor([[0, 5, 6, 1, 2], [7, 8, 9, 3, 4]])
    assert new_tokens(full, prompt).tolist() == [[1, 2], [3, 4]]
    only_new = torch.tensor([[1, 2], [3, 4]])
    assert new_tokens(only_new, prompt).tolist() == [[1, 2], [3, 4]]


def test_settings() -> None:
    assert default_settings(cuda=False).dtype == "float32" and default_settings(cuda=True).dtype == "bfloat16"
    assert default_settings(cuda=False).num_beams == 1
    phantom = authors_settings({"use_phantom": True, "family": "qwen2"}, cuda=True)
    assert (phantom.num_beams, phantom.dtype, phantom.quantization) == (3, "bfloat16", "8bit")
    trol = authors_settings({"use_trol": True, "family": "internlm2"}, cuda=True)
    assert (trol.num_beams, trol.dtype, trol.quantization) == (5, "float16", "4bit")
    trol_phi = authors_settings({"model_type": "trol", "llm_config": {"architectures": ["Phi3ForCausalLM"]}}, cuda=True)
    assert trol_phi.quantization == "8bit"
    cpu = authors_settings({"use_trol": True, "family": "internlm2"}, cuda=False)
    assert (cpu.num_beams, cpu.dtype, cpu.quantization) == (5, "float32", None)
