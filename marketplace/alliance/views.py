"""Alliance pages: the queue of organisations to verify, and review actions."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.validators import Length, Optional

from marketplace.accounts import services
from marketplace.accounts.authz import Permission, require
from marketplace.accounts.models import AllianceClassification, OrganisationKind, OrganisationStatus, label
from marketplace.errors import ValidationFailed
from marketplace.forms import select_choices
from marketplace.pagecache import kept_for_the_organisation
from marketplace.querystring import MAX_PAGE, whole_number_arg

blueprint = Blueprint("alliance", __name__, url_prefix="/alliance")

ACTION_MESSAGES = {
    "verify": _l("The organisation is verified. Its owner has been told."),
    "reject": _l("The registration is rejected. Its owner has been told why."),
    "suspend": _l("The organisation is suspended. Its owner has been told why."),
    "reinstate": _l("The organisation is reinstated."),
}


class ReviewForm(FlaskForm):
    reason = TextAreaField(_l("Reason (required to reject or suspend; the organisation will read it)"),
                           validators=[Optional(), Length(max=2000)])


class ClassificationForm(FlaskForm):
    classification = SelectField(_l("Classification (Circular 01/2020)"),
                                 choices=select_choices([(c.value, label(c)) for c in AllianceClassification]))


@blueprint.before_request
@login_required
def alliance_staff_only():
    require(current_user, Permission.REVIEW_ORGANISATIONS)


@blueprint.get("/organisations")
@kept_for_the_organisation
def organisations():
    status = request.args.get("status", OrganisationStatus.PENDING.value)
    kind = request.args.get("kind", "")
    query = request.args.get("q", "")
    page = whole_number_arg(request.args, "page", MAX_PAGE, default=1)
    pagination = services.list_organisations(current_user, status=status or None, kind=kind or None, query=query,
                                             page=page)
    return render_template(
        "alliance/organisations.html",
        pagination=pagination,
        status=status,
        kind=kind,
        q=query,
        statuses=list(OrganisationStatus),
        kinds=[OrganisationKind.COOPERATIVE, OrganisationKind.ENTERPRISE],
        pending_count=services.count_pending(current_user),
    )


@blueprint.get("/organisations/<id:organisation_id>")
def organisation(organisation_id):
    return _detail_page(organisation_id)


def _detail_page(organisation_id, review_form=None, status=200):
    organisation = services.get_organisation(current_user, organisation_id)
    classification_form = ClassificationForm(classification=organisation.classification or "average")
    return render_template(
        "alliance/organisation.html",
        organisation=organisation,
        events=services.organisation_events(current_user, organisation),
        review_form=review_form or ReviewForm(),
        classification_form=classification_form,
    ), status


@blueprint.post("/organisations/<id:organisation_id>/<any(verify, reject, suspend, reinstate):action>")
def review(organisation_id, action):
    form = ReviewForm()
    if form.validate_on_submit():
        try:
            services.review_organisation(current_user, organisation_id, action, form.reason.data)
        except ValidationFailed as error:
            form.reason.errors = [str(error.message)]
            return _detail_page(organisation_id, review_form=form, status=422)
        flash(ACTION_MESSAGES[action], "success")
        return redirect(url_for("alliance.organisation", organisation_id=organisation_id))
    return _detail_page(organisation_id, review_form=form, status=422)


@blueprint.post("/organisations/<id:organisation_id>/classification")
def classify(organisation_id):
    form = ClassificationForm()
    if form.validate_on_submit():
        services.classify_cooperative(current_user, organisation_id, form.classification.data)
        flash(_("Classification saved."), "success")
    return redirect(url_for("alliance.organisation", organisation_id=organisation_id))


from marketplace.alliance import attention  # noqa: E402,F401,I001  (needs-attention list on this blueprint)
from marketplace.alliance import certificates  # noqa: E402,F401  (OCOP certificate routes on this blueprint)
from marketplace.alliance import report_views  # noqa: E402,F401  (dashboard and reports on this blueprint)
