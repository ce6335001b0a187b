#!/usr/bin/env python
"""Upload benchmark (issue 12): the worst file of each kind that the limits let through, and the probe's.

    .venv/bin/python bench/uploads_bench.py [--json | --markdown] [--quick] [--case NAME ...]
                                            [--with-reference]

Each case runs in a fresh Python process, so that its peak memory is its own: the process builds
the app on a throwaway SQLite database, reads its input file (made beforehand by the parent, with
bench/hostile_files.py, from the app's default limits), notes its resident memory, then runs the
measured work exactly as a request would: `importing.preview_upload` for spreadsheets (read, every
row tried, the preview stored), `services.add_photos` / `add_certificate` for images. It reports the
CPU time of the work (time.process_time), the wall time, and the peak resident memory above what the
process held before the work (VmHWM, reset just before it), with the outcome and the reader's
counters.

--quick uses small limits and files (for tests/test_bench.py); --with-reference also reads the
probe's workbook the way the import did before issue 12 (openpyxl, read-only: about 20 s and 1 GB).
Run it from the repository root; results are in docs/benchmarks.md.
"""
import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

QUICK = {  # small limits, so that a smoke test builds and reads small files
    "IMPORT_MAX_CELLS": 3000, "IMPORT_MAX_SHARED_STRINGS": 3000, "IMPORT_MAX_UNPACKED_BYTES": 512 * 1024,
    "IMPORT_WEB_MAX_ROWS": 50, "IMPORT_WEB_MAX_ROWS_ALLIANCE": 60, "IMAGE_MAX_PIXELS": 1_000_000, "IMAGE_MAX_PIXELS_PER_REQUEST": 1_000_000,
}
REQUEST_BYTES = 5 * 1024 * 1024 - 64 * 1024  # MAX_CONTENT_LENGTH, less the multipart envelope


# ---------------------------------------------------------------- the cases

def _limits(config):
    """A cooperative's limits on the page (spreadsheets), and the images' limits."""
    from marketplace.catalog import images
    from marketplace.catalog.spreadsheet import Limits

    return Limits.from_config(config, "IMPORT_WEB_MAX_ROWS"), images.Limits.from_config(config)


