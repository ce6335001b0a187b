"""The alliance's overview and reports (issue 11, "Overview and reports"): the dashboard's figures and the report
of one conference, as plain tables that the pages (with a chart beside each), the CSV/XLSX exports and the PDF
summary all print.

Every figure is an aggregate: counts come from GROUP BY read models of the modules that own the tables
(`agreements.queries`, `orders.queries`, `catalog.queries`, `accounts.queries`), and an MoU's committed,
ordered, delivered and paid values from `tracking.progress_map` (computed once a request, never again here);
alliance staff never see single orders. Only alliance staff may read them (Permission.FOLLOW_UP_AGREEMENTS).
"""
import enum
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_babel.speaklater import LazyString

from marketplace import geo
from marketplace.accounts import queries as account_queries
from marketplace.accounts.authz import Permission, require
from marketplace.accounts.models import AllianceClassification, Sector, label
from marketplace.agreements import queries as agreement_queries
from marketplace.alliance import tracking
from marketplace.alliance.tracking_models import TrackingStatus
from marketplace.catalog import queries as catalog_queries
from marketplace.orders import queries as order_queries

# Words of the rows that have no value to name (report_pdf.py prints them in Vietnamese).
NO_CONFERENCE = _l("No conference")
NOT_GIVEN = _l("Not given")
NOT_CLASSIFIED = _l("Not classified")
EXPIRING_DAYS = 90  # OCOP certificates listed when they expire within this many days
MONTHS_SHOWN = 12  # orders by month: this month and the 11 before

# Column kinds: how a page, a spreadsheet and the PDF print a value.
TEXT, COUNT, VND, DATE, PERCENT = "text", "count", "vnd", "date", "percent"
VALUE_HEADINGS = (_l("Committed (₫)"), _l("Ordered (₫)"), _l("Delivered (₫)"), _l("Paid (₫)"))
VALUE_KINDS = (VND, VND, VND, VND)


@dataclass
class Table:
    """One figure of a report: headings, kinds (TEXT, COUNT, VND, DATE, PERCENT) and rows of values (numbers,
    dates, text, enums and lazy strings: `text()` turns a cell into words).
    `chart`: the indices of the numeric columns drawn as bars (the first column labels them), () for none."""

    key: str
    title: object
    headings: list
    kinds: list
    rows: list
    chart: tuple = ()
    horizontal: bool = True
    note: object = ""


@dataclass
class Report:
    title: object
    on: object  # the day the figures are computed for (Vietnam)
    tables: list = field(default_factory=list)
    summary: object = ""
    conferences: list = field(default_factory=list)  # the dashboard's [EventCount], for its list of conferences

    def table(self, key):
        return next(t for t in self.tables if t.key == key)


def text(value):
    """A cell as words: an enum's label (translated), anything else as it is (numbers stay numbers)."""
    if isinstance(value, enum.Enum):
        return str(label(value))
    if isinstance(value, LazyString):
        return str(value)
    return value


def _values(progress, ids):
    """[committed, ordered, delivered, paid] (₫) of these MoUs, added up from their Progress."""
    totals = [progress[i].totals for i in ids if i in progress]
    return [sum(column) for column in zip(*totals)] if totals else [0, 0, 0, 0]


def _grouped(key, title, first_heading, groups, name_of, progress, order=None):
    rows = [[name_of(value), len(ids), *_values(progress, ids)] for value, ids in groups.items()]
    rows.sort(key=order or (lambda row: (-row[1], text(row[0]))))
    return Table(key, title, [first_heading, _l("MoUs"), *VALUE_HEADINGS],
                 [TEXT, COUNT, *VALUE_KINDS], rows, chart=(1,))


