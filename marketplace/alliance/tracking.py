"""Alliance follow-up, the tracking core: is each signed MoU being carried out?

Nobody types progress by hand: for every signed MoU and each line of its terms in force, the committed quantity
and value (per period and over the term) are set against what was ordered, delivered and paid under it, read from
the totals the orders' services keep per MoU and product (`orders.agreement_totals`, through `orders.queries`;
never the orders' tables from here) and the MoU's terms through
`agreements.queries`. A status (TrackingStatus) follows from the elapsed share of the term and the ordered share
of the committed value; `needs_attention` sorts MoUs by urgency from a list of reason providers that other
follow-up features extend (`reason_provider`); `follow_up` is the daily command's use case.

What the words mean (docs/architecture.md, "Alliance follow-up: tracking"):
- ordered: the quantity and value of the MoU's products on orders placed under it, except rejected or cancelled;
- delivered: the quantity the buyer confirmed receiving (orders delivered or completed);
- paid: what those orders received, shared between their lines pro rata to the line totals.
"""
import functools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from marketplace import notifications
from marketplace.accounts.authz import Permission, is_alliance_staff, require
from marketplace.accounts.models import Organisation, OrganisationKind, User
from marketplace.agreements import queries as agreement_queries
from marketplace.agreements import services as agreement_services
from marketplace.agreements.models import Agreement, AgreementState, Period
from marketplace.alliance import progress_cache
from marketplace.alliance.tracking_models import (
    AgreementTracking,
    FollowUpRun,
    TrackingEvent,
    TrackingEventKind,
    TrackingStatus,
)
from marketplace.errors import NotFound
from marketplace.extensions import db
from marketplace.orders import queries as order_queries
from marketplace.sqltypes import utcnow
from marketplace.unit_of_work import unit_of_work

__all__ = ["TrackingStatus", "LineProgress", "Progress", "progress_of", "progress_map", "periods_in_term",
           "status_of", "progress_for_page", "Reason", "reason_provider", "needs_attention", "today"]

DAYS_PER_YEAR = 365.25


def today():
    """Today's date in Vietnam (the terms' dates are Vietnamese dates)."""
    return datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


# ---------------------------------------------------------------- figures

@dataclass(slots=True)
class LineProgress:
    """One product of the terms in force against the orders under the MoU."""

    product_id: int | None
    name: str
    unit: str
    period: Period
    quantity_per_period: int
    periods: int  # how many periods the term holds (1 for "in total")
    unit_price_vnd: int
    ordered_qty: int = 0
    delivered_qty: int = 0
    ordered_vnd: int = 0
    paid_vnd: int = 0

    @property
    def committed_qty(self):
        return self.quantity_per_period * self.periods

    @property
    def committed_value_vnd(self):
        return self.committed_qty * self.unit_price_vnd

    @property
    def value_per_period_vnd(self):
        return self.quantity_per_period * self.unit_price_vnd

    @property
    def ordered_ratio(self):
        return _ratio(self.ordered_qty, self.committed_qty)

    @property
    def delivered_ratio(self):
        return _ratio(self.delivered_qty, self.committed_qty)

    @property
    def paid_ratio(self):
        return _ratio(self.paid_vnd, self.committed_value_vnd)


