"""The follow-up section of an MoU's page ("followup" blueprint): milestones with their evidence, the follow-up
log and nudges. Each view reads its form, calls one service and goes back to the MoU's page; the services
decide who may do what (a third party gets 404 from every route, the evidence download included). Bad input
comes back on the MoU's page with status 422 and the message at its field; a refused step is flashed."""
from flask import Blueprint, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.accounts.authz import is_alliance_staff
from marketplace.agreements.models import AgreementState
from marketplace.alliance import followup_common as common
from marketplace.alliance import followup_log, milestones, nudges
from marketplace.alliance.followup_forms import ConfirmForm, DoneForm, EntryForm, MilestoneForm, NudgeForm
from marketplace.catalog.services import today
from marketplace.errors import DomainError, NotFound, ValidationFailed
from marketplace.forms import apply_service_errors
from marketplace.upload_limits import upload_limits

blueprint = Blueprint("followup", __name__)

AGREEMENT = "/agreements/<id:agreement_id>"
MILESTONE = f"{AGREEMENT}/milestones/<id:milestone_id>"
ANCHOR = "follow-up"


def section(agreement, forms=None):
    """What the MoU's page shows of the follow-up, for the current user; None for whoever may not follow it
    (the witness's page shows it to alliance staff anyway)."""
    try:
        _agreement, role, staff = common.agreement_for(current_user, agreement.id)
    except NotFound:
        return None
    forms = forms or {}
    signed = agreement.state == AgreementState.SIGNED
    items = milestones.list_for(current_user, agreement)
    return {
        "role": role, "is_staff": staff, "today": today(), "milestones": items,
        "can_add": signed, "signed": signed,
        "milestone_form": forms.get("milestone") or MilestoneForm(formdata=None, prefix="milestone"),
        "done_forms": {m.id: forms.get(f"done-{m.id}") or DoneForm(formdata=None, prefix=f"done-{m.id}")
                       for m in items if signed and m.may_be_marked_done_by(role, staff)},
        "entries": followup_log.entries(current_user, agreement),
        "nudged": nudges.nudges_of(current_user, agreement),
        "entry_form": forms.get("log") or EntryForm(formdata=None, prefix="log", happened_on=today().isoformat()),
        "nudge_form": forms.get("nudge") or NudgeForm(formdata=None, prefix="nudge"),
        "may_nudge": staff and nudges.may_nudge(agreement),
        "confirm_form": ConfirmForm(formdata=None),
        "open_form": forms.get("_open"),
    }


def _back(agreement_id, anchor=ANCHOR):
    return redirect(url_for("agreements.detail", agreement_id=agreement_id, _anchor=anchor))


def _page(agreement_id, form, form_name, status):
    from marketplace.agreements import services as agreements
    from marketplace.agreements.views import _detail_page

    agreement = agreements.get_agreement(current_user, agreement_id)
    return _detail_page(agreement, status=status, forms={form_name: form, "_open": form_name})


def _act(agreement_id, call, success, form=None, form_name=None, anchor=ANCHOR):
    """Run one service call: success → flash and back to the follow-up section; bad input → the MoU's page
    with the message at the field (422); a nudge too soon → the same with 429 and Retry-After; any other
    refusal → flashed. NotFound stays a 404."""
    # CSRF is checked for every POST before any view runs (csrf.py); every field's rule is the service's.
    try:
        call()
    except nudges.NudgedRecently as error:
        g.retry_after = error.retry_after
        form.target.errors = [str(error.message)]
        return _page(agreement_id, form, form_name, error.status)
    except ValidationFailed as error:
        if form is None:
            flash(str(error.message), "danger")
            return _back(agreement_id)
        apply_service_errors(form, error)
        return _page(agreement_id, form, form_name, 422)
    except NotFound:
        raise
    except DomainError as error:
        flash(str(error.message), "danger")
        return _back(agreement_id)
    flash(success, "success")
    return _back(agreement_id, anchor)


# ---------------------------------------------------------------- milestones

@blueprint.post(f"{AGREEMENT}/milestones")
@login_required
def add_milestone(agreement_id):
    form = MilestoneForm(prefix="milestone")
    return _act(agreement_id, lambda: milestones.add(current_user, agreement_id, milestones.MilestoneDetails
                                                     .from_mapping(form.details_values())),
                _("The milestone is added. The other party has been told."), form, "milestone")


