"""What every benchmark script shares: percentiles and latency statistics, the machine and the commit
measured, a free port, and the command-line ending (run, then print JSON, Markdown or a readable table)."""
import json
import math
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list (None when it is empty)."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def stats(nanoseconds, digits=3):
    """n, p50, p95, max and mean in milliseconds of durations in nanoseconds (None values when there are none)."""
    values = sorted(ns / 1e6 for ns in nanoseconds)
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None, "mean": None}
    return {"n": len(values), "p50": round(percentile(values, 50), digits),
            "p95": round(percentile(values, 95), digits), "max": round(values[-1], digits),
            "mean": round(sum(values) / len(values), digits)}


def load_average():
    return [round(x, 2) for x in os.getloadavg()]


def machine():
    """The machine now (the caller adds `load_average_end` when the run is over)."""
    return {"cpus": os.cpu_count(), "load_average_start": load_average(),
            "python": platform.python_version(), "platform": platform.platform()}


def revision(paths, flag):
    """{"commit": short hash, flag: whether files under `paths` differ from it}, or None outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=ROOT,
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, flag: bool(changed)}


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(message):
    """Progress goes to stderr: stdout carries only the report."""
    print(message, file=sys.stderr, flush=True)


def main(argv, parse_args, benchmark, render, render_markdown, unavailable=(), name="bench"):
    """Parse the arguments, run `benchmark(args, log)` and print its report as --json, --markdown or a table.

    An exception of the `unavailable` classes (a peer or a service missing) is one line on stderr and
    exit status 2; anything else raises."""
    args = parse_args(argv)
    try:
        report = benchmark(args, log)
    except unavailable as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    elif args.markdown:
        print(render_markdown(report))
    else:
        print(render(report))
    return 0


def password_settings():
    """Argon2id at its smallest cost when BENCH_CHEAP_PASSWORDS=1 (`bench/load.py --cheap-passwords`, the smoke
    test's setting: on a loaded machine one production hash, ~0.3 s of both cores, can outlast a one-second
    phase and leave the login phase without an answer to measure); otherwise the production parameters."""
    if os.environ.get("BENCH_CHEAP_PASSWORDS") != "1":
        return {}
    return {"PASSWORD_HASH_TIME_COST": 1, "PASSWORD_HASH_MEMORY_COST": 1024, "PASSWORD_HASH_PARALLELISM": 1}


def verified_organisation(kind, number, name, **fields):
    """A verified organisation of a benchmark's data, added to the session (its tax code passes the checksum)."""
    from bench import load
    from marketplace.accounts.models import Organisation, OrganisationStatus, Sector
    from marketplace.extensions import db

    organisation = Organisation(kind=kind, legal_name=name, tax_code=load.tax_code(number), province_code=20,
                                commune_code=6040, phone="0205381234", email=f"org{number}@bench.example",
                                representative="Nguyễn Văn A", sector=Sector.AGRICULTURE,
                                status=OrganisationStatus.VERIFIED, **fields)
    db.session.add(organisation)
    return organisation
