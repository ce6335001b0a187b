"""Alliance pages of the overview and reports (issue 11): the dashboard, the conferences and one conference's
report, and their exports (CSV, XLSX, PDF). Routes live on the alliance blueprint (alliance staff only); the
services check again (Permission.FOLLOW_UP_AGREEMENTS). Views stay thin: figures come from alliance/reports.py,
charts from alliance/charts.py, files from alliance/exports.py."""
import io

from flask import render_template, send_file
from flask_login import current_user

from marketplace.accounts.models import label
from marketplace.alliance import charts, exports, reports
from marketplace.alliance.views import blueprint
from marketplace.i18n import grouped, short_date, vnd
from marketplace.pagecache import kept_for_the_organisation


def _with_charts(report):
    """[(Table, chart Markup or None)] for the page: a bar chart of each table's `chart` columns."""
    shown = []
    for table in report.tables:
        chart = None
        if table.chart and table.rows:
            labels = [reports.text(row[0]) for row in table.rows]
            series = [(table.headings[i], [row[i] for row in table.rows]) for i in table.chart]
            description = "; ".join(
                f"{label}: " + ", ".join(f"{name} {grouped(values[n])}" for name, values in series)
                for n, label in enumerate(labels))
            chart = charts.bar_chart(table.title, description, labels, series, horizontal=table.horizontal,
                                     whole_numbers=all(table.kinds[i] == reports.COUNT for i in table.chart))
        shown.append((table, chart))
    return shown


@blueprint.app_template_global("report_cell")
def report_cell(value, kind):
    """A table cell of a report as templates/alliance/_report.html prints it (autoescaped there): money, a count
    with Vietnamese digit grouping, a date, a percentage or a label. A function rather than a Jinja macro: the
    dashboard prints about 2,500 cells (500 expiring certificates), and a macro call costs ten times more."""
    if kind == reports.VND:
        return vnd(value)
    if kind == reports.COUNT:
        return grouped(value)
    if kind == reports.DATE:
        return short_date(value)
    if kind == reports.PERCENT:
        return f"{int(round(value * 100, 0))}%"
    return label(value)  # an enum's label, a lazy string or user text: the template escapes it


@blueprint.app_template_global("report_cells")
def report_cells(row, kinds):
    """[(text, right-aligned)] of a row's cells after the first (its row header), as report_cell writes them."""
    return [(report_cell(value, kind), kind != reports.TEXT) for value, kind in zip(row[1:], kinds[1:], strict=True)]


def _file(report, fmt, stem):
    data, filename, mimetype = exports.export(report, fmt, stem)
    response = send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.get("/dashboard")
@kept_for_the_organisation
def dashboard():
    """The alliance's overview: MoUs, OCOP products, cooperatives and orders, each chart with its table."""
    report = reports.dashboard(current_user)
    return render_template("alliance/dashboard.html", report=report, tables=_with_charts(report),
                           conferences=report.conferences)


@blueprint.get("/dashboard.<any(csv, xlsx, pdf):fmt>")
def dashboard_export(fmt):
    return _file(reports.dashboard(current_user), fmt, "tong-hop-lien-minh")


@blueprint.get("/conferences/<id:conference_id>")
def conference_report(conference_id):
    """The report of one conference after the fact."""
    report = reports.conference_report(current_user, conference_id)
    return render_template("alliance/conference_report.html", report=report, tables=_with_charts(report))


@blueprint.get("/conferences/<id:conference_id>/report.<any(csv, xlsx, pdf):fmt>")
def conference_export(conference_id, fmt):
    return _file(reports.conference_report(current_user, conference_id), fmt, f"hoi-nghi-{conference_id}")
