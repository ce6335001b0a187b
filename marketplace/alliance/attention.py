"""Alliance pages of the follow-up of signed MoUs: the needs-attention list (most urgent first).

Routes live on the alliance blueprint (alliance staff only); the service checks again
(Permission.FOLLOW_UP_AGREEMENTS)."""
from flask import render_template, request
from flask_login import current_user

from marketplace.alliance import tracking
from marketplace.alliance.tracking_models import TrackingStatus
from marketplace.alliance.views import blueprint
from marketplace.pagecache import kept_for_the_organisation
from marketplace.querystring import MAX_PAGE, whole_number_arg

STATUSES = tuple(s.value for s in TrackingStatus)


@blueprint.get("/follow-up")
@kept_for_the_organisation
def needs_attention():
    """MoUs needing attention, or every signed MoU of one tracking status (`?status=`), 20 a page."""
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    page = whole_number_arg(request.args, "page", MAX_PAGE, default=1)
    pagination = tracking.needs_attention(current_user, status=status or None, page=page)
    return render_template("alliance/needs_attention.html", pagination=pagination, status=status,
                           statuses=list(TrackingStatus))