@dataclass(slots=True)
class Progress:
    """A signed MoU's progress on a day: its lines, totals, ratios and status (set by progress_map)."""

    agreement_id: int
    reference: str
    state: AgreementState
    start_date: date
    end_date: date
    on: date
    status: TrackingStatus
    time_elapsed_ratio: float
    last_order_at: datetime | None
    lines: list = field(default_factory=list)  # not changed once the totals below are read
    last_order_on: date | None = None  # the day of last_order_at in Vietnam (set by progress_map)
    _totals: tuple | None = None  # (committed, ordered, delivered, paid) ₫ of the lines, added up once

    def _sums(self):
        # Reports read each total of ~2,000 MoUs several times: the lines are added up once.
        if self._totals is None:
            committed = ordered = delivered = paid = 0
            for line in self.lines:
                committed += line.committed_value_vnd
                ordered += line.ordered_vnd
                delivered += line.delivered_qty * line.unit_price_vnd
                paid += line.paid_vnd
            self._totals = (committed, ordered, delivered, paid)
        return self._totals

    @property
    def totals(self):
        """(committed, ordered, delivered, paid) ₫ of the lines."""
        return self._sums()

    @property
    def committed_value_vnd(self):
        return self._sums()[0]

    @property
    def ordered_vnd(self):
        return self._sums()[1]

    @property
    def delivered_value_vnd(self):
        return self._sums()[2]

    @property
    def paid_vnd(self):
        return self._sums()[3]

    @property
    def volume_ratio(self):
        """The ordered share of the committed value (lines in different units add up by value)."""
        return _ratio(self.ordered_vnd, self.committed_value_vnd)

    @property
    def delivered_ratio(self):
        return _ratio(self.delivered_value_vnd, self.committed_value_vnd)

    @property
    def paid_ratio(self):
        return _ratio(self.paid_vnd, self.committed_value_vnd)

    @property
    def days_left(self):
        return (self.end_date - self.on).days

    @property
    def days_since_order(self):
        """Days since the last order under it, or since the start of the term when there was none."""
        last = self.last_order_on
        if last is None and self.last_order_at is not None:
            last = _vietnam_date(self.last_order_at)
        since = self.start_date if last is None or last < self.start_date else last
        return max((self.on - since).days, 0)


def _ratio(part, whole):
    return round(part / whole, 4) if whole > 0 else 0.0


