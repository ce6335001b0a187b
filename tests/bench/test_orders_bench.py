"""Smoke test of the orders benchmark (bench/orders_bench.py): a one-second run on SQLite in --service mode
(place_orders in two forked processes), in a subprocess under `-W error`. It checks the report's shape, that
checkouts were placed without an error, that the capacity check ran (no oversell, CapacityUsage agreeing
with the orders, every order answered is in the database) and the tables. Timings are never asserted: speed
is measured by the benchmark itself and recorded in docs/benchmarks.md."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.orders_bench import render, render_markdown

ROOT = Path(__file__).resolve().parents[2]
USERS, WORKERS = 4, 2


@pytest.fixture(scope="module")
def report():
    completed = subprocess.run(
        [sys.executable, "-W", "error", "bench/orders_bench.py", "--sqlite", "--service", "--seconds", "1",
         "--warmup", "0.3", "--users", str(USERS), "--workers", str(WORKERS), "--products", "6", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_checkouts_were_placed_and_checked_against_the_capacity(report):
    assert report["benchmark"] == "orders"
    assert {k: report["params"][k] for k in ("mode", "database", "users", "workers", "products")} == \
        {"mode": "service", "database": "sqlite", "users": USERS, "workers": WORKERS, "products": 6}
    assert report["data"]["buyers"] == USERS and report["data"]["products"] == 6
    assert report["server"] == {"workers": WORKERS}
    results, check = report["results"], report["check"]
    assert results["checkouts"] > 0 and results["errors"] == 0, results["error_examples"]
    placed = results["placed"]
    assert placed["n"] > 0 and 0 < placed["p50"] <= placed["p95"] <= placed["max"]
    assert results["placed"]["n"] + results["refused"]["n"] == results["all"]["n"] == results["checkouts"]
    assert results["orders"] >= placed["n"] and results["orders_per_second"] == round(results["orders"] / 1, 1)
    assert check["oversells"] == 0 and check["usage_mismatches"] == 0 and check["periods"] > 0
    assert check["orders_in_database"] == results["orders_answered"] >= results["orders"]
    assert report["verdict"]["oversells"] and report["verdict"]["errors"] and not report["verdict"]["applies"]
    assert len(report["machine"]["load_average_end"]) == 3


def test_readable_and_markdown_tables(report):
    text = render(report)
    assert "placed" in text and "p95" in text and "oversells 0" in text and "--service" in text
    markdown = render_markdown(report)
    assert markdown.count("\n| ") == 4  # the header and three rows: placed, refused, all
    assert "0 oversells" in markdown and "load average" in markdown
