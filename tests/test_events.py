"""Every state change writes exactly one named event (docs/architecture.md, "How a request flows").

The guard finds every public function of the service modules that opens a unit of work (decorated
with `@unit_of_work()` or holding a `with unit_of_work():` block) by reading their source, and
requires each to be either exercised below (CASES: the call, and the one event kind it must write)
or exempt with a reason (EXEMPT). A new service function is therefore a failing test until someone
decides which event it writes. Each case records every INSERT, UPDATE and DELETE the call sends to
the database: the call must change some domain table (else the case proves nothing) and add exactly
one OrganisationEvent or CatalogEvent, of the expected kind.
"""
import ast
import contextlib
import importlib
import inspect
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from marketplace.accounts import services as accounts
from marketplace.accounts import sessions, throttle, tokens
from marketplace.accounts.models import (
    LoginUnlock,
    Organisation,
    OrganisationEvent,
    OrganisationEventKind,
    PendingRegistration,
)
from marketplace.agreements import services as agreements
from marketplace.agreements import terms as agreement_terms
from marketplace.agreements.models import AgreementEvent, AgreementEventKind
from marketplace.alliance import followup_log, milestones, nudges
from marketplace.catalog import importing
from marketplace.catalog import services as catalog
from marketplace.catalog.models import CatalogEvent, CatalogEventKind, OcopCertificate, Product
from marketplace.extensions import db
from marketplace.inquiries import services as inquiries
from marketplace.inquiries.models import InquiryEvent, InquiryEventKind
from marketplace.orders import services as orders
from marketplace.orders.models import OrderEvent, OrderEventKind, PaymentMode
from marketplace.payments import services as payments
from marketplace.payments.models import PaymentMethod, PaymentSettings
from marketplace.sqltypes import utcnow
from tests import factories
from tests.factories import PDF, invitation, jpeg, organisation_details, registration_details, reset_link

ROOT = Path(__file__).resolve().parent.parent
NEW_PASSWORD = "một mật khẩu mới dài của người quản trị"
# Written with a change but not the change itself: emails to send, the search index's change log.
BOOKKEEPING = {"outbox_message", "search_change", "data_version"}  # data_version: what caches key on
EVENT_TABLES = {"organisation_event", "catalog_event", "agreement_event", "inquiry_event", "order_event"}

# Functions that write without an audit event, and why. Everything else writes one (CASES).
EXEMPT = {
    "accounts.services.authenticate": "rehashing the same password with new parameters changes no credential",
    "accounts.services.user_for_api_token": "a usage stamp (last_used_at), written at most once a minute",
    "accounts.services.set_locale": "a personal display preference kept on the user row, not an action to audit",
    "accounts.sessions.start": "a login: the AuthSession row is its record (who, when, IP address, browser)",
    "accounts.sessions.end": "a logout: revoked_at on the AuthSession row records it",
    "accounts.sessions.resolve": "idle expiry and last-seen stamps on the AuthSession row",
    "accounts.sessions.mark_reauthenticated": "a stamp on the AuthSession row (re-entered password)",
    "orders.services.put_in_cart": "a buyer's own shopping list, not a commitment: the order records what was bought",
    "orders.services.remove_from_cart": "a buyer's own shopping list, not a commitment",
    "accounts.services.request_registration": "no organisation exists until the email is confirmed "
                                              "(confirm_registration writes `registered`); the request is its row",
    "accounts.services.prune": "housekeeping: deletes expired registration requests, which belong to no organisation",
    "notices.services.mark_seen": "a read receipt: how far a person has read their organisation's notices",
}


# ---------------------------------------------------------------- finding the units of work

def service_modules():
    """Every area's services.py, plus the modules that hold use cases under another name."""
    paths = sorted((ROOT / "marketplace").glob("*/services.py"))
    paths += [ROOT / "marketplace" / "accounts" / "sessions.py", ROOT / "marketplace" / "catalog" / "importing.py"]
    paths += [ROOT / "marketplace" / "alliance" / f"{name}.py" for name in ("milestones", "followup_log", "nudges")]
    return [".".join(path.relative_to(ROOT / "marketplace").with_suffix("").parts) for path in paths]


def _is_unit_of_work(node):
    call = node.func if isinstance(node, ast.Call) else None
    return (isinstance(call, ast.Name) and call.id == "unit_of_work") or (
        isinstance(call, ast.Attribute) and call.attr == "unit_of_work")


def opens_unit_of_work(function):
    if any(_is_unit_of_work(decorator) for decorator in function.decorator_list):
        return True
    return any(isinstance(node, ast.With) and any(_is_unit_of_work(item.context_expr) for item in node.items)
               for node in ast.walk(function))


def units_of_work():
    """{"area.module.function"} of every public top-level function that opens a unit of work."""
    found = set()
    for name in service_modules():
        module = importlib.import_module(f"marketplace.{name}")
        tree = ast.parse(inspect.getsource(module))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_") and opens_unit_of_work(node):
                found.add(f"{name}.{node.name}")
    return found


def test_the_finder_sees_decorated_functions_and_with_blocks():
    found = units_of_work()
    assert {"catalog.services.delete_product", "catalog.services.add_photos", "accounts.sessions.resolve",
            "catalog.importing.run_import", "accounts.services.change_password"} <= found
    assert "catalog.services.get_own_product" not in found