def dashboard(actor, on=None):
    """The dashboard's figures (a Report) for alliance staff. Raises Forbidden for anyone else."""
    require(actor, Permission.FOLLOW_UP_AGREEMENTS)
    on = on or tracking.today()
    progress = tracking.progress_map(on=on)
    tables = []

    tables.append(Table("mous_by_stage", _l("MoUs by stage"), [_l("Stage"), _l("MoUs")], [TEXT, COUNT],
                        [[state, count] for state, count in agreement_queries.mous_by_state()],
                        chart=(1,), note=_l("Drafts are left out: only the party writing one sees it.")))

    by_status = {}
    for p in progress.values():
        by_status.setdefault(p.status, []).append(p.agreement_id)
    tables.append(Table(
        "mous_by_status", _l("Signed MoUs by tracking status"),
        [_l("Tracking status"), _l("MoUs"), *VALUE_HEADINGS], [TEXT, COUNT, *VALUE_KINDS],
        [[status, len(by_status.get(status, [])), *_values(progress, by_status.get(status, []))]
         for status in TrackingStatus], chart=(1,)))

    tables.append(Table("committed_achieved", _l("Committed against achieved value of the signed MoUs"),
                        [_l("Measure"), _l("Value (₫)")], [TEXT, VND],
                        [[name, value] for name, value in zip(
                            (_l("Committed"), _l("Ordered"), _l("Delivered"), _l("Paid")),
                            _values(progress, list(progress)), strict=True)], chart=(1,)))

    conferences = agreement_queries.conference_events()
    events = {e.event_id: e for e in conferences}
    groups = agreement_queries.signed_mou_groups(("event", "province", "sector"))
    tables.append(_grouped(
        "mous_by_event", _l("Signed MoUs by conference"), _l("Conference"),
        groups["event"],
        lambda i: f"{events[i].name} ({events[i].held_on.strftime('%d/%m/%Y')})" if i in events
        else NO_CONFERENCE, progress))
    tables.append(_grouped(
        "mous_by_province", _l("Signed MoUs by the cooperative's province"), _l("Province"),
        groups["province"],
        lambda code: geo.province_name(code) or NOT_GIVEN, progress))
    tables.append(_grouped(
        "mous_by_sector", _l("Signed MoUs by the cooperative's sector"), _l("Sector"),
        groups["sector"],
        lambda sector: Sector(sector) if sector else NOT_GIVEN, progress))

    tables.append(Table("ocop_by_stars", _l("OCOP products by stars"), [_l("Stars"), _l("Products")],
                        [TEXT, COUNT], [[_l("%(num)s stars", num=stars), count]
                                        for stars, count in catalog_queries.ocop_products_by_stars(on)],
                        chart=(1,), note=_l("Products with a verified, unexpired certificate, by their best one.")))
    tables.append(Table(
        "certificates_expiring", _l("OCOP certificates expiring within %(days)s days", days=EXPIRING_DAYS),
        [_l("Product"), _l("Cooperative"), _l("Stars"), _l("Certificate number"), _l("Expires on")],
        [TEXT, TEXT, COUNT, TEXT, DATE],
        [[c.product_name, c.cooperative_name, c.stars, c.certificate_no, c.expires_on]
         for c in catalog_queries.certificates_expiring(on, EXPIRING_DAYS)]))

    classified = dict(account_queries.cooperatives_by_classification())
    tables.append(Table(
        "cooperatives_by_classification", _l("Verified cooperatives by classification"),
        [_l("Classification"), _l("Cooperatives")], [TEXT, COUNT],
        [[c, classified.get(c, 0)] for c in AllianceClassification]
        + [[NOT_CLASSIFIED, classified.get(None, 0)]], chart=(1,)))

    first_month = _months_back(on, MONTHS_SHOWN - 1)
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    since = datetime.combine(first_month, time(0), zone).astimezone(UTC)
    months = {m.month: m for m in order_queries.orders_by_month(since=since)}
    rows = []
    for index in range(MONTHS_SHOWN):
        month = _months_forward(first_month, index)
        key = month.strftime("%Y-%m")
        totals = months.get(key)
        rows.append([month.strftime("%m/%Y"), totals.orders if totals else 0, totals.value_vnd if totals else 0,
                     totals.paid_vnd if totals else 0])
    tables.append(Table("orders_by_month", _l("Orders and paid value by month"),
                        [_l("Month"), _l("Orders"), _l("Order value (₫)"), _l("Paid (₫)")],
                        [TEXT, COUNT, VND, VND], rows, chart=(2, 3), horizontal=False,
                        note=_l("Orders placed in the month, except rejected and cancelled ones; paid: what "
                                "those orders have received so far.")))
    return Report(_l("Alliance dashboard"), on, tables, conferences=conferences)


