"""HTML pages of memoranda of understanding ("agreements" blueprint): the list of one's MoUs, the form to
start one or change its terms, the detail page with its actions, the PDFs, and the public verification.

Each view reads its input, calls one service and picks a response; services.py decides who may do what.
A refused action (not your turn, already signed, ...) is flashed on the MoU's page; bad input (a missing
reason, a wrong password, bad terms) is shown next to its field with status 422. pdf.py and signing.py
cost half a second to import: services import them only when a PDF is made, signed or verified.
"""
import io
from datetime import date, timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from marketplace.accounts import throttle
from marketplace.accounts.authz import Permission, is_alliance_staff, require
from marketplace.agreements import queries, services
from marketplace.agreements.forms import (
    TEMPLATE,
    AnswerForm,
    BatchForm,
    ConferenceForm,
    NewAgreementForm,
    ReasonForm,
    SignForm,
    TermsForm,
)
from marketplace.agreements.models import AgreementState
from marketplace.agreements.terms import TermsDetails
from marketplace.alliance import tracking
from marketplace.catalog.services import today
from marketplace.errors import DomainError, NotFound, ValidationFailed, error_response
from marketplace.extensions import limiter
from marketplace.forms import apply_service_errors, select_choices
from marketplace.i18n import short_date
from marketplace.pagecache import kept_for_the_organisation
from marketplace.querystring import MAX_PAGE, whole_number, whole_number_arg
from marketplace.routing import MAX_ID

blueprint = Blueprint("agreements", __name__)

AGREEMENT = "/agreements/<id:agreement_id>"
PER_PAGE = 20
VERIFY_ENDPOINTS = {"agreements.verify", "agreements.verify_reference"}
UPLOAD_OVERHEAD = 64 * 1024  # multipart headers and the CSRF field around the file


@blueprint.app_template_filter("isodate")
def isodate_filter(value):
    """An ISO date string (as the terms of a revision hold it) as dd/mm/yyyy; "—" when missing or unreadable."""
    try:
        return short_date(date.fromisoformat(value))
    except (TypeError, ValueError):
        return "—"


def _audit():
    return services.Audit(ip_address=request.remote_addr or "", user_agent=request.user_agent.string or "")


# ---------------------------------------------------------------- the list

@blueprint.get("/agreements")
@login_required
@kept_for_the_organisation
def index():
    """The MoUs of the user's organisation (every MoU for alliance staff), newest first, with filters."""
    state = request.args.get("state", "")
    state = state if state in {s.value for s in AgreementState} else ""
    event_id = whole_number_arg(request.args, "event_id", MAX_ID)
    page = whole_number_arg(request.args, "page", MAX_PAGE, default=1)
    pagination = services.list_agreements(current_user, state=state or None, event_id=event_id, page=page,
                                          per_page=PER_PAGE)
    filters = {"state": state or None, "event_id": event_id}
    return render_template("agreements/index.html", pagination=pagination, state=state, event_id=event_id,
                           filters={k: v for k, v in filters.items() if v}, states=list(AgreementState),
                           events=queries.event_choices(), may_draft=_may_draft())


def _may_draft():
    from marketplace.accounts.authz import can

    return can(current_user, Permission.SIGN_AGREEMENTS)


# ---------------------------------------------------------------- a new MoU

def _template_values(product=None, counterparty_id=None):
    """The MoU template in the reader's language, with the product (from a product page) on the first row."""
    start = today()
    values = {**TEMPLATE.get(str(get_locale()), TEMPLATE["vi"]), "counterparty_id": counterparty_id,
              "start_date": start.isoformat(), "end_date": (start + timedelta(days=364)).isoformat(), "lines": []}
    if product is not None:
        values["lines"] = [{"product_id": str(product.id), "quantity": str(product.min_order_qty), "period": "month",
                            "price_basis": "tier"}]
        if product.lead_time_days is not None:
            values["lead_time_days"] = str(product.lead_time_days)
    return values


def _new_form_page(form, seller, status=200):
    own = current_user.organisation
    form.set_products(seller.id if seller else None)
    form.counterparty_id.choices = select_choices(queries.counterparty_choices(own), _l("Choose…"))
    form.event_id.choices = select_choices(queries.event_choices(), _l("None"))
    return render_template("agreements/new.html", form=form, seller=seller, own=own), status


