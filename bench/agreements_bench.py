#!/usr/bin/env python
"""Agreements benchmark (issue 9): render a memorandum, sign it three times, verify it.

    .venv/bin/python bench/agreements_bench.py [--runs 20] [--lines 12] [--json | --markdown]

One run is the whole path of a memorandum: render the PDF (3 pages with the default 12 product lines),
load the three parties' credentials (a database lookup and a key decryption each), sign as the seller
(certifying), the buyer and the witness, and verify the result as the public page would
(signing.verify: pyHanko in a child of the fork server, with the CRL). Each step is timed with
time.perf_counter_ns(); the report gives p50/p95/max/mean per step and for the whole path, and
checks the target: the whole path under 1 s at p95.

Before the measured runs: the import of pdf.py and signing.py (what a web worker pays once), the
creation of the CA and the three certificates, and one warm-up run (it starts the fork server). The
database is a temporary SQLite file, SIGNING_DIR a temporary folder; nothing is kept.

Run it from the repository root. See docs/benchmarks.md for results.
"""
import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

# Kept light: the verification's child processes import this script again (as __mp_main__), so pdf.py
# and signing.py are imported inside functions.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import stats  # noqa: E402

STEPS = ("render", "credentials", "sign_seller", "sign_buyer", "sign_witness", "verify")
TARGET_TOTAL_MS = 1000.0
PRODUCTS = ("Mật ong rừng Bắc Sơn", "Thạch đen Tràng Định", "Hồi khô loại 1", "Na dai Chi Lăng",
            "Chè Shan tuyết Mẫu Sơn", "Quế Văn Yên", "Gạo nếp cái hoa vàng", "Măng khô Bình Gia")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="measured runs (default 20)")
    parser.add_argument("--lines", type=int, default=12, help="product lines of the memorandum (default 12: 3 pages)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one machine-readable JSON document")
    output.add_argument("--markdown", action="store_true", help="print Markdown tables (for docs/benchmarks.md)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.lines < 1:
        parser.error("--runs and --lines must be at least 1")
    return args


def party(name, tax_code, representative):
    return {"legal_name": name, "tax_code": tax_code, "address": "Thôn Bản Chu, xã Tràng Định, tỉnh Lạng Sơn",
            "representative": representative, "phone": "0205 381 2345", "email": "lienhe@htx.example"}


def content(lines, organisations):
    """A memorandum with `lines` product lines, one per period and price basis in turn."""
    seller, buyer, witness = organisations
    periods, bases = ("week", "month", "season", "year", "total"), ("fixed", "tier", "reference")
    return {
        "reference": "MOU-2026-000123", "kind": "mou", "parent_reference": None,
        "event": {"name": "Hội nghị kết nối cung cầu nông sản Lạng Sơn 2026", "date": "2026-12-05",
                  "place": "Nhà văn hóa tỉnh, TP Lạng Sơn"},
        "seller": party(seller.legal_name, seller.tax_code, "Hoàng Văn Minh"),
        "buyer": party(buyer.legal_name, buyer.tax_code, "Nguyễn Thị Lan"),
        "witness": party(witness.legal_name, witness.tax_code, "Trần Văn Đức"),
        "lines": [{"product_id": 100 + n, "name": f"{PRODUCTS[n % len(PRODUCTS)]} (lô {n + 1})",
                   "unit_label": ("kg", "tấn", "hộp")[n % 3], "quantity": 100 * (n + 1), "period": periods[n % 5],
                   "price_basis": bases[n % 3], "unit_price_vnd": None if n % 3 == 2 else 85000 + 1000 * n,
                   "reference_price_vnd": 250000 if n % 3 == 2 else None,
                   "adjustment_percent": 5 if n % 3 == 2 else None} for n in range(lines)],
        "start_date": "2026-12-15", "end_date": "2027-12-14",
        "delivery": {"place": "Kho bên mua tại phường Long Biên, Hà Nội", "frequency": "Hai lần mỗi tuần",
                     "lead_time_days": 3},
        "quality": {"standards": "TCVN 12605:2019; không dư lượng kháng sinh",
                    "certifications": ["OCOP 4 sao", "VietGAP"],
                    "sampling": "Bên mua lấy mẫu ngẫu nhiên mỗi lô; phòng thí nghiệm độc lập kiểm nghiệm."},
        "payment_terms": "Chuyển khoản trong vòng 15 ngày kể từ ngày nhận hàng và hóa đơn hợp lệ.",
        "responsibilities": {"buyer": "Đặt hàng trước 3 ngày; thanh toán đúng hạn.",
                             "seller": "Giao đủ số lượng, đúng chất lượng; báo sớm khi mất mùa."},
        "clauses": ["Thỏa thuận ghi nhớ này là cơ sở để các bên ký hợp đồng mua bán cụ thể.",
                    "Liên minh Hợp tác xã tỉnh làm chứng và hỗ trợ hòa giải khi có bất đồng."],
        "revision_number": 1, "content_sha256": "5d" * 32,
    }


def one_run(pdf, signing, document, organisations, verify_url):
    """(nanoseconds per step, the verification) for the whole path once."""
    from marketplace.unit_of_work import unit_of_work

    times = {}
    clock = time.perf_counter_ns
    started = clock()
    data = pdf.render_agreement(document, verify_url=verify_url)
    times["render"] = clock() - started

    started = clock()
    with unit_of_work():
        seller, buyer, witness = (signing.credentials_for(org) for org in organisations)
    times["credentials"] = clock() - started

    for step, credentials, certify, name in (("sign_seller", seller, True, "Hoàng Văn Minh"),
                                             ("sign_buyer", buyer, False, "Nguyễn Thị Lan"),
                                             ("sign_witness", witness, False, "Trần Văn Đức")):
        started = clock()
        data = signing.sign(data, credentials, certify=certify, field_name=step.removeprefix("sign_"),
                            signer_name=name, reason="Ký thỏa thuận ghi nhớ", location="Lạng Sơn")
        times[step] = clock() - started

    started = clock()
    result = signing.verify(data)
    times["verify"] = clock() - started
    return times, result, data


def benchmark(args, log):
    load_start = common.load_average()
    started = time.perf_counter()
    from marketplace.agreements import pdf, signing  # noqa: E402 - measured: what a web worker pays once
    import_seconds = time.perf_counter() - started

    from marketplace import create_app
    from marketplace.accounts.models import Organisation, OrganisationKind, OrganisationStatus
    from marketplace.extensions import db
    from marketplace.unit_of_work import unit_of_work

    with tempfile.TemporaryDirectory(prefix="agreements-bench-") as folder:
        folder = Path(folder)
        app = create_app({
            "TESTING": True, "SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite3'}", "UPLOAD_DIR": str(folder / "uploads"),
            "SEARCH_INDEX_DIR": str(folder / "search_index"), "SIGNING_DIR": str(folder / "signing"),
            "SIGNING_KEY_PASSPHRASE": "bench-signing-passphrase-0123456789-abcdefghij", "MAIL_BACKEND": "locmem",
        })
        with app.app_context():
            db.create_all()
            organisations = [
                Organisation(kind=OrganisationKind.COOPERATIVE, legal_name="Hợp tác xã Nông sản sạch Tràng Định",
                             tax_code="4900123456", status=OrganisationStatus.VERIFIED),
                Organisation(kind=OrganisationKind.ENTERPRISE, legal_name="Công ty Cổ phần Thực phẩm Sạch Hà Nội",
                             tax_code="0101234567", status=OrganisationStatus.VERIFIED),
                Organisation(kind=OrganisationKind.ALLIANCE, legal_name="Liên minh Hợp tác xã tỉnh Lạng Sơn",
                             tax_code="4900000001", status=OrganisationStatus.VERIFIED),
            ]
            db.session.add_all(organisations)
            db.session.commit()
            started = time.perf_counter()
            with unit_of_work():
                for organisation in organisations:
                    signing.credentials_for(organisation)
            issue_seconds = time.perf_counter() - started

            document = content(args.lines, organisations)
            verify_url = app.config["PUBLIC_BASE_URL"] + "/agreements/verify/MOU-2026-000123"
            log("warm-up run (starts the verification's fork server)")
            started = time.perf_counter()
            _, warm, data = one_run(pdf, signing, document, organisations, verify_url)
            warmup_seconds = time.perf_counter() - started
            if not warm.ok:
                raise RuntimeError(f"the warm-up document did not verify: {warm}")
            measured = {step: [] for step in STEPS}
            totals = []
            for number in range(args.runs):
                times, result, data = one_run(pdf, signing, document, organisations, verify_url)
                if not result.ok or len(result.signatures) != 3:
                    raise RuntimeError(f"run {number + 1} did not verify: {result}")
                for step in STEPS:
                    measured[step].append(times[step])
                totals.append(sum(times.values()))
                log(f"run {number + 1}/{args.runs}: {sum(times.values()) / 1e6:.0f} ms")
            # Counted in the unsigned file: each signature's update writes the first page again.
            pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf.render_agreement(document, verify_url=verify_url)))
            db.drop_all()
            db.engine.dispose()

    total = stats(totals, digits=2)
    return {
        "benchmark": "agreements",
        "version": 1,
        "params": {"runs": args.runs, "lines": args.lines},
        "machine": {**common.machine(), "load_average_start": load_start, "load_average_end": common.load_average()},
        "revision": common.revision(["marketplace/agreements"], "agreements_modified"),
        "document": {"pages": pages, "bytes": len(data), "signatures": 3},
        "once": {"import_seconds": round(import_seconds, 3),
                 "ca_and_three_certificates_seconds": round(issue_seconds, 3),
                 "warmup_run_seconds": round(warmup_seconds, 3)},
        "steps_ms": {step: stats(measured[step], digits=2) for step in STEPS},
        "total_ms": total,
        "target": {"total_p95_ms": TARGET_TOTAL_MS, "met": total["p95"] < TARGET_TOTAL_MS},
    }


