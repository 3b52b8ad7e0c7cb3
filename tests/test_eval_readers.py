"""Benchmark readers: each reads only its own files, and a missing file names the path and the layout."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from eval.registry import get_benchmark
from loader.benchmarks.common import BenchmarkLayoutError
from tests.conftest import FIXTURES

# benchmark -> its top-level folders under the data root (fixture folder = benchmark name)
OWN = {
    "sqa-img": ["ScienceQA"], "ai2d": ["ai2d"], "chartqa": ["chartqa"], "seed-img": ["SEED-Bench"],
    "seed-bench-2-plus": ["SEED-Bench-2-plus"], "pope": ["POPE", "coco2014"], "hallusionbench": ["HallusionBench"],
    "mme": ["MME_Benchmark_release_version"], "mmbench-dev-en": ["MMBench"], "mmbench-dev-cn": ["MMBench"],
    "mmstar": ["MMStar"], "blink": ["BLINK"], "cv-bench": ["CV-Bench"], "q-bench": ["LLVisionQA-QBench"],
}
COUNTS = {"sqa-img": 14, "ai2d": 12, "chartqa": 18, "seed-img": 18, "seed-bench-2-plus": 12, "pope": 24,
          "hallusionbench": 19, "mme": 40, "mmbench-dev-en": 19, "mmbench-dev-cn": 17, "mmstar": 24, "blink": 28,
          "cv-bench": 20, "q-bench": 12}

_OPENED: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if _OPENED is not None and event == "open" and isinstance(args[0], (str, bytes, Path)):
        _OPENED.append(str(args[0]))


sys.addaudithook(_audit)


@pytest.fixture(scope="module")
def union_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data root holding every closed fixture's benchmark folders (MMBench EN + CN merged)."""
    root = tmp_path_factory.mktemp("all_benchmarks")
    for name in OWN:
        for child in (FIXTURES / "eval" / name / "data").iterdir():
            target = root / child.name
            if child.name == "MMBench":
                target.mkdir(exist_ok=True)
                for f in child.iterdir():
                    (target / f.name).symlink_to(f.resolve())
            elif not target.exists():
                target.symlink_to(child.resolve())
    return root


@pytest.mark.parametrize("name", sorted(OWN))
def test_reader_opens_only_its_own_files(name: str, union_root: Path) -> None:
    global _OPENED
    _OPENED = []
    try:
        items = get_benchmark(name).read(union_root)
    finally:
        opened, _OPENED = _OPENED, None
    assert len(items) == COUNTS[name]
    assert len({it.id for it in items}) == len(items), "ids must be unique"
    inside = [p for p in opened if p.startswith(str(union_root))]
    assert inside, "the reader opened none of its files"
    own = tuple(str(union_root / d) for d in OWN[name])
    assert all(p.startswith(own) for p in inside), [p for p in inside if not p.startswith(own)]


@pytest.mark.parametrize("name", sorted(OWN))
def test_missing_files_name_the_path_and_the_layout(name: str, tmp_path: Path) -> None:
    bench = get_benchmark(name)
    with pytest.raises(BenchmarkLayoutError) as info:
        bench.read(tmp_path)
    message = str(info.value)
    assert str(tmp_path / OWN[name][0]) in message
    assert bench.layout.splitlines()[0].strip() in message
    assert "Fix:" in message


def test_missing_image_is_reported_with_the_layout(tmp_path: Path) -> None:
    from eval.distributed import ProcessContext
    from eval.runner import run_benchmark
    from eval.settings import GenerationSettings

    root = tmp_path / "data"
    (root / "POPE").mkdir(parents=True)
    for split in ("random", "popular", "adversarial"):
        (root / "POPE" / f"coco_pope_{split}.json").write_text(
            '{"question_id": 1, "image": "missing.jpg", "text": "Is there a dog?", "label": "yes"}\n')
    bench = get_benchmark("pope")
    with pytest.raises(BenchmarkLayoutError, match="coco2014/val2014/missing.jpg") as info:
        run_benchmark(bench, bench.read(root), model=None, processor=None, family="tiny", output_dir=tmp_path / "o",
                      ctx=ProcessContext(), settings=GenerationSettings(), data_root=root)
    assert "coco2014/val2014/<image>" in str(info.value)


def test_mme_reader_joins_ground_truth_with_two_space_questions() -> None:
    items = get_benchmark("mme").read(FIXTURES / "eval" / "mme" / "data")
    landmark = [it for it in items if it.meta["category"] == "landmark"]
    assert [it.answer for it in landmark] == ["Yes", "No"]
    assert "  Please answer yes or no." in landmark[1].meta["gt_question"]


def test_embedded_images_decode(tmp_path: Path) -> None:
    from PIL import Image
    import io

    for name in ("mmstar", "cv-bench", "blink", "mmbench-dev-en"):
        item = get_benchmark(name).read(FIXTURES / "eval" / name / "data")[0]
        assert isinstance(item.images[0], bytes)
        assert Image.open(io.BytesIO(item.images[0])).size[0] > 0


def test_eval_run_fails_on_missing_files_before_loading_a_model(tmp_path: Path) -> None:
    from eval.cli import main

    with pytest.raises(BenchmarkLayoutError, match="coco_pope_random.json"):
        main(["--model", str(tmp_path / "no-model"), "--benchmark", "pope", "--data-root", str(tmp_path)])