@blueprint.route("/agreements/new", methods=["GET", "POST"])
@login_required
def new():
    """Start an MoU: an enterprise chooses a cooperative first (its products fill the rows), a cooperative
    chooses the enterprise on the form. `?product_id=` (the product page's link) fills the first row."""
    require(current_user, Permission.SIGN_AGREEMENTS)  # the form is for verified cooperatives and enterprises
    own = current_user.organisation
    if request.method == "GET":
        inquiry_id = whole_number_arg(request.args, "inquiry_id", MAX_ID)
        if inquiry_id is not None:
            return _new_from_inquiry(inquiry_id)
        product = queries.public_product(whole_number_arg(request.args, "product_id", MAX_ID))
        counterparty_id = whole_number_arg(request.args, "counterparty_id", MAX_ID)
        if own.is_enterprise:
            seller = queries.verified_cooperative(product.cooperative_id if product else counterparty_id)
            if seller is None:
                return render_template("agreements/choose.html", choices=queries.counterparty_choices(own))
            counterparty_id = seller.id
        else:
            seller = own
            product = product if product is not None and product.cooperative_id == own.id else None
        form = NewAgreementForm(formdata=None, data=_template_values(product, counterparty_id))
        form.prepare_rows()
        return _new_form_page(form, seller)
    form = NewAgreementForm()
    seller = queries.verified_cooperative(form.counterparty_id.data) if own.is_enterprise else own
    if "add_line" in request.form:
        form.prepare_rows(add=1)
        return _new_form_page(form, seller)
    details, rows = form.details()
    try:
        agreement = services.draft(current_user, form.counterparty_id.data, TermsDetails.from_mapping(details),
                                   witness=form.witness.data, event_id=form.event_id.data, note=form.note.data,
                                   audit=_audit(), inquiry_id=whole_number((form.inquiry_id.data or "").strip(), 1,
                                                                           MAX_ID))
    except ValidationFailed as error:
        for message in form.place_errors(error, rows):
            flash(message, "danger")
        return _new_form_page(form, seller, status=422)
    flash(_("The draft %(reference)s is saved. Only your organisation sees it until you send it.",
            reference=agreement.reference), "success")
    return redirect(url_for("agreements.detail", agreement_id=agreement.id))


def _new_from_inquiry(inquiry_id):
    """The form prefilled from an inquiry thread: its other side, its product and the figures discussed."""
    from marketplace.inquiries import services as inquiries

    own = current_user.organisation
    values = inquiries.draft_values(current_user, inquiry_id)  # NotFound unless the thread is the user's
    product = queries.public_product(values["product_id"])
    seller = own if own.is_cooperative else queries.verified_cooperative(values["counterparty_id"])
    data = _template_values(product, values["counterparty_id"])
    if data["lines"]:
        line = data["lines"][0]
        if values["quantity"]:
            line["quantity"] = str(values["quantity"])
        if values["period"]:
            line["period"] = values["period"]
        if values["unit_price_vnd"]:
            line.update(price_basis="fixed", unit_price_vnd=str(values["unit_price_vnd"]))
    if values["delivery_place"]:
        data["delivery_place"] = values["delivery_place"]
    data["inquiry_id"] = str(inquiry_id)
    form = NewAgreementForm(formdata=None, data=data)
    form.prepare_rows()
    return _new_form_page(form, seller)


@blueprint.route(f"{AGREEMENT}/edit", methods=["GET", "POST"])
@login_required
def edit(agreement_id):
    """Change the terms: the initiator edits its draft; the party whose turn it is proposes changes."""
    try:
        agreement = services.for_revision(current_user, agreement_id)
    except services.InvalidTransition as error:
        flash(str(error.message), "danger")
        return redirect(url_for("agreements.detail", agreement_id=agreement_id))
    if request.method == "GET":
        form = TermsForm(formdata=None, data=queries.form_values(agreement.latest_revision))
        form.prepare_rows()
        return _edit_page(agreement, form)
    form = TermsForm()
    if "add_line" in request.form:
        form.prepare_rows(add=1)
        return _edit_page(agreement, form)
    details, rows = form.details()
    try:
        services.revise(current_user, agreement_id, TermsDetails.from_mapping(details), note=form.note.data,
                        audit=_audit())
    except ValidationFailed as error:
        for message in form.place_errors(error, rows):
            flash(message, "danger")
        return _edit_page(agreement, form, status=422)
    except services.InvalidTransition as error:
        flash(str(error.message), "danger")
        return redirect(url_for("agreements.detail", agreement_id=agreement_id))
    if agreement.state == AgreementState.DRAFT:
        flash(_("The draft is saved."), "success")
    else:
        flash(_("Your changes are sent: it is now %(party)s's turn.", party=agreement.turn.legal_name), "success")
    return redirect(url_for("agreements.detail", agreement_id=agreement_id))