def cases(config, quick):
    """{name: (kind, what it is, builder → [(bytes, file name)])}; builders use the limits of `config`."""
    from bench import hostile_files as h

    sheet, image = _limits(config)
    registry_rows = config["IMPORT_WEB_MAX_ROWS_ALLIANCE"]
    side = h.square_side(image.max_pixels)
    webp_side = h.square_side(image.max_pixels // 2)
    half = h.square_side(image.max_pixels_per_request // 2)
    probe_cells = 50_000 if quick else 1_184_210
    photo_side = 1100 if quick else h.PROBE_PHOTO_SIDE
    noisy_budget = REQUEST_BYTES // (8 if not quick else 40)
    return {
        "xlsx-probe": ("spreadsheet", f"issue 12's workbook: one row of {probe_cells:,} inline cells",
                       lambda: [(h.probe_xlsx(probe_cells), "probe.xlsx")]),
        "xlsx-empty-cells": ("spreadsheet", "one row of empty cells filling the unpacked size",
                             lambda: [(h.probe_xlsx(sheet.max_unpacked_bytes // 4 - 1000, b""), "empty.xlsx")]),
        "xlsx-widest": ("spreadsheet", "max cells, 60 a row, rich text, filling the unpacked size",
                        lambda: [(h.widest_xlsx(sheet), "widest.xlsx")]),
        "xlsx-shared-strings": ("spreadsheet", "max shared strings (half the unpacked size) and max cells",
                                lambda: [(h.shared_strings_xlsx(sheet), "shared.xlsx")]),
        "csv-widest": ("spreadsheet", "max cells, 60 a row, filling 5 MB",
                       lambda: [(h.widest_csv(sheet, REQUEST_BYTES), "widest.csv")]),
        "csv-valid-rows": ("spreadsheet", f"{sheet.max_rows:,} valid products (every row tried by the services)",
                           lambda: [(h.valid_csv(sheet.max_rows), "products.csv")]),
        "csv-registry-rows": ("registry", f"the alliance's registry: {registry_rows:,} valid products of 20 new "
                              "cooperatives", lambda: [(h.valid_registry_csv(registry_rows), "registry.csv")]),
        "photos-probe": ("photos", f"issue 12's upload: three {photo_side}² PNGs and an invalid file",
                         lambda: [(h.png(photo_side, photo_side, alpha=False), f"{n}.png") for n in "abc"]
                         + [(h.NOT_AN_IMAGE, "d.png")]),
        "photo-png-max": ("photos", f"one {side}² RGBA PNG, Paeth rows (the per-image and per-upload cap)",
                          lambda: [(h.png(side, side), "max.png")]),
        "photos-png-two": ("photos", f"two {half}² RGBA PNGs (the per-upload cap, split)",
                           lambda: [(h.png(half, half), "a.png"), (h.png(half, half), "b.png")]),
        "photo-jpeg-progressive": ("photos", f"one {side}² progressive 4:4:4 JPEG (most decoder memory a pixel)",
                                   lambda: [(h.jpeg(side, side, progressive=True, subsampling=0), "prog.jpg")]),
        "photo-jpeg-large": ("photos", f"one {2 * side}×{3 * side // 2} baseline JPEG (decoded at a quarter)",
                             lambda: [(h.jpeg(2 * side, 3 * side // 2), "phone.jpg")]),
        "photo-webp-max": ("photos", f"one {webp_side}² lossless RGBA WebP (its pixels count twice)",
                           lambda: [(h.webp(webp_side, webp_side), "max.webp")]),
        "photo-noise": ("photos", "one noisy JPEG filling the 5 MB request",
                        lambda: [(h.noisy_jpeg_within(noisy_budget * 8), "noise.jpg")]),
        "photos-noise-eight": ("photos", "eight noisy JPEGs filling the 5 MB request together",
                               lambda: [(data, f"noise-{n}.jpg") for data in [h.noisy_jpeg_within(noisy_budget)]
                                        for n in range(8)]),
        "scan-png-max": ("scan", f"a certificate scan: one {side}² RGBA PNG, stored at 2400 px",
                         lambda: [(h.png(side, side), "scan.png")]),
    }


REFERENCE = "xlsx-probe-openpyxl"


# ---------------------------------------------------------------- one case, in its own process

def _app(workdir, overrides):
    from marketplace import create_app
    from marketplace.extensions import db

    app = create_app({
        "TESTING": True, "SECRET_KEY": "bench-" + "x" * 40, "MARKETPLACE_ENV": "production", "HTTPS": False,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.sqlite3'}", "UPLOAD_DIR": str(workdir / "uploads"),
        "SEARCH_INDEX_DIR": str(workdir / "search_index"), "MAIL_BACKEND": "locmem", **overrides,
    })
    with app.app_context():
        db.create_all()
    return app


def _alliance_user():
    from marketplace.accounts.models import MemberRole, Organisation, OrganisationKind, OrganisationStatus, User
    from marketplace.extensions import db

    alliance = Organisation(kind=OrganisationKind.ALLIANCE, legal_name="Liên minh HTX tỉnh",
                            status=OrganisationStatus.VERIFIED)
    staff = User(email="staff@bench.example", full_name="Cán bộ", password_hash="-", organisation=alliance,
                 role=MemberRole.OWNER)
    db.session.add_all([alliance, staff])
    db.session.commit()
    return staff


def _cooperative_with_product():
    """A self-registered cooperative still waiting for verification (the probe's), with one draft."""
    from marketplace.accounts.models import (
        CooperativeType,
        MemberRole,
        Organisation,
        OrganisationKind,
        OrganisationStatus,
        Sector,
        User,
    )
    from marketplace.catalog import services
    from marketplace.extensions import db

    cooperative = Organisation(
        kind=OrganisationKind.COOPERATIVE, legal_name="HTX Thử tải", tax_code="0100109106", province_code=20,
        commune_code=6040, phone="0205381234", email="htx@bench.example", representative="Nguyễn Văn A",
        sector=Sector.AGRICULTURE, status=OrganisationStatus.PENDING, cooperative_type=CooperativeType.HOP_TAC_XA,
        member_count=10, founded_year=2018)
    user = User(email="owner@bench.example", full_name="Người thử", password_hash="-", organisation=cooperative,
                role=MemberRole.OWNER)
    db.session.add_all([cooperative, user])
    db.session.commit()
    product = services.create_product(user, services.ProductDetails(
        name="Hồi khô", category="spices_herbs", unit="kg", base_price_vnd=160000))
    return user, product


def _rss_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _reset_peak():
    """Start the peak resident memory (VmHWM) from now. ru_maxrss cannot be used: Linux carries it over
    from the parent across fork and exec."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


def _peak_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _work(kind, files, user, product, stats):
    """Run the request's work; returns the outcome as text."""
    from datetime import date

    from werkzeug.datastructures import FileStorage

    from marketplace.catalog import importing, services
    from marketplace.errors import ValidationFailed

    uploads = [FileStorage(io.BytesIO(data), filename=name) for data, name in files]
    try:
        if kind in ("spreadsheet", "registry"):
            _token, table, report = importing.preview_upload(user, uploads[0], stats=stats)
            return f"previewed: {len(table.rows)} rows, {len(report.errors)} errors"
        if kind == "photos":
            done = services.add_photos(user, product.id, uploads)
            return f"stored: {len(done.images)} photos"
        certificate = services.add_certificate(user, product.id, services.CertificateDetails(
            stars=4, certificate_no="BENCH-1", decision_date=date.today()), scan=uploads[0])
        return f"stored: scan {certificate.scan_name[-4:]}"
    except ValidationFailed as error:
        return "refused: " + " ".join(str(message) for message in error.errors.values())


def run_case(name, kind, workdir, quick):
    """Measure one case in this process; returns its result as a dict."""
    from flask_babel import force_locale
    from PIL import ImageFile

    from marketplace.catalog.spreadsheet import Stats

    overrides = QUICK if quick else {}
    app = _app(workdir, overrides)
    files = [(path.read_bytes(), path.name.split("--", 1)[1][3:]) for path in sorted(workdir.glob(f"{name}--*"))]
    decodes = []
    original_load = ImageFile.ImageFile.load

    def counted_load(image):
        if image.tile:
            decodes.append(image.size)
        return original_load(image)

    ImageFile.ImageFile.load = counted_load
    with app.app_context(), app.test_request_context(), force_locale("en"):
        user, product = _cooperative_with_product()
        if kind == "registry":
            user = _alliance_user()
        stats = Stats()
        if name == REFERENCE:
            outcome, work = _openpyxl_reference(files[0][0])
        else:
            before = _rss_mb()
            _reset_peak()
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            outcome = _work(kind, files, user, product, stats)
            cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start_wall
            peak = _peak_mb()
            work = {"cpu_s": round(cpu, 3), "wall_s": round(wall, 3), "rss_before_mb": round(before, 1),
                    "peak_above_start_mb": round(max(0.0, peak - before), 1)}
    return {"case": name, "kind": kind, "files": len(files), "bytes": sum(len(data) for data, _ in files),
            "outcome": outcome, **work,
            "counters": {"cells": stats.cells, "xml_elements": stats.elements, "shared_strings": stats.shared_strings,
                         "unpacked_bytes": stats.unpacked_bytes, "image_decodes": len(decodes),
                         "decoded_megapixels": round(sum(w * h for w, h in decodes) / 1e6, 2)}}


def _openpyxl_reference(data):
    """How the import read a workbook before issue 12 (openpyxl read-only, 61 columns)."""
    from openpyxl import load_workbook

    before = _rss_mb()
    _reset_peak()
    start_cpu, start_wall = time.process_time(), time.perf_counter()
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    rows = sum(1 for _row in workbook.worksheets[0].iter_rows(values_only=True, max_col=61))
    workbook.close()
    cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start_wall
    peak = _peak_mb()
    return f"read by openpyxl: {rows} row", {"cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
                                            "rss_before_mb": round(before, 1),
                                            "peak_above_start_mb": round(max(0.0, peak - before), 1)}


# ---------------------------------------------------------------- the parent

def build_inputs(selected, workdir, quick):
    from marketplace.config import defaults

    config = {**defaults(str(workdir)), **(QUICK if quick else {})}
    table = cases(config, quick)
    described = {}
    for name in selected:
        kind, what, builder = table[name] if name != REFERENCE else (
            "spreadsheet", "issue 12's workbook read by openpyxl (before)", table["xlsx-probe"][2])
        for number, (data, filename) in enumerate(builder()):
            (workdir / f"{name}--{number:02d}-{filename}").write_bytes(data)
        described[name] = (kind, what)
    return described, config


def measure(selected, quick=False, reference=False):
    """Build every case's files, run each case in its own process; returns the report (a dict)."""
    load_start = os.getloadavg()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="uploads-bench-") as folder:
        workdir = Path(folder)
        names = list(selected) + ([REFERENCE] if reference else [])
        described, config = build_inputs(names, workdir, quick)
        results = []
        for name in names:
            kind, what = described[name]
            casedir = workdir / name
            casedir.mkdir()
            for path in workdir.glob(f"{name}--*"):
                path.rename(casedir / path.name)
            completed = subprocess.run(
                [sys.executable, "-W", "error", str(Path(__file__).resolve()), "--run", name, "--kind", kind,
                 "--workdir", str(casedir)] + (["--quick"] if quick else []),
                cwd=ROOT, capture_output=True, text=True, timeout=900)
            if completed.returncode != 0:
                raise RuntimeError(f"case {name} failed:\n{completed.stderr}")
            result = json.loads(completed.stdout)
            result["what"] = what
            results.append(result)
            print(f"  {name}: {result['outcome'][:60]} ({result['cpu_s']} s)", file=sys.stderr)
    sheet, image = _limits(config)
    return {
        "benchmark": "uploads",
        "quick": quick,
        "limits": {"IMPORT_WEB_MAX_ROWS": sheet.max_rows,
                   "IMPORT_WEB_MAX_ROWS_ALLIANCE": config["IMPORT_WEB_MAX_ROWS_ALLIANCE"],
                   "IMPORT_MAX_COLUMNS": sheet.max_columns,
                   "IMPORT_MAX_CELLS": sheet.max_cells, "IMPORT_MAX_SHARED_STRINGS": sheet.max_shared_strings,
                   "IMPORT_MAX_UNPACKED_BYTES": sheet.max_unpacked_bytes,
                   "IMPORT_MAX_LINE_CHARS": sheet.max_line_chars, "IMAGE_MAX_PIXELS": image.max_pixels,
                   "IMAGE_MAX_PIXELS_PER_REQUEST": image.max_pixels_per_request, "UPLOAD_MAX_FILES": image.max_files},
        "cases": results,
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_start": [round(x, 2) for x in load_start],
                    "load_average_end": [round(x, 2) for x in os.getloadavg()],
                    "seconds": round(time.time() - started, 1)},
    }


def _size(count):
    return f"{count / 2**20:.1f} MB" if count >= 2**20 else f"{count / 1024:.0f} KB"


def render_markdown(report):
    lines = ["| case | input | outcome | CPU s | wall s | peak MB | work done |", "|---|---|---|---|---|---|---|"]
    for case in report["cases"]:
        counters = case["counters"]
        if case["kind"] in ("spreadsheet", "registry"):
            work = f"{counters['cells']:,} cells, {counters['unpacked_bytes'] / 2**20:.1f} MB unpacked"
        else:
            work = f"{counters['image_decodes']} decodes, {counters['decoded_megapixels']} MP"
        lines.append(f"| `{case['case']}` | {case['what']} ({case['files']} file{'s' * (case['files'] > 1)}, "
                     f"{_size(case['bytes'])}) | {case['outcome']} | {case['cpu_s']:.2f} | {case['wall_s']:.2f} | "
                     f"{case['peak_above_start_mb']:.0f} | {work} |")
    machine = report["machine"]
    lines.append("")
    lines.append(f"{machine['cpus']} CPUs, {machine['platform']}, Python {machine['python']}; load average "
                 f"{' '.join(map(str, machine['load_average_start']))} at the start, "
                 f"{' '.join(map(str, machine['load_average_end']))} at the end. "
                 "Peak MB: the most resident memory above what the process held before the work.")
    return "\n".join(lines)


def render(report):
    rows = [f"{'case':26} {'CPU s':>7} {'wall s':>7} {'peak MB':>8}  outcome"]
    for case in report["cases"]:
        rows.append(f"{case['case']:26} {case['cpu_s']:7.2f} {case['wall_s']:7.2f} "
                    f"{case['peak_above_start_mb']:8.0f}  {case['outcome']}")
    machine = report["machine"]
    rows.append(f"load average {machine['load_average_start']} → {machine['load_average_end']}")
    return "\n".join(rows)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON document")
    output.add_argument("--markdown", action="store_true", help="print a Markdown table (docs/benchmarks.md)")
    parser.add_argument("--quick", action="store_true", help="small limits and files (a smoke test)")
    parser.add_argument("--case", action="append", help="run only this case (repeatable)")
    parser.add_argument("--with-reference", action="store_true",
                        help="also read the probe's workbook with openpyxl, as before issue 12 (slow, ~1 GB)")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.run:
        print(json.dumps(run_case(args.run, args.kind, Path(args.workdir), args.quick)))
        return
    from marketplace.config import defaults

    known = list(cases(defaults(tempfile.gettempdir()), args.quick))
    selected = args.case or known
    unknown = [name for name in selected if name not in known]
    if unknown:
        raise SystemExit(f"unknown case(s): {', '.join(unknown)}; the cases are: {', '.join(known)}")
    report = measure(selected, quick=args.quick, reference=args.with_reference)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    elif args.markdown:
        print(render_markdown(report))
    else:
        print(render(report))


if __name__ == "__main__":
    main()