def _months_back(on, count):
    year, month = divmod(on.year * 12 + on.month - 1 - count, 12)
    return on.replace(year=year, month=month + 1, day=1)


def _months_forward(first, count):
    year, month = divmod(first.year * 12 + first.month - 1 + count, 12)
    return first.replace(year=year, month=month + 1, day=1)


# ---------------------------------------------------------------- one conference

@dataclass
class ConferenceReport(Report):
    event: object = None
    counts: dict = field(default_factory=dict)  # TrackingStatus → MoUs
    totals: list = field(default_factory=list)  # committed, ordered, delivered, paid (₫)


STATUS_WORDS = {
    TrackingStatus.ON_TRACK: lambda num: _("%(num)s on track", num=num),
    TrackingStatus.BEHIND: lambda num: _("%(num)s behind", num=num),
    TrackingStatus.STALLED: lambda num: _("%(num)s stalled", num=num),
    TrackingStatus.COMPLETED: lambda num: _("%(num)s completed", num=num),
    TrackingStatus.EXPIRED: lambda num: _("%(num)s expired", num=num),
}


def conference_report(actor, event_id, on=None):
    """The report of one conference after the fact: its signed MoUs by tracking status ("6 MoUs signed on
    12/04/2024: 4 on track, 1 behind, 1 stalled"), the value ordered, delivered and paid under them since, and one
    row per MoU. Raises Forbidden for anyone but alliance staff, NotFound for an unknown conference."""
    require(actor, Permission.FOLLOW_UP_AGREEMENTS)
    event = agreement_queries.conference_event(event_id)
    on = on or tracking.today()
    mous = agreement_queries.event_mous(event.id)
    progress = tracking.progress_map([m.id for m in mous], on=on) if mous else {}
    counts = Counter(p.status for p in progress.values())
    rows = []
    for mou in mous:
        p = progress[mou.id]
        rows.append([mou.reference, mou.seller_name, mou.buyer_name, p.status,
                     *_values(progress, [mou.id]), p.volume_ratio])
    per_mou = Table("conference_mous", _l("MoUs of the conference"),
                    [_l("MoU"), _l("Seller"), _l("Buyer"), _l("Tracking status"), *VALUE_HEADINGS,
                     _l("Ordered share")], [TEXT, TEXT, TEXT, TEXT, *VALUE_KINDS, PERCENT],
                    rows, chart=(4, 5), note=_l("Committed against ordered value, per MoU."))
    by_status = Table("conference_by_status", _l("MoUs by tracking status"), [_l("Tracking status"), _l("MoUs")],
                      [TEXT, COUNT], [[s, counts.get(s, 0)] for s in TrackingStatus], chart=(1,))
    totals = _values(progress, list(progress))
    value = Table("conference_values", _l("Value under the conference's MoUs since signing"),
                  [_l("Measure"), _l("Value (₫)")], [TEXT, VND],
                  [[name, amount] for name, amount in zip(
                      (_l("Committed"), _l("Ordered"), _l("Delivered"), _l("Paid")), totals, strict=True)],
                  chart=(1,))
    return ConferenceReport(_l("Conference report: %(name)s", name=event.name), on, [by_status, value, per_mou],
                            summary=summary_of(len(mous), event.held_on, counts), event=event,
                            counts=dict(counts), totals=totals)


def summary_of(total, held_on, counts):
    """"6 MoUs signed on 12/04/2024: 4 on track, 1 behind, 1 stalled" (statuses with no MoU left out)."""
    parts = [STATUS_WORDS[s](counts[s]) for s in TrackingStatus if counts.get(s)]
    head = ngettext("%(num)s MoU signed at the conference of %(day)s",
                    "%(num)s MoUs signed at the conference of %(day)s", total, day=held_on.strftime("%d/%m/%Y"))
    return f"{head}: {', '.join(parts)}" if parts else head


def conferences(actor):
    """[EventCount] of every conference, newest first, for alliance staff. Raises Forbidden for anyone else."""
    require(actor, Permission.FOLLOW_UP_AGREEMENTS)
    return agreement_queries.conference_events()


__all__ = ["Table", "Report", "ConferenceReport", "dashboard", "conference_report", "conferences", "summary_of", "text",
           "TEXT", "COUNT", "VND", "DATE", "PERCENT"]