@blueprint.route(f"{AGREEMENT}/addendum", methods=["GET", "POST"])
@login_required
def addendum(agreement_id):
    """Propose an addendum (phụ lục) to a signed MoU, starting from the terms in force."""
    parent = services.get_agreement(current_user, agreement_id)
    if not parent.is_party(current_user.organisation_id):
        abort(404)
    if request.method == "GET":
        if not parent.can_add_addendum(current_user.organisation_id):
            flash(_("An addendum changes a signed MoU, one addendum at a time, by its buyer or seller."), "danger")
            return _back(agreement_id)
        form = TermsForm(formdata=None, data=queries.form_values(parent.revision_in_force()))
        form.prepare_rows()
        return _addendum_page(parent, form)
    form = TermsForm()
    if "add_line" in request.form:
        form.prepare_rows(add=1)
        return _addendum_page(parent, form)
    details, rows = form.details()
    try:
        created = services.draft_addendum(current_user, agreement_id, TermsDetails.from_mapping(details),
                                          note=form.note.data, audit=_audit())
    except ValidationFailed as error:
        for message in form.place_errors(error, rows):
            flash(message, "danger")
        return _addendum_page(parent, form, status=422)
    except services.InvalidTransition as error:
        flash(str(error.message), "danger")
        return _back(agreement_id)
    flash(_("The draft addendum %(reference)s is saved. Send it to the other party from its page.",
            reference=created.reference), "success")
    return redirect(url_for("agreements.detail", agreement_id=created.id))


def _addendum_page(parent, form, status=200):
    form.set_products(parent.seller_id)
    return render_template("agreements/addendum.html", parent=parent, form=form), status


def _edit_page(agreement, form, status=200):
    form.set_products(agreement.seller_id)
    return render_template("agreements/edit.html", agreement=agreement, form=form), status


# ---------------------------------------------------------------- one MoU

@blueprint.get(AGREEMENT)
@login_required
def detail(agreement_id):
    """One MoU for its parties and the alliance: state, whose turn it is and why, terms, revisions and what
    changed between any two, the actions the user may take, the PDFs and the evidence log."""
    agreement = services.record_view(current_user, agreement_id, audit=_audit())
    return _detail_page(agreement)


def _detail_page(agreement, status=200, forms=None, open_form=None):
    numbers = [r.number for r in agreement.revisions]
    shown = (agreement.revision(whole_number_arg(request.args, "rev", MAX_ID) or 0)
             or agreement.agreed_revision or agreement.latest_revision)
    newer = agreement.revision(whole_number_arg(request.args, "to", MAX_ID) or 0) or agreement.latest_revision
    older = agreement.revision(whole_number_arg(request.args, "from", MAX_ID) or 0)
    if older is None and newer is not None and len(numbers) > 1:
        older = agreement.revision(numbers[numbers.index(newer.number) - 1]) if newer.number != numbers[0] else None
    comparable = older is not None and newer is not None and older is not newer
    changes = queries.change_rows(older, newer) if comparable else None
    own_id = current_user.organisation_id
    forms = forms or {}
    return render_template(
        "agreements/detail.html", agreement=agreement, shown=shown, older=older, newer=newer, changes=changes,
        events=services.events_of(current_user, agreement), own_id=own_id,
        is_staff=is_alliance_staff(current_user),
        decline_form=forms.get("decline") or ReasonForm(formdata=None, prefix="decline"),
        withdraw_form=forms.get("withdraw") or ReasonForm(formdata=None, prefix="withdraw"),
        void_form=forms.get("void") or ReasonForm(formdata=None, prefix="void"),
        sign_form=forms.get("sign") or SignForm(formdata=None),
        open_form=open_form, unit_label=queries.unit_label, certification_label=queries.certification_label,
        followup=_followup(agreement, forms),
        progress=tracking.progress_for_page(current_user, agreement),
    ), status


