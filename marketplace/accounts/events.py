"""The audit trail of organisations: one function per event (as saleor's order/events.py).

A service says what happened by name (`events.member_removed(member, actor)`) and the function adds
one `OrganisationEvent` to the service's unit of work, so the event commits with the change or not
at all. Events of a person (password, API tokens) belong to the history of their organisation, with
the person as actor. Notes hold what the history must still say when the row they describe is gone
(an email address, a token's name), never a secret.
"""
from marketplace.accounts.models import OrganisationEvent, OrganisationEventKind
from marketplace.extensions import db


def _add(organisation, kind, actor=None, note=""):
    event = OrganisationEvent(organisation=organisation, kind=kind, actor=actor, note=note or "")
    db.session.add(event)
    return event


# ---------------------------------------------------------------- the organisation

def organisation_registered(organisation, owner):
    """A cooperative or enterprise registered itself; its owner acted."""
    return _add(organisation, OrganisationEventKind.REGISTERED, owner)


def cooperative_imported(cooperative, actor):
    """The alliance's registry import created a (verified) cooperative."""
    return _add(cooperative, OrganisationEventKind.IMPORTED, actor)


def organisation_updated(organisation, actor):
    return _add(organisation, OrganisationEventKind.UPDATED, actor)


def organisation_resubmitted(organisation, actor):
    """Its legal name or tax code changed: back to the alliance for verification."""
    return _add(organisation, OrganisationEventKind.RESUBMITTED, actor)


def organisation_verified(organisation, actor, reason=""):
    return _add(organisation, OrganisationEventKind.VERIFIED, actor, reason)


def organisation_rejected(organisation, actor, reason):
    return _add(organisation, OrganisationEventKind.REJECTED, actor, reason)


def organisation_suspended(organisation, actor, reason):
    return _add(organisation, OrganisationEventKind.SUSPENDED, actor, reason)


def organisation_reinstated(organisation, actor, reason=""):
    return _add(organisation, OrganisationEventKind.REINSTATED, actor, reason)


def cooperative_classified(cooperative, actor):
    return _add(cooperative, OrganisationEventKind.CLASSIFIED, actor, cooperative.classification.value)


# ---------------------------------------------------------------- members

def member_invited(invitation, actor):
    return _add(invitation.organisation, OrganisationEventKind.MEMBER_INVITED, actor, invitation.email)


def invitation_revoked(invitation, actor):
    return _add(invitation.organisation, OrganisationEventKind.INVITATION_REVOKED, actor, invitation.email)


def member_joined(member):
    """The invited person accepted and has an account now."""
    return _add(member.organisation, OrganisationEventKind.MEMBER_JOINED, member, member.email)


def member_removed(member, actor):
    return _add(member.organisation, OrganisationEventKind.MEMBER_REMOVED, actor, member.email)


def signing_right_changed(member, actor, allowed):
    """The owner gave a member the right to sign agreements in the organisation's name, or took it back."""
    kind = OrganisationEventKind.SIGNING_RIGHT_GRANTED if allowed else OrganisationEventKind.SIGNING_RIGHT_REVOKED
    return _add(member.organisation, kind, actor, member.email)


def conference_created(actor, name):
    """Alliance staff recorded a conference that MoUs are prepared for (in the alliance's history)."""
    return _add(actor.organisation, OrganisationEventKind.CONFERENCE_CREATED, actor, name)


def staff_account_created(member):
    """An operator created an alliance staff account on the command line (no user acted)."""
    return _add(member.organisation, OrganisationEventKind.STAFF_ACCOUNT_CREATED, None, member.email)


# ---------------------------------------------------------------- a person's credentials

def password_changed(user, actor=None):
    """The user changed their password (knowing the current one); `actor` defaults to the user."""
    return _add(user.organisation, OrganisationEventKind.PASSWORD_CHANGED, actor or user, user.email)


def password_reset_requested(user):
    """Someone asked for a reset link for this user: not necessarily the user, so no actor."""
    return _add(user.organisation, OrganisationEventKind.PASSWORD_RESET_REQUESTED, None, user.email)


def password_reset(user):
    """The user set a new password through an emailed reset link."""
    return _add(user.organisation, OrganisationEventKind.PASSWORD_RESET, user, user.email)


def login_ceiling_reached(user):
    """Wrong passwords for this account reached its ceiling (from anywhere: no actor); the owner was
    emailed an unlock link. Note: the email, as for a reset link."""
    return _add(user.organisation, OrganisationEventKind.LOGIN_CEILING_REACHED, None, user.email)


def login_unlocked(user):
    """The user logged in through an emailed unlock link while the account was at its ceiling."""
    return _add(user.organisation, OrganisationEventKind.LOGIN_UNLOCKED, user, user.email)


def api_token_created(token, actor):
    return _add(token.user.organisation, OrganisationEventKind.API_TOKEN_CREATED, actor, token.name)


def api_token_revoked(token, actor):
    return _add(token.user.organisation, OrganisationEventKind.API_TOKEN_REVOKED, actor, token.name)


def payment_settings_changed(organisation, actor, note):
    """A cooperative set its payment terms or bank account (note: the terms and the account's last digits)."""
    return _add(organisation, OrganisationEventKind.PAYMENT_SETTINGS_CHANGED, actor, note)
