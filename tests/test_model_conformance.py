"""The shared conformance tool passes on every official fixture (authors' outputs, float32, CPU)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, SHARED

OFFICIAL = SHARED / "fixtures" / "official"
FIXTURES = sorted(p for p in OFFICIAL.glob("*") if (p / "inputs.safetensors").exists()) if OFFICIAL.is_dir() else []


@pytest.mark.skipif(not FIXTURES, reason="../shared/fixtures/official not found")
def test_conformance_tool_passes_every_fixture():
    tool = SHARED / "tools" / "conformance.py"
    proc = subprocess.run([sys.executable, str(tool), *map(str, FIXTURES)], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert f"conformance: {len(FIXTURES)} passed, 0 failed" in proc.stdout


def test_all_five_fixtures_present():
    names = {p.name for p in FIXTURES}
    assert {"trol-internlm2", "trol-phi3", "phantom-internlm2", "phantom-phi3", "phantom-qwen2"} <= names