def _followup(agreement, forms):
    """The follow-up section (milestones, log, nudges: marketplace/alliance), with any form sent back."""
    from marketplace.alliance import followup_views

    return followup_views.section(agreement, forms)


def _back(agreement_id, anchor=None):
    return redirect(url_for("agreements.detail", agreement_id=agreement_id, _anchor=anchor))


def _act(agreement_id, call, success, form=None, form_name=None):
    """Run one service call for the detail page: success → flash and back; bad input → the page again with
    the message on the form's field (422); a signing password refused by the login throttle → the same,
    429 with Retry-After; a refused step → flashed on the page. NotFound stays a 404."""
    try:
        call()
    except throttle.TooManyAttempts as error:
        g.retry_after = error.retry_after  # web._init_retry_after writes it
        return _refused(agreement_id, ValidationFailed.for_fields({"password": error.message}), form, form_name,
                        error.status)
    except ValidationFailed as error:
        return _refused(agreement_id, error, form, form_name)
    except NotFound:
        raise
    except DomainError as error:
        flash(str(error.message), "danger")
        return _back(agreement_id)
    flash(success, "success")
    return _back(agreement_id)


def _refused(agreement_id, error, form, form_name, status=422):
    if form is None:
        flash(str(error.message), "danger")
        return _back(agreement_id)
    apply_service_errors(form, error)
    agreement = services.get_agreement(current_user, agreement_id)
    return _detail_page(agreement, status=status, forms={form_name: form}, open_form=form_name)


def _revision_number(form):
    return whole_number((form.revision_number.data or "").strip(), 1, MAX_ID)


@blueprint.post(f"{AGREEMENT}/send")
@login_required
def send(agreement_id):
    return _act(agreement_id, lambda: services.send(current_user, agreement_id, audit=_audit()),
                _("The MoU is sent: it is now the other party's turn."))


@blueprint.post(f"{AGREEMENT}/accept")
@login_required
def accept(agreement_id):
    number = _revision_number(AnswerForm())
    return _act(agreement_id, lambda: services.accept(current_user, agreement_id, number, audit=_audit()),
                _("You accepted the terms. The PDF is ready: each party now signs it."))


@blueprint.post(f"{AGREEMENT}/decline")
@login_required
def decline(agreement_id):
    form = ReasonForm(prefix="decline")
    return _act(agreement_id, lambda: services.decline(current_user, agreement_id, form.reason.data, audit=_audit()),
                _("You declined the MoU. The other party is told why."), form, "decline")


@blueprint.post(f"{AGREEMENT}/withdraw")
@login_required
def withdraw(agreement_id):
    form = ReasonForm(prefix="withdraw")
    return _act(agreement_id, lambda: services.withdraw(current_user, agreement_id, form.reason.data,
                                                        audit=_audit()),
                _("The MoU is withdrawn."), form, "withdraw")


@blueprint.post(f"{AGREEMENT}/witness")
@login_required
def add_witness(agreement_id):
    return _act(agreement_id, lambda: services.add_witness(current_user, agreement_id, audit=_audit()),
                _("The cooperative alliance is added as witness: it signs after both parties."))


@blueprint.post(f"{AGREEMENT}/sign")
@login_required
def sign(agreement_id):
    form = SignForm()
    number = _revision_number(form)
    return _act(agreement_id, lambda: services.sign(current_user, agreement_id, form.password.data or "",
                                                    revision_number=number, audit=_audit(),
                                                    client=throttle.client_of(request)),
                _("Signed. The signature and the document's hash are in the evidence log."), form, "sign")


@blueprint.post(f"{AGREEMENT}/void")
@login_required
def request_void(agreement_id):
    form = ReasonForm(prefix="void")
    return _act(agreement_id, lambda: services.request_void(current_user, agreement_id, form.reason.data,
                                                            audit=_audit()),
                _("Your request to void the MoU is sent. It is voided when the other party confirms."), form,
                "void")


@blueprint.post(f"{AGREEMENT}/void/confirm")
@login_required
def confirm_void(agreement_id):
    return _act(agreement_id, lambda: services.confirm_void(current_user, agreement_id, audit=_audit()),
                _("The MoU is voided."))


@blueprint.post(f"{AGREEMENT}/complete")
@login_required
def complete(agreement_id):
    return _act(agreement_id, lambda: services.complete(current_user, agreement_id, audit=_audit()),
                _("The MoU is recorded as carried out."))