def test_every_unit_of_work_writes_an_event_or_is_exempt_with_a_reason():
    covered = {case.function for case in CASES}
    assert not covered & set(EXEMPT)
    missing = units_of_work() - covered - set(EXEMPT)
    assert not missing, f"say which event these write (CASES) or why none (EXEMPT): {sorted(missing)}"
    assert not (covered | set(EXEMPT)) - units_of_work(), "a case names a function that is no unit of work"


# ---------------------------------------------------------------- recording writes and events

WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


@contextlib.contextmanager
def written_tables():
    """The set of tables the block inserts into, updates or deletes from (any session, any statement)."""
    tables = set()

    def record(_conn, _cursor, statement, _parameters, _context, _executemany):
        match = WRITE.match(statement)
        if match:
            tables.add(match.group(1))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield tables
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


EVENT_MODELS = (OrganisationEvent, CatalogEvent, AgreementEvent, InquiryEvent, OrderEvent)


def last_event_ids():
    return [db.session.scalar(sa.select(sa.func.max(model.id))) or 0 for model in EVENT_MODELS]


def events_after(ids):
    db.session.expire_all()
    return [event for model, last in zip(EVENT_MODELS, ids, strict=True)
            for event in db.session.scalars(sa.select(model).where(model.id > last).order_by(model.id))]


def run_measured(call):
    """(tables written, events added) by `call()`."""
    before = last_event_ids()
    with written_tables() as tables:
        call()
    return tables, events_after(before)


# ---------------------------------------------------------------- the world the cases act in

@pytest.fixture
def world(app):
    alliance = factories.alliance_user()
    cooperative = factories.organisation("cooperative", status="verified")
    owner = factories.user(cooperative, email="owner@htx.example")
    member = factories.user(cooperative, email="member@htx.example", role="member")
    return SimpleNamespace(alliance=alliance, cooperative=cooperative, owner=owner, member=member)


def product_details(**overrides):
    values = {"name": "Na dai Chi Lăng", "category": "fresh_produce", "unit": "kg", "base_price_vnd": 60000,
              "min_order_qty": 100, "order_increment": 10}
    values.update(overrides)
    return catalog.ProductDetails.from_mapping(values)


def certificate_details(**overrides):
    values = {"stars": 4, "certificate_no": "LS-OCOP-2025-07", "decision_date": catalog.today() - timedelta(days=10)}
    values.update(overrides)
    return catalog.CertificateDetails.from_mapping(values)


def photo(name="vuon-na.jpg"):
    return FileStorage(io.BytesIO(jpeg()), filename=name)


def product_with_photos(w, count=2):
    product = factories.product(w.cooperative, status="draft")
    catalog.add_photos(w.owner, product.id, [photo(f"p{i}.jpg") for i in range(count)])
    return product


def one_row_file():
    data = ("name,category,unit,price_vnd,min_order_qty\r\nMiến dong Bình Gia,processed_food,kg,90000,20\r\n"
            .encode())
    return importing.read_table(data, "san-pham.csv")


@dataclass
class Case:
    """`arrange(world)` prepares the data (not measured) and returns the call to measure."""

    function: str
    kind: str
    arrange: Callable
    label: str = ""
    changes_state: bool = True  # False: the event (with its email) is all there is, e.g. a reminder

    @property
    def id(self):
        return f"{self.function.rsplit('.', 1)[1]}{'[' + self.label + ']' if self.label else ''}"


def _review(action, status, reason=""):
    def arrange(w):
        target = factories.organisation("cooperative", status=status)
        return lambda: accounts.review_organisation(w.alliance, target.id, action, reason)
    return arrange


def _accept_invitation(w):
    invitation(w)
    return lambda: accounts.accept_invitation("secret-of-the-invitation", "Vi Văn Thắng", factories.PASSWORD)


def _confirm_registration(w, email="minh@che-mauson.example"):
    accounts.request_registration("cooperative", registration_details(), email, "Hoàng Văn Minh", factories.PASSWORD)
    record = db.session.scalar(sa.select(PendingRegistration).filter_by(email=email))
    secret = "secret-of-the-registration"
    record.token_hash = tokens.digest(secret)
    db.session.commit()
    return lambda: accounts.confirm_registration(secret)


def _unlock_login(w, secret="secret-of-the-unlock-link"):
    db.session.add(LoginUnlock(user=w.member, token_hash=tokens.digest(secret), expires_at=utcnow() + timedelta(hours=1)))
    db.session.commit()
    return lambda: accounts.unlock_login(secret, factories.PASSWORD, throttle.Client(address="203.0.113.9"))


def _reset_password(w):
    secret = reset_link(w.member)
    return lambda: accounts.reset_password(secret, NEW_PASSWORD)


def _revoke_invitation(w):
    row = invitation(w)
    return lambda: accounts.revoke_invitation(w.owner, row.id)


def _signing_right_given(call):
    def arrange(w):
        accounts.set_signing_right(w.owner, w.member.id, True)
        return lambda: call(w)
    return arrange


def _revoke_api_token(w):
    token, _secret = accounts.create_api_token(w.member, "ERP sync")
    return lambda: accounts.revoke_api_token(w.member, token.id)


def _on_product(action, status="published", photos=0):
    """The call `action(w, product)` on a new product of the cooperative."""
    def arrange(w):
        product = factories.product(w.cooperative, status=status)
        if photos:
            catalog.add_photos(w.owner, product.id, [photo(f"p{i}.jpg") for i in range(photos)])
        return lambda: action(w, product)
    return arrange


