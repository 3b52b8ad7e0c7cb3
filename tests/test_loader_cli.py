"""`python -m loader report` and `python -m loader synthetic` as a user runs them."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import FIXTURES, ROOT


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loader", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_report_prints_table_and_writes_skip_log(tmp_path):
    log = tmp_path / "skipped.log"
    out = run("report", "--root", str(FIXTURES / "curriculum" / "bad"), "--mixture", "phantom-2.8m",
              "--cache-dir", str(tmp_path / "cache"), "--log-file", str(log))
    assert out.returncode == 0, out.stderr
    rows = {line[:42].strip(): line[42:].split() for line in out.stdout.splitlines()}
    assert rows["ShareGPT4V-Instruction"][:5] == ["10", "8", "2", "1", "664703"]
    assert rows["ALLaVA4V-VFLAN"][:5] == ["12", "3", "0", "0", "405617"]
    assert rows["total"] == ["63", "2852771"]
    assert len(log.read_text().splitlines()) == 10
    # Second run: from the cached index, same table and the same log.
    again = run("report", "--root", str(FIXTURES / "curriculum" / "bad"), "--mixture", "phantom-2.8m",
                "--cache-dir", str(tmp_path / "cache"), "--log-file", str(log))
    assert again.stdout == out.stdout and len(log.read_text().splitlines()) == 10


def test_synthetic_command(tmp_path):
    out = run("synthetic", "--out", str(tmp_path / "syn"), "--seed", "0", "--n-train", "8", "--n-eval", "4")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "syn" / "eval" / "POPE" / "coco_pope_random.json").is_file()
    assert (tmp_path / "syn" / "eval" / "MMBench" / "mmbench_dev_20230712.tsv").is_file()
    assert "8 records" in out.stdout