def _pdf(name, data):
    response = send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True, download_name=name)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.get(f"{AGREEMENT}/document.pdf")
@login_required
def document(agreement_id):
    """The MoU's PDF as it stands (with the signatures made so far); each download is in the evidence log."""
    return _pdf(*services.download(current_user, agreement_id, services.DOCUMENT, audit=_audit()))


@blueprint.get(f"{AGREEMENT}/certificate.pdf")
@login_required
def certificate(agreement_id):
    """The completion certificate: signers, times, certificates and the document's hashes."""
    return _pdf(*services.download(current_user, agreement_id, services.CERTIFICATE, audit=_audit()))


# ---------------------------------------------------------------- the alliance's conferences

@blueprint.route("/conferences", methods=["GET", "POST"])
@login_required
def conferences():
    """Alliance staff: the conferences MoUs are prepared for, and a form to record one."""
    items = services.list_conferences(current_user)  # Forbidden for anyone but alliance staff
    form = ConferenceForm()
    if request.method == "POST":
        try:
            event = services.create_conference(current_user, form.name.data, form.held_on.data, form.place.data)
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            flash(_("The conference is recorded. Prepare its MoUs below."), "success")
            return redirect(url_for("agreements.conference", conference_id=event.id))
    return render_template("agreements/conferences.html", conferences=items, form=form), 422 if form.errors else 200


def _batch_form(form=None):
    from marketplace.accounts.models import OrganisationKind

    form = form or BatchForm(formdata=None, data={"start_date": today().isoformat(),
                                                  "end_date": (today() + timedelta(days=364)).isoformat()})
    form.set_choices(queries.verified_organisations(OrganisationKind.COOPERATIVE),
                     queries.verified_organisations(OrganisationKind.ENTERPRISE), queries.public_product_choices())
    return form


def _conference_page(event, form=None, problems=(), status=200):
    prepared = services.list_agreements(current_user, event_id=event.id, per_page=100)
    return render_template("agreements/conference.html", event=event, form=_batch_form(form), problems=problems,
                           agreements=prepared.items, total=prepared.total), status


def _prepare(event, lines):
    """Prepare the MoUs of these lines; the page again with the problems (each at its line) when refused."""
    from marketplace.agreements import batch

    grouped = batch.group(lines)
    try:
        created = services.prepare_batch(current_user, event.id, grouped.rows, audit=_audit())
    except ValidationFailed as error:
        return None, batch.messages(grouped, error)
    return created, ()


@blueprint.route("/conferences/<id:conference_id>", methods=["GET", "POST"])
@login_required
def conference(conference_id):
    """A conference: its MoUs, and the form preparing one MoU per cooperative–enterprise pair."""
    from marketplace.agreements import batch

    event = services.get_conference(current_user, conference_id)
    if request.method == "GET":
        return _conference_page(event)
    form = BatchForm()
    lines = [batch.Line(origin=str(_("Row %(number)s", number=number)), seller_id=row.seller_id.data,
                        buyer_id=row.buyer_id.data, product_id=row.product_id.data,
                        values={"quantity": row.quantity.data, "period": row.period.data, "price_basis": "tier",
                                "start_date": form.start_date.data, "end_date": form.end_date.data,
                                "delivery_place": form.delivery_place.data})
             for number, row in enumerate(form.rows, 1) if not row.is_blank()]
    created, problems = _prepare(event, lines)
    if problems:
        return _conference_page(event, form, problems, 422)
    flash(ngettext("%(num)s MoU prepared: each cooperative reviews its draft and sends it to the enterprise.",
                   "%(num)s MoUs prepared: each cooperative reviews its draft and sends it to the enterprise.",
                   len(created)), "success")
    return redirect(url_for("agreements.conference", conference_id=event.id))


@blueprint.post("/conferences/<id:conference_id>/import")
@login_required
def import_conference_batch(conference_id):
    """The same from a CSV file, one product per line (agreements/batch.py describes the columns)."""
    from marketplace.agreements import batch

    event = services.get_conference(current_user, conference_id)
    upload = request.files.get("file")
    try:
        lines = batch.read_csv(upload.read(current_app.config["MAX_CONTENT_LENGTH"]) if upload else b"")
    except ValidationFailed as error:
        return _conference_page(event, problems=[("", str(m)) for m in error.errors.values()], status=422)
    created, problems = _prepare(event, lines)
    if problems:
        return _conference_page(event, problems=problems, status=422)
    flash(ngettext("%(num)s MoU prepared: each cooperative reviews its draft and sends it to the enterprise.",
                   "%(num)s MoUs prepared: each cooperative reviews its draft and sends it to the enterprise.",
                   len(created)), "success")
    return redirect(url_for("agreements.conference", conference_id=event.id))