def render(report):
    """The readable table printed without --json or --markdown."""
    p, m, d, once = report["params"], report["machine"], report["document"], report["once"]
    lines = [
        f"Agreements benchmark: {p['runs']} runs of a {d['pages']}-page memorandum ({p['lines']} lines, "
        f"{d['bytes']:,} bytes signed), three signatures, one verification",
        f"Machine: {m['cpus']} CPUs, load average {m['load_average_start']} at start, {m['load_average_end']} at end;"
        f" Python {m['python']}",
        f"Once: import {once['import_seconds']:.2f} s, CA and three certificates"
        f" {once['ca_and_three_certificates_seconds']:.2f} s, warm-up run {once['warmup_run_seconds']:.2f} s",
        "",
        f"{'step':<14} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'mean ms':>8}",
    ]
    for step, s in [*report["steps_ms"].items(), ("total", report["total_ms"])]:
        lines.append(f"{step:<14} {s['p50']:>8.1f} {s['p95']:>8.1f} {s['max']:>8.1f} {s['mean']:>8.1f}")
    t = report["target"]
    lines.append(f"target: whole path p95 < {t['total_p95_ms']:.0f} ms: {'met' if t['met'] else 'MISSED'}")
    return "\n".join(lines)


def render_markdown(report):
    """The results as a Markdown table, for docs/benchmarks.md."""
    p, m, d, once = report["params"], report["machine"], report["document"], report["once"]
    revision_ = report["revision"] or {}
    lines = [
        f"{p['runs']} runs of a {d['pages']}-page memorandum ({p['lines']} product lines, {d['bytes']:,} bytes once"
        f" signed); load average {m['load_average_start'][0]} at start, {m['load_average_end'][0]} at end"
        f" ({m['cpus']} CPUs); commit {revision_.get('commit', '?')}"
        f"{' (agreements modified)' if revision_.get('agreements_modified') else ''}.",
        "",
        "| step | p50 ms | p95 ms | max ms | mean ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for step, s in [*report["steps_ms"].items(), ("**whole path**", report["total_ms"])]:
        lines.append(f"| {step} | {s['p50']:.1f} | {s['p95']:.1f} | {s['max']:.1f} | {s['mean']:.1f} |")
    t = report["target"]
    lines += ["", f"Target: whole path p95 < {t['total_p95_ms']:.0f} ms: {'met' if t['met'] else '**missed**'}."
                  f" Once per process: importing pdf.py and signing.py {once['import_seconds']:.2f} s; creating the CA"
                  f" and three certificates {once['ca_and_three_certificates_seconds']:.2f} s; the first run"
                  f" {once['warmup_run_seconds']:.2f} s (it starts the verification's fork server)."]
    return "\n".join(lines)


def main(argv=None):
    return common.main(argv, parse_args, benchmark, render, render_markdown)


if __name__ == "__main__":
    sys.exit(main())