@blueprint.route(f"{MILESTONE}/edit", methods=["GET", "POST"])
@login_required
def edit_milestone(agreement_id, milestone_id):
    """A milestone's own form (the organisation that added it, or alliance staff, until it is done)."""
    milestone = milestones.get(current_user, agreement_id, milestone_id)
    agreement = milestone_agreement(agreement_id)
    if request.method == "GET" and not (agreement.state == AgreementState.SIGNED and milestone.may_be_changed_by(
            current_user.organisation_id, is_alliance_staff(current_user))):
        flash(_("Only the organisation that added this milestone, or the alliance, can change it, while the MoU is "
                "signed and the milestone not done."), "danger")
        return _back(agreement_id)
    form = MilestoneForm(prefix="milestone", data=None if request.method == "POST" else {
        "title": milestone.title, "responsible": milestone.responsible.value,
        "due_on": milestone.due_on.isoformat(), "repeat": milestone.repeat.value if milestone.repeat else "",
        "details": milestone.details})
    status = 200
    if request.method == "POST":
        try:
            milestones.update(current_user, agreement_id, milestone_id,
                              milestones.MilestoneDetails.from_mapping(form.details_values()))
        except ValidationFailed as error:
            apply_service_errors(form, error)
            status = 422
        except NotFound:
            raise
        except DomainError as error:
            flash(str(error.message), "danger")
            return _back(agreement_id)
        else:
            flash(_("The milestone is saved. The other party has been told."), "success")
            return _back(agreement_id)
    return render_template("alliance/milestone_edit.html", milestone=milestone, form=form, agreement=agreement), status


def milestone_agreement(agreement_id):
    from marketplace.agreements import services as agreements

    return agreements.get_agreement(current_user, agreement_id)


@blueprint.post(f"{MILESTONE}/delete")
@login_required
def delete_milestone(agreement_id, milestone_id):
    return _act(agreement_id, lambda: milestones.delete(current_user, agreement_id, milestone_id),
                _("The milestone is deleted. The other party has been told."), ConfirmForm(), "delete")


@blueprint.post(f"{MILESTONE}/done")
@upload_limits
@login_required
def mark_done(agreement_id, milestone_id):
    name = f"done-{milestone_id}"
    form = DoneForm(prefix=name)
    upload = form.evidence.data if form.evidence.data and form.evidence.data.filename else None
    return _act(agreement_id, lambda: milestones.mark_done(current_user, agreement_id, milestone_id,
                                                           form.note.data, upload),
                _("The milestone is marked done. The other party and the alliance have been told."), form, name)


@blueprint.get(f"{MILESTONE}/evidence")
@login_required
def evidence(agreement_id, milestone_id):
    """The evidence file, for the MoU's parties and alliance staff only: a PDF as a download, an image as WebP."""
    path, name, is_pdf = milestones.evidence(current_user, agreement_id, milestone_id)
    response = send_file(path, mimetype="application/pdf" if is_pdf else "image/webp", as_attachment=is_pdf,
                         download_name=name, conditional=False, etag=False)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# ---------------------------------------------------------------- the follow-up log and nudges

@blueprint.post(f"{AGREEMENT}/follow-up")
@login_required
def record_entry(agreement_id):
    form = EntryForm(prefix="log")
    return _act(agreement_id, lambda: followup_log.record(current_user, agreement_id, followup_log.EntryDetails
                                                          .from_mapping(form.details_values())),
                _("The follow-up is recorded."), form, "log")


@blueprint.post(f"{AGREEMENT}/follow-up/<id:entry_id>/delete")
@login_required
def delete_entry(agreement_id, entry_id):
    return _act(agreement_id, lambda: followup_log.delete(current_user, agreement_id, entry_id),
                _("The entry is removed from the follow-up log."), ConfirmForm(), "delete")


@blueprint.post(f"{AGREEMENT}/nudge")
@login_required
def nudge(agreement_id):
    form = NudgeForm(prefix="nudge")
    return _act(agreement_id, lambda: nudges.nudge(current_user, agreement_id, form.target.data, form.message.data),
                _("The nudge is sent: a notice on Chợ HTX and an email. It is in the follow-up log."), form, "nudge")