# ---------------------------------------------------------------- public: verification and the CA

@blueprint.get("/agreements/ca.pem")
def ca_certificate():
    """The platform's CA certificate (PEM), with which anyone can check the signatures of its PDFs."""
    from marketplace.agreements import signing

    return Response(signing.ca_certificate_pem(), mimetype="application/x-pem-file",
                    headers={"Content-Disposition": "attachment; filename=cho-htx-ca.pem",
                             "Cache-Control": "public, max-age=86400"})


@blueprint.get("/agreements/ca.crl")
def ca_crl():
    """The CA's certificate revocation list (DER), named in every certificate the platform issues."""
    from marketplace.agreements import signing

    return Response(signing.crl_der(), mimetype="application/pkix-crl",
                    headers={"Cache-Control": "public, max-age=3600"})


@blueprint.url_value_preprocessor
def _larger_uploads_for_verification(endpoint, _values):
    # Runs before every before_request function, so before CSRFProtect reads the form: a PDF to verify may
    # be up to VERIFY_MAX_BYTES (20 MB) where other uploads stop at MAX_CONTENT_LENGTH.
    if endpoint in VERIFY_ENDPOINTS and request.method == "POST":
        request.max_content_length = current_app.config["VERIFY_MAX_BYTES"] + UPLOAD_OVERHEAD


@blueprint.errorhandler(RequestEntityTooLarge)
def _too_large(error):
    if request.endpoint not in VERIFY_ENDPOINTS:
        return error_response(413, "request_entity_too_large", error.description)
    return _verify_page(status=413, refused="too_large")


VERIFY_MESSAGES = {
    "not_pdf": _l("This file is not a PDF."),
    "too_large": _l("This file is larger than 20 MB: documents of this platform are much smaller."),
    "encrypted": _l("This PDF is encrypted (password-protected): documents of this platform never are."),
    "malformed": _l("This PDF is damaged or cannot be read."),
    "unsigned": _l("This PDF has no signature: it is not a signed document of this platform."),
    "too_many_signatures": _l("This PDF has more signatures than a document of this platform."),
    "too_many_revisions": _l("This PDF was changed more times than a document of this platform."),
    "unsupported": _l("This PDF is written in a way documents of this platform never are."),
    "too_complex": _l("This PDF is more complex than a document of this platform; it was not checked."),
    "no_file": _l("Choose a PDF file to check."),
}


def _verify_page(status=200, record=None, verification=None, match=None, refused=None):
    return render_template("agreements/verify.html", record=record, verification=verification, match=match,
                           refused=refused, messages=VERIFY_MESSAGES,
                           max_megabytes=current_app.config["VERIFY_MAX_BYTES"] // (1024 * 1024)), status


def _check_upload(record=None):
    upload = request.files.get("document")
    if upload is None or not upload.filename:
        return _verify_page(422, record=record, refused="no_file")
    data = upload.read(current_app.config["VERIFY_MAX_BYTES"] + 1)
    verification, match = services.verify_document(data)
    return _verify_page(200 if verification.error is None else 422, record=record, verification=verification,
                        match=match)


@blueprint.route("/verify", methods=["GET", "POST"])
@limiter.limit("60 per hour", methods=["POST"])
def verify():
    """The public verification page: anyone uploads a PDF and sees whether it is a document of this platform,
    who signed it and when, whether anything changed after each signature, whether each certificate was valid
    and not revoked, and whether it is the final version on record."""
    if request.method == "GET":
        return _verify_page()
    return _check_upload()


@blueprint.route("/verify/<string(maxlength=40):reference>", methods=["GET", "POST"])
@limiter.limit("60 per hour", methods=["POST"])
def verify_reference(reference):
    """The page the QR code of every MoU PDF opens: the record of that reference, and the upload to check a
    copy against it."""
    record = services.public_record(reference)
    if record is None:
        abort(404)
    if request.method == "GET":
        return _verify_page(record=record)
    return _check_upload(record)
