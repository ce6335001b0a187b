"""Smoke test of bench/checkout_profile.py: a few checkouts on SQLite through the WSGI callable, in a subprocess
under `-W error`. It checks the report's shape, that checkouts were answered 201 or 409 only, and that statements
and calls were counted. Timings are never asserted."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_few_checkouts_are_measured():
    completed = subprocess.run(
        [sys.executable, "-W", "error", "bench/checkout_profile.py", "--sqlite", "--requests", "12", "--rounds", "2",
         "--warmup", "3", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["checkouts"] == 12 and len(report["cpu_ms_rounds"]) == 2
    assert set(report["statuses"]) <= {"201", "409"} and report["statuses"].get("201")
    assert report["cpu_ms"] > 0 and report["sql_median"] > 0 and report["python_calls"] > 0
    assert report["postgres_ms"] == 0  # SQLite: no server process
