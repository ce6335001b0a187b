"""Smoke test of the upload benchmark (bench/uploads_bench.py): a --quick run of a few cases in a
subprocess, each case in its own process. It checks the report's shape and that the probe's files are
refused having done almost nothing; timings are never asserted (docs/benchmarks.md records them).
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import hostile_files
from bench.uploads_bench import QUICK, cases, render, render_markdown
from marketplace.catalog.spreadsheet import Limits
from marketplace.config import defaults

ROOT = Path(__file__).resolve().parents[2]
CASES = ["xlsx-probe", "xlsx-widest", "csv-valid-rows", "photos-probe", "photo-png-max"]


@pytest.fixture(scope="module")
def report():
    arguments = [sys.executable, "-W", "error", "bench/uploads_bench.py", "--quick", "--json"]
    for name in CASES:
        arguments += ["--case", name]
    completed = subprocess.run(arguments, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_report_shape(report):
    assert report["benchmark"] == "uploads" and report["quick"] is True
    assert [case["case"] for case in report["cases"]] == CASES
    for case in report["cases"]:
        assert case["cpu_s"] >= 0 and case["wall_s"] >= 0 and case["peak_above_start_mb"] >= 0
        assert case["bytes"] > 0 and case["outcome"].startswith(("refused: ", "previewed: ", "stored: "))
    assert report["limits"]["IMPORT_MAX_CELLS"] == 3000
    assert len(report["machine"]["load_average_start"]) == 3


def test_the_probes_files_are_refused_having_done_almost_nothing(report):
    by_name = {case["case"]: case for case in report["cases"]}
    workbook = by_name["xlsx-probe"]
    assert workbook["outcome"].startswith("refused: The workbook is larger than")
    assert workbook["counters"]["cells"] == 0
    photos = by_name["photos-probe"]
    assert photos["outcome"].startswith("refused: a.png: The image is too large")
    assert photos["counters"]["image_decodes"] == 0


def test_the_worst_files_within_the_limits_are_accepted(report):
    by_name = {case["case"]: case for case in report["cases"]}
    assert by_name["xlsx-widest"]["outcome"].startswith("previewed: ")
    assert by_name["xlsx-widest"]["counters"]["cells"] > 2900
    assert by_name["csv-valid-rows"]["outcome"] == "previewed: 50 rows, 0 errors"
    assert by_name["photo-png-max"]["outcome"] == "stored: 1 photos"
    assert by_name["photo-png-max"]["counters"]["image_decodes"] == 1


def test_tables(report):
    markdown = render_markdown(report)
    assert markdown.count("\n| `") == len(CASES) and "load average" in markdown
    assert all(name in render(report) for name in CASES)


def test_every_case_builds_within_the_quick_limits():
    config = {**defaults("/tmp"), **QUICK}
    table = cases(config, quick=True)
    assert set(CASES) <= set(table)
    limits = Limits.from_config(config, "IMPORT_WEB_MAX_ROWS")
    assert len(hostile_files.widest_csv(limits)) <= 5 * 1024 * 1024
    assert all(len(line) <= limits.max_line_chars for line in hostile_files.widest_csv(limits).split(b"\r\n"))