def _vietnam_date(moment):
    return moment.astimezone(_zone(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


@functools.cache
def _zone(name):
    return ZoneInfo(name)


def periods_in_term(period, start, end):
    """How many periods of an MoU line the term from `start` to `end` (both included) holds: "in total" is one;
    weeks are counted up (a started week counts); months, seasons (one harvest season a year) and years are
    rounded to the nearest whole number, at least one (a term of 01/12/2024–30/11/2027 holds 36 months, 3 years)."""
    days = (end - start).days + 1
    if period == Period.TOTAL or days <= 0:
        return 1
    if period == Period.WEEK:
        return -(-days // 7)
    if period == Period.MONTH:
        return max(1, round(days * 12 / DAYS_PER_YEAR))
    return max(1, round(days / DAYS_PER_YEAR))  # season, year


def time_elapsed_ratio(start, end, on):
    """The elapsed share of the term on `on` (0 before the start, 1 from the end date on)."""
    days = (end - start).days + 1
    if days <= 0:
        return 1.0
    return round(min(max((on - start).days, 0), days) / days, 4)


def status_of(progress_figures, config=None):
    """The TrackingStatus of an MoU from its figures (a Progress without its status is enough: state, dates,
    `on`, lines, last_order_at). In this order: completed (recorded as carried out, or every committed quantity
    delivered), expired (the term ended), stalled (no order for FOLLOW_UP_STALLED_DAYS, counted from the start
    of the term), behind (ordered share of the committed value below the elapsed share by more than
    FOLLOW_UP_BEHIND_MARGIN), else on track. Nothing is stalled or behind before its term begins."""
    config = config or current_app.config
    p = progress_figures
    lines = p.lines
    if p.state == AgreementState.COMPLETED or (lines and all(
            line.delivered_qty >= line.committed_qty for line in lines)):
        return TrackingStatus.COMPLETED
    if p.state == AgreementState.EXPIRED or p.on > p.end_date:
        return TrackingStatus.EXPIRED
    if p.on < p.start_date:
        return TrackingStatus.ON_TRACK
    if p.days_since_order > config["FOLLOW_UP_STALLED_DAYS"]:
        return TrackingStatus.STALLED
    if p.volume_ratio < p.time_elapsed_ratio - config["FOLLOW_UP_BEHIND_MARGIN"]:
        return TrackingStatus.BEHIND
    return TrackingStatus.ON_TRACK


def progress_map(agreement_ids=None, on=None):
    """{MoU id: Progress} of every signed MoU (or of those among `agreement_ids`) on the day `on` (today).
    Five queries whatever the number of MoUs and orders: the MoUs, their lines in force (two), and the order
    totals per (MoU, product) and last order per MoU that the orders' services keep (`orders.agreement_totals`).
    Every MoU's map is kept in this worker's memory while none of that changes (progress_cache.py: one read of the
    follow-up's version instead); the Progress objects are shared, never to be changed by callers."""
    on = on or today()
    if agreement_ids is None:
        return dict(progress_cache.kept("progress", on, lambda: _progress_map(None, on)))
    return _progress_map(agreement_ids, on)


def _progress_map(agreement_ids, on):
    agreements = agreement_queries.tracked_agreements(agreement_ids)
    if not agreements:
        return {}
    ids = list(agreements) if agreement_ids is not None else None
    committed = agreement_queries.committed_lines(ids)
    totals = {(t.agreement_id, t.product_id): t for t in order_queries.kept_totals(ids)}
    last_orders = order_queries.kept_last_orders(ids)
    config = current_app.config
    zone = _zone(config["BABEL_DEFAULT_TIMEZONE"])
    result = {}
    for agreement in agreements.values():
        last_order_at = last_orders.get(agreement.id)
        lines = []
        for line in committed.get(agreement.id, []):
            total = totals.get((agreement.id, line.product_id))
            lines.append(LineProgress(
                product_id=line.product_id, name=line.name, unit=line.unit, period=line.period,
                quantity_per_period=line.quantity,
                periods=periods_in_term(line.period, agreement.start_date, agreement.end_date),
                unit_price_vnd=line.unit_price_vnd,
                ordered_qty=total.ordered_qty if total else 0, delivered_qty=total.delivered_qty if total else 0,
                ordered_vnd=total.ordered_vnd if total else 0, paid_vnd=total.paid_vnd if total else 0))
        figures = Progress(
            agreement_id=agreement.id, reference=agreement.reference, state=agreement.state,
            start_date=agreement.start_date, end_date=agreement.end_date, on=on, status=TrackingStatus.ON_TRACK,
            time_elapsed_ratio=time_elapsed_ratio(agreement.start_date, agreement.end_date, on),
            last_order_at=last_order_at, lines=lines,
            last_order_on=last_order_at.astimezone(zone).date() if last_order_at else None)
        figures.status = status_of(figures, config)
        result[agreement.id] = figures
    return result


def progress_of(actor, agreement_id, on=None):
    """The progress of one signed MoU, for its parties (buyer, seller, witness) and alliance staff.
    Raises NotFound for anyone else, and for an MoU that is not signed (nothing to follow yet)."""
    agreement = agreement_services.get_agreement(actor, agreement_id)  # NotFound for a third party
    progress = progress_map([agreement.id], on).get(agreement.id)
    if progress is None:
        raise NotFound(_l("Progress is followed once the MoU is signed."))
    return progress


def progress_for_page(actor, agreement, on=None):
    """The progress section of an MoU's page: its Progress for a party or alliance staff once it is signed, else
    None (the page loaded `agreement` through the agreements service, which already refused third parties)."""
    if agreement.signed_at is None or not (is_alliance_staff(actor) or agreement.is_party(actor.organisation_id)):
        return None
    return progress_map([agreement.id], on).get(agreement.id)


# ---------------------------------------------------------------- needs attention

@dataclass(frozen=True)
class Reason:
    """Why an MoU needs attention: a stable code, a weight (the urgency it adds) and words for the page."""

    code: str
    weight: int
    text: object


@dataclass(frozen=True)
class AttentionContext:
    """What reason providers read: the day, every signed MoU's progress, and the configuration."""

    on: date
    progress: dict
    config: object


# Each provider is function(context) → iterable of (agreement id, Reason). Registered in urgency order of
# appearance only for readability: the order of the list does not matter, weights do.
REASON_PROVIDERS = []


def reason_provider(function):
    """Decorator: add a source of reasons to the needs-attention list (e.g. overdue milestones)."""
    REASON_PROVIDERS.append(function)
    return function


@reason_provider
def _stalled(context):
    for progress in context.progress.values():
        if progress.status == TrackingStatus.STALLED:
            yield progress.agreement_id, Reason("stalled", 100, _l(
                "No order for %(days)s days", days=progress.days_since_order))


@reason_provider
def _behind(context):
    for progress in context.progress.values():
        if progress.status == TrackingStatus.BEHIND:
            yield progress.agreement_id, Reason("behind", 60, _l(
                "Ordered %(volume)s%% of the committed value after %(time)s%% of the term",
                volume=round(progress.volume_ratio * 100), time=round(progress.time_elapsed_ratio * 100)))


@reason_provider
def _ending_soon(context):
    horizon = context.config["FOLLOW_UP_ENDING_DAYS"]
    for progress in context.progress.values():
        if (progress.state == AgreementState.SIGNED and progress.status not in (TrackingStatus.COMPLETED,
                                                                                  TrackingStatus.EXPIRED)
                and 0 <= progress.days_left <= horizon):
            yield progress.agreement_id, Reason("ending_soon", 40, _l(
                "The term ends in %(days)s days", days=progress.days_left))


@reason_provider
def _signatures_pending(context):
    days = context.config["FOLLOW_UP_SIGNATURE_DAYS"]
    zone = ZoneInfo(context.config["BABEL_DEFAULT_TIMEZONE"])
    before = datetime.combine(context.on - timedelta(days=days), time(0), zone)
    for agreement_id, _reference, since in agreement_queries.awaiting_signatures_since(before):
        waited = (context.on - since.astimezone(zone).date()).days
        yield agreement_id, Reason("signatures_pending", 30, _l(
            "Signatures awaited for %(days)s days", days=waited))


@reason_provider
def _overdue_milestones(context):
    from marketplace.alliance import milestones  # it imports the agreements services, as this module does

    for agreement_id, count in milestones.overdue_milestones(context.progress.keys(), context.on).items():
        yield agreement_id, Reason("milestones_overdue", 50, _l("Overdue milestones: %(num)s", num=count))


@dataclass(frozen=True)
class AttentionItem:
    agreement_id: int
    reasons: tuple
    progress: Progress | None  # None for an MoU not signed yet (signatures pending)

    @property
    def urgency(self):
        return sum(reason.weight for reason in self.reasons)

    @property
    def codes(self):
        return [reason.code for reason in self.reasons]


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int
    agreements: dict = field(default_factory=dict)  # id → Agreement, for the items of this page

    @property
    def pages(self):
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self):
        return self.page > 1

    @property
    def has_next(self):
        return self.page < self.pages

    @property
    def prev_num(self):
        return self.page - 1

    @property
    def next_num(self):
        return self.page + 1

    def iter_pages(self):
        """Page numbers for the pager: the first two, two around this one, the last two; None for a gap."""
        shown, previous = [], 0
        for number in range(1, self.pages + 1):
            if number <= 2 or number > self.pages - 2 or abs(number - self.page) <= 2:
                if previous and number != previous + 1:
                    shown.append(None)
                shown.append(number)
                previous = number
        return shown


def attention_items(on=None, status=None, progress=None):
    """[AttentionItem] of every MoU some provider gives a reason for (or, with `status`, of every signed MoU with
    that TrackingStatus, reasons or not), most urgent first: the sum of the weights, then the nearest end of term,
    then the id. `progress` is progress_map(on=on) when the caller has it already; without it the list is kept in
    this worker's memory like the map (progress_cache.py). No permission check: callers are the alliance's page,
    API and daily command. Raises ValueError for an unknown status."""
    on = on or today()
    if progress is None:
        return list(progress_cache.kept(("attention", status), on,
                                        lambda: _attention_items(on, status, progress_map(on=on))))
    return _attention_items(on, status, progress)


def _attention_items(on, status, progress):
    context = AttentionContext(on=on, progress=progress, config=current_app.config)
    reasons = {}
    for provider in REASON_PROVIDERS:
        for agreement_id, reason in provider(context):
            reasons.setdefault(agreement_id, []).append(reason)
    if status is not None:
        status = TrackingStatus(status)
        ids = [i for i, p in progress.items() if p.status == status]
    else:
        ids = list(reasons)
    items = [AttentionItem(i, tuple(sorted(reasons.get(i, []), key=lambda r: -r.weight)), progress.get(i))
             for i in ids]
    items.sort(key=lambda item: (-item.urgency, item.progress.end_date if item.progress else date.max,
                                 item.agreement_id))
    return items


def needs_attention(actor, status=None, page=1, per_page=20, on=None):
    """One page of the MoUs needing attention, most urgent first (attention_items), for alliance staff.
    Raises Forbidden for anyone else, ValueError for an unknown status."""
    require(actor, Permission.FOLLOW_UP_AGREEMENTS)
    items = attention_items(on, status)
    start = (page - 1) * per_page
    shown = items[start:start + per_page]
    return Page(items=shown, total=len(items), page=page, per_page=per_page,
                agreements=_agreements([item.agreement_id for item in shown]))


@dataclass
class Summary:
    """The follow-up at a glance, for the alliance's home: the most urgent MoUs and the signed MoUs by status."""

    attention: Page  # the first items of the needs-attention list (the same list as the follow-up page)
    by_status: dict  # TrackingStatus → number of signed MoUs


def summary(actor, limit=5, on=None):
    """The needs-attention list's first `limit` items (attention_items, not recomputed elsewhere) and the count
    of signed MoUs per tracking status, from one progress_map. Raises Forbidden for anyone but alliance staff."""
    require(actor, Permission.FOLLOW_UP_AGREEMENTS)
    on = on or today()
    progress = progress_map(on=on)
    items = attention_items(on)  # kept, like the map (both read from this worker's memory when nothing changed)
    shown = items[:limit]
    by_status = dict.fromkeys(TrackingStatus, 0)
    for figures in progress.values():
        by_status[figures.status] += 1
    return Summary(Page(items=shown, total=len(items), page=1, per_page=limit,
                        agreements=_agreements([item.agreement_id for item in shown])), by_status)


# ---------------------------------------------------------------- the daily follow-up

@dataclass(frozen=True)
class FollowUpResult:
    skipped: bool  # this day's run had already happened: nothing recomputed, nothing sent
    changed: list  # [(agreement id, previous status or None, new status)]
    digest_count: int  # MoUs in the alliance's digest
    reminder_count: int  # reminder emails to parties


def follow_up(on=None):
    """Daily (`flask alliance follow-up`), one unit of work: recompute every signed MoU's status and record a
    named event for each change, then email alliance staff a digest of the needs-attention list and each party
    (the owners and signers of the buyer and the seller) one reminder listing its own MoUs that need attention,
    through the outbox. Idempotent per Vietnamese day: the day's FollowUpRun row is written first, so a second
    run that day (or a concurrent one, which fails on the primary key and rolls back) sends nothing."""
    on = on or today()
    try:
        with unit_of_work():
            if db.session.get(FollowUpRun, on) is not None:
                return FollowUpResult(True, [], 0, 0)
            run = FollowUpRun(day=on)
            db.session.add(run)
            db.session.flush()
            progress = progress_map(on=on)
            changed = _record_statuses(progress)
            items = attention_items(on, progress=progress)
            run.digest_count = _send_digest(on, items)
            run.reminder_count = _send_reminders(items)
            result = FollowUpResult(False, changed, run.digest_count, run.reminder_count)
    except IntegrityError:
        db.session.rollback()
        if db.session.scalar(sa.select(FollowUpRun.day).where(FollowUpRun.day == on)) is None:
            raise
        return FollowUpResult(True, [], 0, 0)
    return result


def _record_statuses(progress):
    """Save each MoU's status; a new or changed one writes a TrackingEvent (status_changed)."""
    now = utcnow()
    stored = {row.agreement_id: row for row in db.session.scalars(sa.select(AgreementTracking))}
    changed = []
    for agreement_id, figures in sorted(progress.items()):
        row = stored.get(agreement_id)
        if row is None:
            row = AgreementTracking(agreement_id=agreement_id, status=figures.status, changed_at=now)
            db.session.add(row)
            status_changed(agreement_id, None, figures.status)
            changed.append((agreement_id, None, figures.status))
        elif row.status != figures.status:
            status_changed(agreement_id, row.status, figures.status)
            changed.append((agreement_id, row.status, figures.status))
            row.status, row.changed_at = figures.status, now
        row.checked_at = now
    return changed


def status_changed(agreement_id, previous, status):
    """The event: the follow-up found a new tracking status for this MoU (joins the unit of work)."""
    db.session.add(TrackingEvent(agreement_id=agreement_id, kind=TrackingEventKind.STATUS_CHANGED,
                                 previous_status=previous, status=status))


def _agreements(ids):
    if not ids:
        return {}
    statement = sa.select(Agreement).where(Agreement.id.in_(ids)).options(
        sa.orm.joinedload(Agreement.seller), sa.orm.joinedload(Agreement.buyer))
    return {a.id: a for a in db.session.scalars(statement)}


def _send_digest(on, items):
    """Email every active alliance staff member the day's needs-attention list (nothing when it is empty)."""
    if not items:
        return 0
    agreements = _agreements([item.agreement_id for item in items])
    rows = [(agreements[item.agreement_id], item) for item in items if item.agreement_id in agreements]
    staff = db.session.scalars(sa.select(User).join(User.organisation).where(
        Organisation.kind == OrganisationKind.ALLIANCE, User.is_active.is_(True)).order_by(User.id))
    link = notifications.link("alliance.needs_attention")
    for user in staff:
        notifications.send(user.email, _l("MoUs needing attention on %(day)s", day=on.strftime("%d/%m/%Y")),
                           "follow_up_digest", user.locale, user=user, rows=rows, link=link)
    return len(rows)


# Reasons the parties are reminded of (pending signatures are `flask agreements remind`'s business).
PARTY_REASONS = frozenset({"stalled", "behind", "milestones_overdue", "ending_soon"})


def _send_reminders(items):
    """Email the owners and signers of each buyer and seller one reminder listing its own MoUs that need
    attention, with the reasons. Returns the number of emails."""
    relevant = [item for item in items if item.progress is not None and PARTY_REASONS & set(item.codes)]
    agreements = _agreements([item.agreement_id for item in relevant])
    per_organisation = {}
    for item in relevant:
        agreement = agreements[item.agreement_id]
        reasons = [r for r in item.reasons if r.code in PARTY_REASONS]
        for organisation in (agreement.seller, agreement.buyer):
            per_organisation.setdefault(organisation.id, (organisation, []))[1].append(
                (agreement, item.progress, reasons))
    sent = 0
    for organisation, rows in per_organisation.values():
        for member in organisation.members:
            if member.may_sign:
                notifications.send(member.email, _l("Your MoUs that need attention"), "follow_up_reminder",
                                   member.locale, user=member, organisation=organisation, rows=[
                                       (a, p, r, notifications.link("agreements.detail", agreement_id=a.id))
                                       for a, p, r in rows])
                sent += 1
    return sent