def _on_certificate(action, status="pending", expires_on=None):
    """The call `action(w, certificate)` on a new product's OCOP certificate."""
    def arrange(w):
        product = factories.product(w.cooperative, stars=4, certificate_status=status, expires_on=expires_on)
        certificate = product.certificates[0]
        return lambda: action(w, certificate)
    return arrange


def _expire_certificates(due):
    def arrange(w):
        expiry = catalog.today() - timedelta(days=1) if due else None
        factories.product(w.cooperative, stars=4, certificate_status="verified", expires_on=expiry)
        return catalog.expire_certificates
    return arrange


def _agreement(w, steps=()):
    """An MoU between the world's cooperative and a new verified enterprise, sent, then taken through
    `steps` (names of the calls below)."""
    buyer = factories.user(factories.organisation("enterprise", status="verified"), email="mua@dn.example")
    product = factories.product(w.cooperative, name="Na dai Chi Lăng")
    details = agreement_terms.TermsDetails.from_mapping({
        "lines": [{"product_id": product.id, "quantity": 100, "period": "month", "price_basis": "tier"}],
        "start_date": catalog.today().isoformat(), "end_date": (catalog.today() + timedelta(days=90)).isoformat(),
        "delivery_place": "Kho Hà Nội"})
    agreement = agreements.send(buyer, agreements.draft(buyer, w.cooperative.id, details).id)
    calls = {
        "accept": lambda: agreements.accept(w.owner, agreement.id),
        "sign": lambda: agreements.sign(w.owner, agreement.id, factories.PASSWORD),
        "buyer signs": lambda: agreements.sign(buyer, agreement.id, factories.PASSWORD),
        "request void": lambda: agreements.request_void(buyer, agreement.id, "Hai bên thống nhất dừng."),
    }
    for step in steps:
        calls[step]()
    return SimpleNamespace(agreement=agreement, buyer=buyer, details=details, product=product)


def _on_agreement(call, steps=()):
    def arrange(w):
        a = _agreement(w, steps)
        return lambda: call(w, a)
    return arrange


def _agreement_details(w, product=None, place="Kho Hà Nội"):
    product = product or factories.product(w.cooperative, name="Mật ong rừng")
    return agreement_terms.TermsDetails.from_mapping({
        "lines": [{"product_id": product.id, "quantity": 10, "period": "total", "price_basis": "tier"}],
        "start_date": catalog.today().isoformat(), "end_date": (catalog.today() + timedelta(days=90)).isoformat(),
        "delivery_place": place})


def _milestone(**overrides):
    values = {"title": "Giao 2 tấn", "responsible": "seller", "due_on": catalog.today().isoformat()}
    return milestones.MilestoneDetails.from_mapping({**values, **overrides})


def _log_entry():
    return followup_log.EntryDetails.from_mapping({"kind": "call", "happened_on": catalog.today().isoformat(),
                                                   "note": "Gọi điện hỏi kế hoạch thu hoạch."})


def _on_signed(call):
    """A signed MoU of the world's cooperative, with a milestone the cooperative added and an entry of the
    follow-up log (not measured)."""
    def arrange(w):
        buyer = factories.user(factories.organisation("enterprise"))
        agreement = factories.signed_mou(buyer.organisation, w.cooperative, {factories.product(w.cooperative): 1000})
        milestone = milestones.add(w.owner, agreement.id, _milestone())
        entry = followup_log.record(w.alliance, agreement.id, _log_entry())
        signed = SimpleNamespace(agreement=agreement, buyer=buyer, milestone=milestone, entry=entry)
        return lambda: call(w, signed)
    return arrange


def _draft(w):
    buyer, details = _agreement(w).buyer, _agreement_details(w)
    return lambda: agreements.draft(buyer, w.cooperative.id, details)


def _send_draft(w):
    buyer = _agreement(w).buyer
    draft = agreements.draft(buyer, w.cooperative.id, _agreement_details(w))
    return lambda: agreements.send(buyer, draft.id)


def _remind(w):
    a = _agreement(w)
    later = a.agreement.state_changed_at + timedelta(days=30)
    return lambda: _frozen(later, agreements.remind)


def _prepare_one(w):
    buyer = _agreement(w).buyer
    event = agreements.create_conference(w.alliance, "Hội nghị kết nối 2024", "2024-11-20")
    row = agreements.BatchRow(seller_id=w.cooperative.id, buyer_id=buyer.organisation_id,
                              details=_agreement_details(w))
    return lambda: agreements.prepare_batch(w.alliance, event.id, [row])


def _question(w):
    buyer = factories.user(factories.organisation("enterprise", status="verified"), email="hoi@dn.example")
    product = factories.product(w.cooperative, name="Mật ong rừng")
    return buyer, product, inquiries.MessageDetails(body="Giá cho 500 lít?", quantity="500", period="month")


def _ask(w):
    buyer, product, details = _question(w)
    return lambda: inquiries.open_inquiry(buyer, product.id, details)


def _answer(w):
    buyer, product, details = _question(w)
    inquiry = inquiries.open_inquiry(buyer, product.id, details)
    return lambda: inquiries.reply(w.member, inquiry.id, inquiries.MessageDetails(body="380.000đ/lít",
                                                                                 unit_price_vnd="380000"))


def _frozen(moment, call):
    from freezegun import freeze_time

    with freeze_time(moment):
        return call()


