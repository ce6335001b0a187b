"""In-app notices: posted inside the unit of work of the change they announce (like outbox emails), read by the
people of the organisation they are addressed to, and only by them."""
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from marketplace import unit_of_work as uow
from marketplace.errors import Forbidden
from marketplace.extensions import db
from marketplace.notices.models import Notice, NoticeCursor
from marketplace.sqltypes import utcnow

MAX_TITLE = 200
SHOWN = 50  # the newest notices a page lists


def post(organisation, title, body="", link="", sender=None):
    """Add a notice for every person of `organisation`. Must run inside the caller's unit of work (it never
    commits; raises RuntimeError outside one), so a rolled-back change posts nothing."""
    if not uow.active():
        raise RuntimeError("notices.post must run inside a unit of work")
    notice = Notice(organisation_id=organisation.id, title=str(title)[:MAX_TITLE], body=str(body), link=link,
                    sender_id=sender.id if sender is not None else None)
    db.session.add(notice)
    return notice


def _require_person(user):
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise Forbidden(_l("Please log in."), code="not_authenticated")


def _last_seen(user):
    return db.session.scalar(sa.select(NoticeCursor.last_seen_id).filter_by(user_id=user.id)) or 0


def latest(user, limit=SHOWN):
    """The newest notices of the user's organisation, each with `unread` set for this person."""
    _require_person(user)
    seen = _last_seen(user)
    notices = db.session.scalars(sa.select(Notice).filter_by(organisation_id=user.organisation_id)
                                 .order_by(Notice.id.desc()).limit(limit)).all()
    return [(notice, notice.id > seen) for notice in notices]


def unread_count(user):
    """How many notices of the user's organisation they have not seen (one COUNT on an index)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return 0
    seen = sa.select(NoticeCursor.last_seen_id).filter_by(user_id=user.id).scalar_subquery()
    return db.session.scalar(sa.select(sa.func.count(Notice.id)).where(
        Notice.organisation_id == user.organisation_id, Notice.id > sa.func.coalesce(seen, 0)))


@uow.unit_of_work()
def mark_seen(user, up_to_id):
    """The person has seen the notices up to `up_to_id` (the newest one listed); never moves backwards."""
    _require_person(user)
    cursor = db.session.get(NoticeCursor, user.id)
    if cursor is None:
        cursor = NoticeCursor(user_id=user.id, last_seen_id=0)
        db.session.add(cursor)
    if up_to_id > (cursor.last_seen_id or 0):
        cursor.last_seen_id = up_to_id
        cursor.seen_at = utcnow()
