"""Alliance pages: the queue of OCOP certificates to check, and verifying or revoking one.

Routes live on the alliance blueprint, whose before_request already admits alliance staff only; the
services check again (Permission.CURATE_CATALOG) for every certificate.
"""
from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, TextAreaField
from wtforms.validators import DataRequired, Length

from marketplace.accounts.authz import is_alliance_staff
from marketplace.alliance.views import blueprint
from marketplace.catalog import services
from marketplace.catalog.models import CertificateStatus
from marketplace.catalog.services import today
from marketplace.errors import Conflict, ValidationFailed
from marketplace.pagecache import kept_for_the_organisation
from marketplace.querystring import MAX_PAGE, whole_number_arg

CERTIFICATE = "<id:certificate_id>"

ACTION_MESSAGES = {
    "verify": _l("The certificate is verified: the product shows its OCOP badge until the expiry date. "
                 "The cooperative has been told."),
    "revoke": _l("The certificate is revoked and the badge removed. The cooperative has been told why."),
}


class VerifyForm(FlaskForm):
    """What was checked: required by the service when the certificate has no scan."""

    note = TextAreaField(
        _l("What did you check?"),
        description=_l("For example: the decision of the provincial People's Committee, its number and date. "
                       "The cooperative can read it."),
        validators=[Length(max=services.VERIFY_NOTE_MAX)],
    )


class RevokeForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for revoking"),
        description=_l("The cooperative will read it. Say what is wrong and what they can do."),
        validators=[DataRequired(_l("Give the reason: the cooperative will read it.")), Length(max=2000)],
    )
    confirm = BooleanField(
        _l("I understand that the product loses its OCOP badge and that this cannot be undone."),
        validators=[DataRequired(_l("Tick the box to confirm."))],
    )


@blueprint.app_context_processor
def certificate_queue_context():
    """`pending_certificate_count()` for the header of alliance staff (called only where shown; counted once a
    request, since the certificates page shows it twice)."""
    def pending_certificate_count():
        if not is_alliance_staff(current_user):
            return 0
        if "pending_certificate_count" not in g:
            g.pending_certificate_count = services.count_certificates_to_review(current_user)
        return g.pending_certificate_count

    return {"pending_certificate_count": pending_certificate_count}


@blueprint.get("/certificates")
@kept_for_the_organisation
def certificates():
    status = request.args.get("status", CertificateStatus.PENDING.value)
    page = whole_number_arg(request.args, "page", MAX_PAGE, default=1)
    pagination = services.certificates_to_review(current_user, status=status, page=page)
    return render_template("alliance/certificates.html", pagination=pagination, statuses=list(CertificateStatus),
                           status=status if status in {s.value for s in CertificateStatus} else "", today=today())


@blueprint.get(f"/certificates/{CERTIFICATE}")
def certificate(certificate_id):
    return _detail_page(certificate_id)


def _detail_page(certificate_id, revoke_form=None, verify_form=None, problem=None, status=200):
    certificate = services.get_certificate(current_user, certificate_id)
    verify_form = verify_form or VerifyForm(formdata=None)
    verify_form.note.flags.required = not certificate.scan_name  # the service's rule, marked on the field
    return render_template(
        "alliance/certificate.html",
        certificate=certificate,
        verify_form=verify_form,
        revoke_form=revoke_form or RevokeForm(formdata=None),
        problem=problem,
        today=today(),
    ), status


@blueprint.post(f"/certificates/{CERTIFICATE}/<any(verify, revoke):action>")
def review_certificate(certificate_id, action):
    form = RevokeForm() if action == "revoke" else VerifyForm()
    forms = {"revoke_form" if action == "revoke" else "verify_form": form}
    if not form.validate_on_submit():
        return _detail_page(certificate_id, **forms, status=422)
    try:
        if action == "verify":
            services.verify_certificate(current_user, certificate_id, form.note.data)
        else:
            services.revoke_certificate(current_user, certificate_id, form.reason.data)
    except ValidationFailed as error:
        field = form.note if action == "verify" else form.reason
        field.errors = [str(message) for message in error.errors.values()] or [str(error.message)]
        return _detail_page(certificate_id, **forms, status=422)
    except Conflict as error:  # e.g. a colleague reviewed it first, or it expired meanwhile
        return _detail_page(certificate_id, problem=error.message, status=409)
    flash(ACTION_MESSAGES[action], "success")
    return redirect(url_for("alliance.certificate", certificate_id=certificate_id))
