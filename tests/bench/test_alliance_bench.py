"""Smoke test of the alliance follow-up benchmark (bench/alliance_bench.py): a small run on SQLite in a
subprocess. It checks the report's shape, that every operation was measured, and that the needs-attention
count agrees with the statuses and reasons the run found. Timings are never asserted here (docs/benchmarks.md)."""
import json
import subprocess
import sys
from pathlib import Path

from bench.alliance_bench import MEASURED, render, render_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_run_reports_every_operation():
    completed = subprocess.run(
        [sys.executable, "-W", "error", "bench/alliance_bench.py", "--sqlite", "--mous", "60", "--orders", "600",
         "--repeat", "2", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["benchmark"] == "alliance" and report["params"]["database"] == "sqlite"
    assert report["data"]["mous"] == 60 and report["data"]["orders"] == 600
    for name in MEASURED:
        result = report["results"][name]
        assert result["timings"]["n"] == 2 and result["sql"] > 0
    assert report["results"]["progress_all"]["sql"] <= 5  # aggregates in SQL: a few queries, not one per MoU
    statuses, reasons = report["list"]["statuses"], report["list"]["reasons"]
    assert sum(statuses.values()) == report["data"]["signed_mous"]
    assert reasons.get("stalled", 0) == statuses.get("stalled", 0)
    assert reasons.get("behind", 0) == statuses.get("behind", 0)
    assert report["list"]["needing_attention"] <= sum(reasons.values())
    assert report["verdict"]["applies"] is False
    assert "needs_attention" in render(report) and "| operation |" in render_markdown(report)