def _order(w, steps=(), deposit=False):
    """An order of a new verified enterprise to the world's cooperative (which takes bank transfers), taken
    through `steps`: "confirm", "pay" (what is due before shipping), "ship"."""
    db.session.add(PaymentSettings(organisation_id=w.cooperative.id, bank_bin="970436", account_number="0011001932418",
                                   account_name="HTX", mode=PaymentMode.DEPOSIT if deposit else PaymentMode.FULL,
                                   deposit_percent=30))
    db.session.commit()
    buyer = factories.user(factories.organisation("enterprise", status="verified"), email="datmua@dn.example")
    product = factories.product(w.cooperative, name="Thạch đen", capacity_qty=100, capacity_period="month")
    order, = orders.place_orders(buyer, orders.OrderRequest.from_mapping(factories.order_request([(product, 20)])))
    for step in steps:
        if step == "confirm":
            orders.confirm(w.owner, order.id)
        elif step == "pay":
            payment = payments.start_payment(buyer, order.id, PaymentMethod.BANK_TRANSFER)
            payments.confirm_transfer(w.member, payment.id, payment.amount_vnd)
        elif step == "ship":
            orders.ship(w.member, order.id, "Phiếu giao 12")
    return SimpleNamespace(order=order, buyer=buyer, product=product)


def _on_order(call, steps=(), deposit=False):
    def arrange(w):
        o = _order(w, steps, deposit)
        return lambda: call(w, o)
    return arrange


def _place(w):
    buyer = factories.user(factories.organisation("enterprise", status="verified"), email="datmua@dn.example")
    product = factories.product(w.cooperative, capacity_qty=100, capacity_period="month")
    request = orders.OrderRequest.from_mapping(factories.order_request([(product, 20)]))
    return lambda: orders.place_orders(buyer, request)


def _transfer_arrives(w):
    o = _order(w, ["confirm"])
    payment = payments.start_payment(o.buyer, o.order.id, PaymentMethod.BANK_TRANSFER)
    return lambda: payments.confirm_transfer(w.member, payment.id, payment.amount_vnd)


def _succeeded_intent(w):
    o = _order(w, ["confirm"])
    payment = payments.start_payment(o.buyer, o.order.id, PaymentMethod.BANK_TRANSFER)
    payment.stripe_payment_intent_id = "pi_test_1"  # as if paid by card: the webhook path is the same
    db.session.commit()
    intent = SimpleNamespace(id="pi_test_1", status="succeeded", amount=payment.amount_vnd, currency="vnd",
                             last_payment_error=None)
    return lambda: payments.apply_intent(intent)


