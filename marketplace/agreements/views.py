"""HTML pages of memoranda of understanding ("agreements" blueprint)."""
from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from marketplace.agreements import services

blueprint = Blueprint("agreements", __name__)


@blueprint.get("/agreements/<id:agreement_id>")
@login_required
def detail(agreement_id):
    """One MoU for its parties and the alliance: state, whose turn it is, terms and history."""
    agreement = services.get_agreement(current_user, agreement_id)
    return render_template("agreements/detail.html", agreement=agreement,
                           events=services.events_of(current_user, agreement))


@blueprint.get("/verify/<string(maxlength=40):reference>")
def verify_reference(reference):
    """The public verification page of a document of this platform (the QR code of every MoU PDF)."""
    agreement = services.public_record(reference)
    if agreement is None:
        abort(404)
    return render_template("agreements/verify.html", agreement=agreement)
