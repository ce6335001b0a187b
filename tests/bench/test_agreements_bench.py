"""Smoke test of the agreements benchmark (bench/agreements_bench.py): a short run in a subprocess.

It checks the shape of the JSON report and that every measured document verified (the benchmark
refuses to report otherwise). Timings are never asserted here: speed is measured by the benchmark
itself and recorded in docs/benchmarks.md.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.agreements_bench import STEPS, render, render_markdown

ROOT = Path(__file__).resolve().parents[2]
RUNS = 2


@pytest.fixture(scope="module")
def report():
    command = [sys.executable, "-W", "error", "bench/agreements_bench.py", "--runs", str(RUNS), "--json"]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_report_shape(report):
    assert report["benchmark"] == "agreements"
    assert report["params"] == {"runs": RUNS, "lines": 12}
    assert report["document"]["pages"] == 3 and report["document"]["signatures"] == 3
    assert set(report["steps_ms"]) == set(STEPS)
    for step in [*report["steps_ms"].values(), report["total_ms"]]:
        assert step["n"] == RUNS
        assert 0 < step["p50"] <= step["p95"] <= step["max"]
    assert report["total_ms"]["max"] >= max(s["max"] for s in report["steps_ms"].values())
    assert set(report["once"]) == {"import_seconds", "ca_and_three_certificates_seconds", "warmup_run_seconds"}
    assert isinstance(report["target"]["met"], bool) and report["target"]["total_p95_ms"] == 1000
    assert len(report["machine"]["load_average_start"]) == 3 and len(report["machine"]["load_average_end"]) == 3


def test_readable_and_markdown_tables(report):
    text = render(report)
    assert "3-page memorandum" in text and "p95" in text and "target" in text
    markdown = render_markdown(report)
    assert markdown.count("\n| ") == len(STEPS) + 2  # the header and one row per step and the whole path
    assert "| **whole path** |" in markdown and "load average" in markdown