CASES = [
    # ------------------------------------------------------------ orders and payments
    Case("orders.services.place_orders", OrderEventKind.PLACED, _place),
    Case("orders.services.confirm", OrderEventKind.CONFIRMED, _on_order(lambda w, o: orders.confirm(w.owner, o.order.id))),
    Case("orders.services.reject", OrderEventKind.REJECTED,
         _on_order(lambda w, o: orders.reject(w.owner, o.order.id, "Hết hàng"))),
    Case("orders.services.cancel", OrderEventKind.CANCELLED,
         _on_order(lambda w, o: orders.cancel(o.buyer, o.order.id, "Đổi kế hoạch"), ["confirm"])),
    Case("orders.services.ship", OrderEventKind.SHIPPED,
         _on_order(lambda w, o: orders.ship(w.member, o.order.id, "Phiếu giao 12"), ["confirm", "pay"])),
    Case("orders.services.deliver", OrderEventKind.DELIVERED,
         _on_order(lambda w, o: orders.deliver(o.buyer, o.order.id), ["confirm", "pay", "ship"], deposit=True)),
    Case("payments.services.save_settings", OrganisationEventKind.PAYMENT_SETTINGS_CHANGED,
         lambda w: lambda: payments.save_settings(w.owner, payments.SettingsDetails(
             mode="deposit", deposit_percent="30", bank_bin="970436", account_number="0011001932418",
             account_name="HTX NA DAI"), factories.PASSWORD)),
    Case("payments.services.confirm_transfer", OrderEventKind.PAID, _transfer_arrives),
    Case("payments.services.apply_intent", OrderEventKind.PAID, _succeeded_intent),
    # ------------------------------------------------------------ agreements
    Case("agreements.services.draft", AgreementEventKind.CREATED, lambda w: _draft(w)),
    Case("agreements.services.revise", AgreementEventKind.REVISED, _on_agreement(
        lambda w, a: agreements.revise(w.owner, a.agreement.id, _agreement_details(w, a.product, "Kho Hải Phòng")))),
    Case("agreements.services.send", AgreementEventKind.SENT, lambda w: _send_draft(w)),
    Case("agreements.services.accept", AgreementEventKind.ACCEPTED,
         _on_agreement(lambda w, a: agreements.accept(w.owner, a.agreement.id))),
    Case("agreements.services.decline", AgreementEventKind.DECLINED,
         _on_agreement(lambda w, a: agreements.decline(w.owner, a.agreement.id, "Chưa đủ sản lượng."))),
    Case("agreements.services.withdraw", AgreementEventKind.WITHDRAWN,
         _on_agreement(lambda w, a: agreements.withdraw(a.buyer, a.agreement.id, "Đổi kế hoạch."))),
    Case("agreements.services.add_witness", AgreementEventKind.WITNESS_ADDED,
         _on_agreement(lambda w, a: agreements.add_witness(w.owner, a.agreement.id))),
    Case("agreements.services.sign", AgreementEventKind.SIGNED,
         _on_agreement(lambda w, a: agreements.sign(w.owner, a.agreement.id, factories.PASSWORD), ["accept"])),
    Case("agreements.services.request_void", AgreementEventKind.VOID_REQUESTED, _on_agreement(
        lambda w, a: agreements.request_void(w.owner, a.agreement.id, "Mất mùa."), ["accept", "sign", "buyer signs"])),
    Case("agreements.services.confirm_void", AgreementEventKind.VOIDED, _on_agreement(
        lambda w, a: agreements.confirm_void(w.owner, a.agreement.id),
        ["accept", "sign", "buyer signs", "request void"])),
    Case("agreements.services.complete", AgreementEventKind.COMPLETED, _on_agreement(
        lambda w, a: agreements.complete(w.alliance, a.agreement.id), ["accept", "sign", "buyer signs"])),
    Case("agreements.services.expire_lapsed", AgreementEventKind.EXPIRED, _on_agreement(
        lambda w, a: agreements.expire_lapsed(on=a.agreement.end_date + timedelta(days=1)))),
    Case("agreements.services.remind", AgreementEventKind.REMINDED, _remind, changes_state=False),
    # ------------------------------------------------------------ the follow-up of a signed MoU
    Case("alliance.milestones.add", AgreementEventKind.MILESTONE_ADDED,
         _on_signed(lambda w, s: milestones.add(s.buyer, s.agreement.id, _milestone()))),
    Case("alliance.milestones.update", AgreementEventKind.MILESTONE_CHANGED,
         _on_signed(lambda w, s: milestones.update(w.owner, s.agreement.id, s.milestone.id,
                                                   _milestone(title="Giao 3 tấn")))),
    Case("alliance.milestones.delete", AgreementEventKind.MILESTONE_DELETED,
         _on_signed(lambda w, s: milestones.delete(w.alliance, s.agreement.id, s.milestone.id))),
    Case("alliance.milestones.mark_done", AgreementEventKind.MILESTONE_DONE,
         _on_signed(lambda w, s: milestones.mark_done(w.member, s.agreement.id, s.milestone.id, "Đã giao"))),
    Case("alliance.followup_log.record", AgreementEventKind.FOLLOW_UP_RECORDED,
         _on_signed(lambda w, s: followup_log.record(w.alliance, s.agreement.id, _log_entry()))),
    Case("alliance.followup_log.delete", AgreementEventKind.FOLLOW_UP_DELETED,
         _on_signed(lambda w, s: followup_log.delete(w.alliance, s.agreement.id, s.entry.id))),
    Case("alliance.nudges.nudge", AgreementEventKind.NUDGED,
         _on_signed(lambda w, s: nudges.nudge(w.alliance, s.agreement.id, "both", "Đề nghị đặt hàng tháng 12."))),
    Case("agreements.services.record_view", AgreementEventKind.VIEWED,
         _on_agreement(lambda w, a: agreements.record_view(w.owner, a.agreement.id)), changes_state=False),
    Case("agreements.services.download", AgreementEventKind.DOWNLOADED, _on_agreement(
        lambda w, a: agreements.download(a.buyer, a.agreement.id), ["accept"]), "document", changes_state=False),
    Case("agreements.services.download", AgreementEventKind.DOWNLOADED, _on_agreement(
        lambda w, a: agreements.download(a.buyer, a.agreement.id, "certificate"), ["accept", "sign", "buyer signs"]),
         "certificate", changes_state=False),
    Case("agreements.services.draft_addendum", AgreementEventKind.CREATED, _on_agreement(
        lambda w, a: agreements.draft_addendum(a.buyer, a.agreement.id, _agreement_details(w, a.product)),
        ["accept", "sign", "buyer signs"])),
    Case("agreements.services.create_conference", OrganisationEventKind.CONFERENCE_CREATED,
         lambda w: lambda: agreements.create_conference(w.alliance, "Hội nghị kết nối 2024", "2024-11-20")),
    Case("agreements.services.prepare_batch", AgreementEventKind.CREATED, lambda w: _prepare_one(w)),
    # ------------------------------------------------------------ inquiries
    Case("inquiries.services.open_inquiry", InquiryEventKind.OPENED, lambda w: _ask(w)),
    Case("inquiries.services.reply", InquiryEventKind.REPLIED, lambda w: _answer(w)),
    # ------------------------------------------------------------ accounts
    Case("accounts.services.confirm_registration", OrganisationEventKind.REGISTERED, _confirm_registration),
    Case("accounts.services.change_password", OrganisationEventKind.PASSWORD_CHANGED,
         lambda w: lambda: accounts.change_password(w.member, factories.PASSWORD, NEW_PASSWORD)),
    Case("accounts.services.request_password_reset", OrganisationEventKind.PASSWORD_RESET_REQUESTED,
         lambda w: lambda: accounts.request_password_reset(w.member.email)),
    Case("accounts.services.reset_password", OrganisationEventKind.PASSWORD_RESET, _reset_password),
    Case("accounts.services.request_login_unlock", OrganisationEventKind.LOGIN_CEILING_REACHED,
         lambda w: lambda: accounts.request_login_unlock(w.member)),
    Case("accounts.services.unlock_login", OrganisationEventKind.LOGIN_UNLOCKED, _unlock_login),
    Case("accounts.services.update_organisation", OrganisationEventKind.UPDATED,
         lambda w: lambda: accounts.update_organisation(
             w.owner, organisation_details(w.cooperative, representative="Lương Thị Hoa")), "profile"),
    Case("accounts.services.update_organisation", OrganisationEventKind.RESUBMITTED,
         lambda w: lambda: accounts.update_organisation(
             w.owner, organisation_details(w.cooperative, legal_name="HTX Mới Đổi Tên")), "legal name"),
    Case("accounts.services.invite_member", OrganisationEventKind.MEMBER_INVITED,
         lambda w: lambda: accounts.invite_member(w.owner, "new@htx.example")),
    Case("accounts.services.accept_invitation", OrganisationEventKind.MEMBER_JOINED, _accept_invitation),
    Case("accounts.services.revoke_invitation", OrganisationEventKind.INVITATION_REVOKED, _revoke_invitation),
    Case("accounts.services.remove_member", OrganisationEventKind.MEMBER_REMOVED,
         lambda w: lambda: accounts.remove_member(w.owner, w.member.id)),
    Case("accounts.services.set_signing_right", OrganisationEventKind.SIGNING_RIGHT_GRANTED,
         lambda w: lambda: accounts.set_signing_right(w.owner, w.member.id, True), "grant"),
    Case("accounts.services.set_signing_right", OrganisationEventKind.SIGNING_RIGHT_REVOKED,
         _signing_right_given(lambda w: accounts.set_signing_right(w.owner, w.member.id, False)), "revoke"),
    Case("accounts.services.create_api_token", OrganisationEventKind.API_TOKEN_CREATED,
         lambda w: lambda: accounts.create_api_token(w.member, "ERP sync")),
    Case("accounts.services.revoke_api_token", OrganisationEventKind.API_TOKEN_REVOKED, _revoke_api_token),
    Case("accounts.services.review_organisation", OrganisationEventKind.VERIFIED, _review("verify", "pending"),
         "verify"),
    Case("accounts.services.review_organisation", OrganisationEventKind.REJECTED,
         _review("reject", "pending", "Mã số thuế không khớp."), "reject"),
    Case("accounts.services.review_organisation", OrganisationEventKind.SUSPENDED,
         _review("suspend", "verified", "Giấy phép hết hạn."), "suspend"),
    Case("accounts.services.review_organisation", OrganisationEventKind.REINSTATED,
         _review("reinstate", "suspended"), "reinstate"),
    Case("accounts.services.classify_cooperative", OrganisationEventKind.CLASSIFIED,
         lambda w: lambda: accounts.classify_cooperative(w.alliance, w.cooperative.id, "good")),
    Case("accounts.services.create_alliance_user", OrganisationEventKind.STAFF_ACCOUNT_CREATED,
         lambda w: lambda: accounts.create_alliance_user("canbo2@lienminh.example", "Nông Thị Lan",
                                                         factories.PASSWORD)),
    # ------------------------------------------------------------ catalogue
    Case("catalog.services.create_product", CatalogEventKind.CREATED,
         lambda w: lambda: catalog.create_product(w.member, product_details())),
    Case("catalog.services.update_product", CatalogEventKind.UPDATED, _on_product(
        lambda w, p: catalog.update_product(w.member, p.id, product_details(base_price_vnd=58000)), "draft")),
    Case("catalog.services.publish_product", CatalogEventKind.PUBLISHED,
         _on_product(lambda w, p: catalog.publish_product(w.member, p.id), "draft")),
    Case("catalog.services.hide_product", CatalogEventKind.HIDDEN,
         _on_product(lambda w, p: catalog.hide_product(w.member, p.id))),
    Case("catalog.services.delete_product", CatalogEventKind.DELETED,
         _on_product(lambda w, p: catalog.delete_product(w.member, p.id), photos=2)),
    Case("catalog.services.add_photos", CatalogEventKind.PHOTOS_ADDED, _on_product(
        lambda w, p: catalog.add_photos(w.member, p.id, [photo("a.jpg"), photo("b.jpg")]), "draft")),
    Case("catalog.services.remove_photo", CatalogEventKind.PHOTO_REMOVED,
         _on_product(lambda w, p: catalog.remove_photo(w.member, p.id, p.images[0].id), photos=2)),
    Case("catalog.services.make_cover", CatalogEventKind.COVER_PHOTO_CHANGED,
         _on_product(lambda w, p: catalog.make_cover(w.member, p.id, p.images[1].id), photos=2)),
    Case("catalog.services.add_certificate", CatalogEventKind.CERTIFICATE_ADDED, _on_product(
        lambda w, p: catalog.add_certificate(w.member, p.id, certificate_details(),
                                             scan=FileStorage(io.BytesIO(PDF), filename="giay.pdf")))),
    Case("catalog.services.withdraw_certificate", CatalogEventKind.CERTIFICATE_WITHDRAWN,
         _on_certificate(lambda w, c: catalog.withdraw_certificate(w.member, c.id))),
    Case("catalog.services.verify_certificate", CatalogEventKind.CERTIFICATE_VERIFIED,
         _on_certificate(lambda w, c: catalog.verify_certificate(w.alliance, c.id, "Đối chiếu quyết định."))),
    Case("catalog.services.revoke_certificate", CatalogEventKind.CERTIFICATE_REVOKED,
         _on_certificate(lambda w, c: catalog.revoke_certificate(w.alliance, c.id, "Số quyết định sai."), "verified")),
    Case("catalog.services.expire_certificates", CatalogEventKind.CERTIFICATE_EXPIRED, _expire_certificates(due=True)),
    Case("catalog.services.cooperative_for_import", OrganisationEventKind.IMPORTED,
         lambda w: lambda: catalog.cooperative_for_import(w.alliance, "HTX Hồi Văn Quan", factories.valid_tax_code(),
                                                          "hop_tac_xa", 20, 6040)),
    Case("catalog.services.import_product", CatalogEventKind.IMPORTED,
         lambda w: lambda: catalog.import_product(w.alliance, w.cooperative, product_details())),
    Case("catalog.importing.run_import", CatalogEventKind.IMPORTED,
         lambda w: lambda: importing.run_import(w.member, one_row_file())),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_state_change_writes_exactly_one_event_of_its_kind(world, case):
    call = case.arrange(world)
    tables, events = run_measured(call)
    if case.changes_state:
        assert tables - BOOKKEEPING - EVENT_TABLES, f"{case.id} changed nothing: the case does not exercise it"
    assert [event.kind for event in events] == [case.kind]


# ---------------------------------------------------------------- no change, no event

def _revoke_revoked_token(w):
    token, _secret = accounts.create_api_token(w.member, "old")
    accounts.revoke_api_token(w.member, token.id)
    return lambda: accounts.revoke_api_token(w.member, token.id)


def _revoke_revoked_invitation(w):
    row = invitation(w)
    accounts.revoke_invitation(w.owner, row.id)
    return lambda: accounts.revoke_invitation(w.owner, row.id)


def _view_again(w):
    a = _agreement(w)
    agreements.record_view(w.owner, a.agreement.id)
    return lambda: agreements.record_view(w.owner, a.agreement.id)


NO_CHANGE = {
    "hide a draft": _on_product(lambda w, p: catalog.hide_product(w.member, p.id), "draft"),
    "publish a published product": _on_product(lambda w, p: catalog.publish_product(w.member, p.id)),
    "make the cover the cover": _on_product(lambda w, p: catalog.make_cover(w.member, p.id, p.images[0].id),
                                            photos=2),
    "revoke a revoked token": _revoke_revoked_token,
    "revoke a revoked invitation": _revoke_revoked_invitation,
    "reset for an unknown email": lambda w: lambda: accounts.request_password_reset("nobody@example.vn"),
    "register with an email that has an account": lambda w: lambda: accounts.request_registration(
        "cooperative", registration_details(), w.member.email, "Hoàng Văn Minh", factories.PASSWORD),
    "import for a known cooperative": lambda w: lambda: catalog.cooperative_for_import(
        w.alliance, "Tên khác", w.cooperative.tax_code, "hop_tac_xa"),
    "expire when nothing is due": _expire_certificates(due=False),
    "view an MoU again": _view_again,
    "save a milestone unchanged": _on_signed(
        lambda w, s: milestones.update(w.owner, s.agreement.id, s.milestone.id, _milestone())),
    "give a signing right already given": _signing_right_given(
        lambda w: accounts.set_signing_right(w.owner, w.member.id, True)),
    "view one's own proposal": _on_agreement(lambda w, a: agreements.record_view(a.buyer, a.agreement.id)),
}


@pytest.mark.parametrize("name", sorted(NO_CHANGE))
def test_a_call_that_changes_nothing_writes_no_event(world, name):
    tables, events = run_measured(NO_CHANGE[name](world))
    assert tables - BOOKKEEPING == set()
    assert events == []


def test_login_and_logout_write_session_records_only(world):
    """Sessions are their own record: an organisation's history is not flooded with every login."""
    tables, events = run_measured(lambda: sessions.end(sessions.start(world.member, "203.0.113.9", "Firefox")))
    assert tables - BOOKKEEPING == {"auth_session", "user_account"} and events == []


# ---------------------------------------------------------------- what the new events say

def test_a_persons_events_belong_to_their_organisation_with_the_person_as_actor(world):
    token, _secret = accounts.create_api_token(world.member, "ERP sync")
    accounts.revoke_api_token(world.member, token.id)
    accounts.change_password(world.member, factories.PASSWORD, NEW_PASSWORD)
    events = db.session.scalars(sa.select(OrganisationEvent).order_by(OrganisationEvent.id)).all()
    assert [(e.kind, e.organisation_id, e.actor_id, e.note) for e in events] == [
        (OrganisationEventKind.API_TOKEN_CREATED, world.cooperative.id, world.member.id, "ERP sync"),
        (OrganisationEventKind.API_TOKEN_REVOKED, world.cooperative.id, world.member.id, "ERP sync"),
        (OrganisationEventKind.PASSWORD_CHANGED, world.cooperative.id, world.member.id, "member@htx.example"),
    ]


def test_a_reset_link_request_has_no_actor_and_never_the_secret(world, outbox):
    accounts.request_password_reset(world.member.email)
    event = db.session.scalar(sa.select(OrganisationEvent))
    secret = re.search(r"/reset-password/(\S+)", outbox[0].body).group(1)
    assert (event.kind, event.actor, event.note) == (OrganisationEventKind.PASSWORD_RESET_REQUESTED, None,
                                                     world.member.email)
    assert secret not in event.note


def test_the_alliance_sees_a_persons_events_on_the_organisation_page(world, client, auth):
    accounts.create_api_token(world.member, "Kết nối kế toán")
    auth.login(world.alliance.email)
    client.post("/language", data={"lang": "en"})
    page = client.get(f"/alliance/organisations/{world.cooperative.id}").get_data(as_text=True)
    assert "API token created" in page and "Kết nối kế toán" in page and world.member.full_name in page


def test_a_withdrawn_certificate_leaves_a_named_event_and_no_dangling_link(world):
    product = factories.product(world.cooperative, status="draft")
    certificate = catalog.add_certificate(world.owner, product.id, certificate_details())
    catalog.withdraw_certificate(world.owner, certificate.id)
    events = db.session.scalars(sa.select(CatalogEvent).order_by(CatalogEvent.id)).all()
    assert [(e.kind, e.product_id, e.certificate_id, e.note) for e in events] == [
        (CatalogEventKind.CERTIFICATE_ADDED, product.id, None, "4★ LS-OCOP-2025-07"),
        (CatalogEventKind.CERTIFICATE_WITHDRAWN, product.id, None, "4★ LS-OCOP-2025-07"),
    ]
    assert db.session.scalar(sa.select(sa.func.count(OcopCertificate.id))) == 0


def test_photo_events_name_the_uploads_and_show_in_the_product_history(world, client, auth):
    product = factories.product(world.cooperative, status="draft")
    catalog.add_photos(world.owner, product.id, [photo("vuon-na.jpg"), photo("hop-qua.jpg")])
    catalog.make_cover(world.owner, product.id, product.images[1].id)
    catalog.remove_photo(world.owner, product.id, product.images[1].id)
    auth.login(world.owner.email)
    client.post("/language", data={"lang": "en"})
    page = client.get(f"/products/{product.id}/edit").get_data(as_text=True)
    history = page[page.index('id="history-heading"'):]
    assert history.index("Photo removed") < history.index("Cover photo changed") < history.index("Photos added")
    assert "vuon-na.jpg, hop-qua.jpg" in history


def test_a_deleted_product_stays_in_the_cooperatives_list_of_deleted_products(world, client, auth):
    """The product list is where a cooperative looks for a product; its edit page (and history) are gone."""
    product = product_with_photos(world)
    name, product_id = product.name, product.id
    catalog.publish_product(world.owner, product_id)
    catalog.delete_product(world.member, product_id)
    assert db.session.get(Product, product_id) is None
    events = db.session.scalars(sa.select(CatalogEvent).order_by(CatalogEvent.id)).all()
    assert [e.kind for e in events] == [CatalogEventKind.PHOTOS_ADDED, CatalogEventKind.PUBLISHED,
                                        CatalogEventKind.DELETED]
    assert {e.product_id for e in events} == {None} and {e.cooperative_id for e in events} == {world.cooperative.id}
    assert (events[-1].note, events[-1].actor) == (name, world.member)

    auth.login(world.owner.email)
    client.post("/language", data={"lang": "en"})
    page = client.get("/workspace/products").get_data(as_text=True)
    deleted = page[page.index('id="deleted-heading"'):]
    assert "Deleted products" in page and name in deleted and world.member.full_name in deleted
    assert 'id="deleted-heading"' not in client.get("/workspace/products?status=draft").get_data(as_text=True)
    other = factories.user(factories.organisation("cooperative"), email="other@htx.example")
    assert catalog.deleted_products(other) == []


def test_a_refused_import_row_leaves_neither_its_new_cooperative_nor_its_event(world):
    """Row 1 names a new cooperative without its type (refused after the cooperative was created); row 2 is good."""
    columns = ("cooperative_name,cooperative_tax_code,cooperative_type,name,category,unit,price_vnd,"
               "min_order_qty\r\n")
    rows = (f"HTX Mới,{factories.valid_tax_code()},,Hồi khô,spices_herbs,kg,120000,10\r\n"
            f"{world.cooperative.legal_name},{world.cooperative.tax_code},hop_tac_xa,Quế,spices_herbs,kg,80000,10\r\n")
    report = importing.run_import(world.alliance, importing.read_table((columns + rows).encode(), "registry.csv"),
                                  valid_only=True)
    assert report.written and [row.line for row in report.invalid_rows] == [2]
    assert db.session.scalar(sa.select(sa.func.count(Organisation.id)).where(Organisation.legal_name == "HTX Mới")) == 0
    assert db.session.scalars(sa.select(OrganisationEvent.kind)).all() == []
    assert db.session.scalars(sa.select(CatalogEvent.kind)).all() == [CatalogEventKind.IMPORTED]


def test_every_event_kind_has_a_label_and_fits_its_column():
    from marketplace.accounts.models import LABELS

    for enum_class, model in ((OrganisationEventKind, OrganisationEvent), (CatalogEventKind, CatalogEvent)):
        length = model.__table__.c.kind.type.length
        for kind in enum_class:
            assert len(kind.value) <= length, kind
            assert kind in LABELS, kind


def test_kinds_that_share_a_value_keep_their_own_labels():
    """CatalogEventKind.CREATED and AgreementEventKind.CREATED are both "created": equal StrEnums."""
    from marketplace.accounts.models import label

    assert CatalogEventKind.CREATED == AgreementEventKind.CREATED
    assert str(label(CatalogEventKind.CREATED)) == "Product created"
    assert str(label(AgreementEventKind.CREATED)) == "Created"
