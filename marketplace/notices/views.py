"""The notices page of a signed-in person, and the unread count in the header."""
from flask import Blueprint, render_template
from flask_login import current_user, login_required

from marketplace.notices import services

blueprint = Blueprint("notices", __name__)


@blueprint.app_context_processor
def notice_context():
    """`unread_notice_count()` for the header (called only where shown)."""
    return {"unread_notice_count": lambda: services.unread_count(current_user)}


@blueprint.get("/notices")
@login_required
def index():
    """The newest notices of the person's organisation, unread ones marked; opening the page reads them."""
    notices = services.latest(current_user)
    if notices:
        services.mark_seen(current_user, notices[0][0].id)
    return render_template("notices/index.html", notices=notices)
