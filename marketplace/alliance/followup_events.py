"""One function per event of an MoU's follow-up (as accounts/events.py and catalog/events.py): each adds one
AgreementEvent to the MoU's evidence log, in the caller's unit of work, through agreements.services."""
from marketplace.agreements import services as agreements
from marketplace.agreements.models import AgreementEventKind
from marketplace.alliance.followup_models import FollowUpKind


def _milestone_note(milestone):
    return f"{milestone.title} · {milestone.due_on.strftime('%d/%m/%Y')}"


def milestone_added(agreement, milestone, actor):
    agreements.record_follow_up(agreement, AgreementEventKind.MILESTONE_ADDED, actor, _milestone_note(milestone))


def milestone_changed(agreement, milestone, actor):
    agreements.record_follow_up(agreement, AgreementEventKind.MILESTONE_CHANGED, actor, _milestone_note(milestone))


def milestone_done(agreement, milestone, actor):
    agreements.record_follow_up(agreement, AgreementEventKind.MILESTONE_DONE, actor, _milestone_note(milestone))


def milestone_deleted(agreement, milestone, actor):
    agreements.record_follow_up(agreement, AgreementEventKind.MILESTONE_DELETED, actor, _milestone_note(milestone))


def follow_up_recorded(agreement, entry, actor):
    agreements.record_follow_up(agreement, AgreementEventKind.FOLLOW_UP_RECORDED, actor,
                                f"{FollowUpKind(entry.kind).value} · {entry.happened_on.strftime('%d/%m/%Y')}")


def follow_up_deleted(agreement, entry, actor):
    agreements.record_follow_up(agreement, AgreementEventKind.FOLLOW_UP_DELETED, actor,
                                f"{FollowUpKind(entry.kind).value} · {entry.happened_on.strftime('%d/%m/%Y')}: "
                                f"{entry.note}")


def nudged(agreement, organisations, actor):
    agreements.record_follow_up(agreement, AgreementEventKind.NUDGED, actor,
                                ", ".join(o.legal_name for o in organisations))
