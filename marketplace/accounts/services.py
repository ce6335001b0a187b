"""Use cases of accounts: registration, login, members, invitations, password reset, API tokens,
and the alliance's review of organisations. Each use case runs in one unit of work: it checks its
rules, writes its rows, an event and its emails (outbox rows), and commits once.
"""
import re
from dataclasses import dataclass, fields

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload
from stdnum.vn import mst

from marketplace import geo, notifications, textinput
from marketplace.accounts import events, passwords, sessions, throttle, tokens
from marketplace.accounts.authz import Permission, require
from marketplace.accounts.models import (
    AllianceClassification,
    ApiToken,
    CooperativeType,
    Invitation,
    LoginUnlock,
    MemberRole,
    Organisation,
    OrganisationEvent,
    OrganisationKind,
    OrganisationStatus,
    PasswordReset,
    PendingRegistration,
    Sector,
    User,
)
from marketplace.errors import Conflict, DomainError, Forbidden, LinkUnusable, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.sqltypes import utcnow
from marketplace.unit_of_work import unit_of_work

PHONE_PATTERN = re.compile(r"^(\+84|0)\d{9,10}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SELF_REGISTERING_KINDS = (OrganisationKind.COOPERATIVE, OrganisationKind.ENTERPRISE)
# The forms' limits are the columns' sizes; the services check them, so no path stores a cut value.
LEGAL_NAME_MAX = Organisation.__table__.c.legal_name.type.length  # 200
STREET_ADDRESS_MAX = Organisation.__table__.c.street_address.type.length  # 200
REPRESENTATIVE_MAX = Organisation.__table__.c.representative.type.length  # 120
FULL_NAME_MAX = User.__table__.c.full_name.type.length  # 120
EMAIL_MAX = User.__table__.c.email.type.length  # 254, as RFC 5321 allows
TOKEN_NAME_MAX = ApiToken.__table__.c.name.type.length  # 80
REASON_MAX = 2000  # a review reason: what the organisation reads, as for a revoked certificate


class InvalidCredentials(DomainError):
    status = 401
    code = "invalid_credentials"


@dataclass
class OrganisationDetails:
    """What an organisation says about itself. Status and classification are never part of it."""

    legal_name: str = ""
    tax_code: str = ""
    province_code: int | None = None
    commune_code: int | None = None
    street_address: str = ""
    phone: str = ""
    email: str = ""
    representative: str = ""
    sector: str | None = None
    cooperative_type: str | None = None
    member_count: int | None = None
    founded_year: int | None = None

    @classmethod
    def from_mapping(cls, data):
        """Keep only known fields: extra keys (status, role, is_verified...) are ignored."""
        return cls(**{f.name: data.get(f.name) for f in fields(cls) if data.get(f.name) is not None})


# ---------------------------------------------------------------- validation

def normalise_email(email):
    return textinput.clean(email).lower()


def _too_long(max_length):
    return _l("Use at most %(max)s characters.", max=max_length)


def _email_problem(email):
    """Why a normalised email cannot be used (a message), or None."""
    if not EMAIL_PATTERN.match(email) or textinput.invisible_chars(email):
        return _l("Enter a valid email address.")
    if len(email) > EMAIL_MAX:
        return _too_long(EMAIL_MAX)
    return None


# The example the hints show: its check digit is right (0101234567 fails the checksum clean_tax_code
# enforces), and tests/accounts/test_registration.py holds it to that.
TAX_CODE_EXAMPLE = "0101234565-001"
TAX_CODE_HINT = _l("A tax code has 10 digits, or 13 written as 10-3 (e.g. %(example)s).", example=TAX_CODE_EXAMPLE)


def clean_tax_code(value):
    """The compact form of a valid Vietnamese tax code (10 or 13 digits), or None (also used by the import)."""
    tax_code = re.sub(r"[\s.]", "", value or "")
    return mst.compact(tax_code) if mst.is_valid(tax_code) else None


def _name_problem(value, max_length, missing):
    """Why a cleaned name cannot be used (`missing` when it is empty), or None."""
    if not value:
        return missing
    if len(value) > max_length:
        return _too_long(max_length)
    if not textinput.has_letter_or_digit(value):
        return textinput.NEEDS_LETTER_OR_DIGIT
    return None


def _clean_details(kind, details, organisation_id=None):
    """Validate and normalise details in place; raise ValidationFailed listing every bad field."""
    errors = {}
    details.legal_name = textinput.clean(details.legal_name)
    if problem := _name_problem(details.legal_name, LEGAL_NAME_MAX, _l("Enter the legal name.")):
        errors["legal_name"] = problem
    tax_code = clean_tax_code(details.tax_code)
    if tax_code is None:
        errors["tax_code"] = TAX_CODE_HINT
    else:
        details.tax_code = tax_code
        clash = db.session.scalar(db.select(Organisation.id).filter_by(tax_code=details.tax_code))
        if clash is not None and clash != organisation_id:
            errors["tax_code"] = _l("An organisation with this tax code is already registered.")
    if not geo.is_valid_location(details.province_code, details.commune_code):
        errors["commune_code"] = _l("Choose the province, then a commune of that province.")
    details.phone = re.sub(r"[\s.()-]", "", details.phone or "")
    if not PHONE_PATTERN.match(details.phone):
        errors["phone"] = _l("Enter a Vietnamese phone number, e.g. 0205 3812 345 or +84 912 345 678.")
    details.email = normalise_email(details.email)
    if problem := _email_problem(details.email):
        errors["email"] = problem
    details.representative = textinput.clean(details.representative)
    if problem := _name_problem(details.representative, REPRESENTATIVE_MAX,
                                _l("Enter the name of the legal representative.")):
        errors["representative"] = problem
    details.street_address = textinput.clean(details.street_address)
    if len(details.street_address) > STREET_ADDRESS_MAX:
        errors["street_address"] = _too_long(STREET_ADDRESS_MAX)
    if details.sector not in {s.value for s in Sector}:
        errors["sector"] = _l("Choose a sector.")
    if kind == OrganisationKind.COOPERATIVE:
        _clean_cooperative_fields(details, errors)
    else:
        details.cooperative_type = details.member_count = details.founded_year = None
    if errors:
        raise ValidationFailed.for_fields(errors)
    return details


def _clean_cooperative_fields(details, errors):
    if details.cooperative_type not in {t.value for t in CooperativeType}:
        errors["cooperative_type"] = _l("Choose the type of cooperative.")
    details.member_count = _whole(details.member_count)
    if details.member_count is not None and not 1 <= details.member_count <= 100000:
        errors["member_count"] = _l("Enter a number of members between 1 and 100000.")
    this_year = utcnow().year
    details.founded_year = _whole(details.founded_year)
    if details.founded_year is not None and not 1945 <= details.founded_year <= this_year:
        errors["founded_year"] = _l("Enter a year between 1945 and %(year)s.", year=this_year)


def _whole(value):
    """An int from a form or mapping value; 0 (out of every range) for text that is not a whole number."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


EMAIL_TAKEN = _l("An account with this email already exists. Log in or reset your password.")


def _clean_person(email, full_name, password, personal_words=(), refuse_taken=True):
    """Check a new person's email, name and password. `refuse_taken=False` leaves an email that has an
    account to the caller (registration must not say so)."""
    errors = {}
    email = normalise_email(email)
    if problem := _email_problem(email):
        errors["owner_email"] = problem
    elif refuse_taken and _user_id_by_email(email) is not None:
        errors["owner_email"] = EMAIL_TAKEN
    full_name = textinput.clean(full_name)
    if problem := _name_problem(full_name, FULL_NAME_MAX, _l("Enter your full name.")):
        errors["full_name"] = problem
    try:
        passwords.check_policy(password, [email, full_name, *personal_words])
    except ValidationFailed as error:
        errors["password"] = error.message
    return email, full_name, errors


def _user_id_by_email(email):
    return db.session.scalar(db.select(User.id).filter_by(email=email))


def _new_user(email, full_name, password, organisation, role, password_hash=None):
    """A user already validated by _clean_person."""
    return User(email=email, full_name=full_name, password_hash=password_hash or passwords.hash_password(password),
                organisation=organisation, role=role)


# ---------------------------------------------------------------- registration and login

@unit_of_work()
def request_registration(kind, details, owner_email, full_name, password, locale=None):
    """Check a self-registration and email its owner; nothing is created until the email is confirmed.

    A new email gets a link (valid REGISTRATION_CONFIRM_TTL) that `confirm_registration` follows. An
    email that already has an account gets a note saying someone tried to register with it, and no
    link. The caller cannot tell which happened: the same answer (None) and the same work (the
    password is hashed, one email rendered and queued) either way (ASVS 2.2, no enumeration). Raises
    ValidationFailed with per-field errors for bad input, which never includes a taken email.
    """
    kind = OrganisationKind(kind)
    if kind not in SELF_REGISTERING_KINDS:
        raise ValidationFailed(_l("Only cooperatives and enterprises can register."), field="kind")
    errors = {}
    try:
        _clean_details(kind, details)
    except ValidationFailed as error:
        errors.update(error.errors)
    email, full_name, person_errors = _clean_person(owner_email, full_name, password, [details.legal_name],
                                                    refuse_taken=False)
    errors.update(person_errors)
    if errors:
        raise ValidationFailed.for_fields(errors)
    password_hash = passwords.hash_password(password)  # kept for a new registration, spent work otherwise
    existing = db.session.scalar(db.select(User).filter_by(email=email))
    if existing is not None:
        notifications.send(existing.email, _l("Someone tried to register on Chợ HTX with your email"),
                           "registration_attempt", existing.locale, user=existing,
                           login_link=notifications.link("accounts.login"),
                           reset_link=notifications.link("accounts.forgot_password"))
        return
    secret = tokens.new_secret()
    db.session.add(PendingRegistration(
        email=email, kind=kind, details=vars(details), full_name=full_name, password_hash=password_hash,
        locale=locale, token_hash=tokens.digest(secret),
        expires_at=utcnow() + current_app.config["REGISTRATION_CONFIRM_TTL"],
    ))
    notifications.send(email, _l("Confirm your email to finish registering on Chợ HTX"), "registration_confirm",
                       locale, full_name=full_name, legal_name=details.legal_name,
                       link=notifications.link("accounts.confirm_registration", token=secret))


def _open_registration(secret):
    record = db.session.scalar(db.select(PendingRegistration).filter_by(token_hash=tokens.digest(secret or "")))
    # A finished registration's record is deleted: its link is then as unknown as a made-up one.
    if record is None or record.expires_at <= utcnow():
        raise LinkUnusable(_l("This link is invalid or has expired. Register again to get a new one."),
                           kind="registration", reason="unknown" if record is None else "expired")
    return record


def check_registration_token(secret):
    """Raise LinkUnusable (a NotFound) unless the registration link can still be used."""
    _open_registration(secret)


@unit_of_work()
def confirm_registration(secret):
    """Create the pending organisation and its owner of a registration whose emailed link was followed.

    The owner proved they read the email. Every rule is checked again: meanwhile the tax code may
    have been registered by someone else (ValidationFailed) or the email confirmed through another
    registration (Conflict, code email_taken). Raises NotFound for an unknown, used or expired link.
    """
    record = _open_registration(secret)
    details = OrganisationDetails.from_mapping(record.details)
    _clean_details(record.kind, details)
    if _user_id_by_email(record.email) is not None:
        raise Conflict(EMAIL_TAKEN, code="email_taken")
    organisation = Organisation(kind=record.kind, status=OrganisationStatus.PENDING, **vars(details))
    user = _new_user(record.email, record.full_name, None, organisation, MemberRole.OWNER,
                     password_hash=record.password_hash)
    user.locale = record.locale
    # The link is spent, and so are other requests of this email: none may hold a password hash longer.
    db.session.execute(db.delete(PendingRegistration).where(PendingRegistration.email == record.email))
    db.session.add_all([organisation, user])
    events.organisation_registered(organisation, user)
    return user


def authenticate(email, password, client=None, unlocking=False):
    """Return the user for these credentials or raise InvalidCredentials (the same answer for every
    failure, unknown emails included).

    `client` (throttle.Client: address, trusted-browser cookie) is held to the login throttle: raises
    throttle.TooManyAttempts, before the password is checked, while this address must wait or while
    the account is at its ceiling and the browser is not trusted. `unlocking`: an emailed unlock link
    is being followed, which lets the browser past the ceiling. The wrong password that brings the
    account to its ceiling emails its owner an unlock link (request_login_unlock).
    """
    email = normalise_email(email)
    user = db.session.scalar(db.select(User).filter_by(email=email))
    if user is not None and not user.is_active:
        user = None
    if not _throttled_password_check(email, user, password, client, unlocking):
        raise InvalidCredentials(_l("Wrong email or password."))
    if passwords.needs_rehash(user.password_hash):
        with unit_of_work():
            user.password_hash = passwords.hash_password(password)
    return user


def check_password(user, password, client=None):
    """True when a signed-in `user` re-entered their password correctly (signing an MoU, changing the
    password), held to the login throttle exactly as a login from `client` would be: the same counters
    per (account, address) and per account, so guesses here and at the login page add up. Raises
    throttle.TooManyAttempts, before the password is checked, while this pair must wait (or while the
    account is at its ceiling and the browser is not trusted). Call it outside the caller's unit of
    work: the wrong password that brings the account to its ceiling commits its unlock email."""
    return _throttled_password_check(user.email, user, password, client)


def _throttled_password_check(email, user, password, client=None, unlocking=False):
    """The login throttle around one password check; `user` None (unknown or removed) always fails,
    after the same work."""
    client = client or throttle.Client(address="")
    trusted = unlocking or client.trusts(user)
    throttle.check(email, client, trusted)
    if user is None or not _password_matches(user, password):
        if user is None:
            passwords.burn_time(passwords.normalise(password or "")[:passwords.MAX_LENGTH])
        if throttle.failed(email, client, trusted) and user is not None and not unlocking:
            request_login_unlock(user)
        return False
    throttle.succeeded(email, client)
    return True


@unit_of_work()
def request_login_unlock(user):
    """Email the owner of an account at its login ceiling a single-use link (valid LOGIN_UNLOCK_TTL)
    that lets a browser past the ceiling. Called once per ceiling window, by authenticate."""
    secret = tokens.new_secret()
    db.session.add(LoginUnlock(user=user, token_hash=tokens.digest(secret),
                               expires_at=utcnow() + current_app.config["LOGIN_UNLOCK_TTL"]))
    events.login_ceiling_reached(user)
    notifications.send(user.email, _l("Someone is trying passwords on your Chợ HTX account"), "login_unlock",
                       user.locale, user=user, link=notifications.link("accounts.unlock_login", token=secret),
                       reset_link=notifications.link("accounts.forgot_password"))


def _open_unlock(secret):
    record = db.session.scalar(db.select(LoginUnlock).filter_by(token_hash=tokens.digest(secret or "")))
    if record is None or not record.is_open(utcnow()) or not record.user.is_active:
        raise NotFound(_l("This link is invalid or has expired. If logging in is still refused, ask for a "
                          "password reset."), code="invalid_token")
    return record


def open_login_unlock(secret):
    """The user an unlock link is for; raises NotFound when it is unknown, used or expired."""
    return _open_unlock(secret).user


@unit_of_work()
def unlock_login(secret, password, client):
    """Log in through an emailed unlock link: the password is checked as at login (the per-address
    delays apply) but the account's ceiling does not. Spends the user's unlock links. Raises NotFound,
    InvalidCredentials or throttle.TooManyAttempts."""
    record = _open_unlock(secret)
    user = authenticate(record.user.email, password, client, unlocking=True)
    now = utcnow()
    for link in db.session.scalars(db.select(LoginUnlock).filter_by(user_id=user.id, used_at=None)):
        link.used_at = now
    events.login_unlocked(user)
    return user


def _password_matches(user, password):
    """No password longer than the policy allows was ever set: such input is not even hashed."""
    password = passwords.normalise(password or "")
    if len(password) > passwords.MAX_LENGTH:
        passwords.burn_time(password[:passwords.MAX_LENGTH])
        return False
    return passwords.verify_password(user.password_hash, password)


def change_password(user, current_password, new_password, keep_session_secret=None, client=None):
    """Change a password after checking the current one. Other sessions end, every API token is revoked
    and the user is told by mail. Returns the number of API tokens revoked (the page says so too).

    The current password is checked under the login throttle (check_password, before the unit of work:
    a session left open must not let anyone guess it freely); raises throttle.TooManyAttempts."""
    if not check_password(user, current_password, client):
        raise ValidationFailed(_l("The current password is wrong."), field="current_password")
    with unit_of_work():
        passwords.check_policy(new_password, [user.email, user.full_name])
        user.password_hash = passwords.hash_password(new_password)
        user.password_changed_at = utcnow()
        revoked = _end_everything_of(user, keep_session_secret)
        events.password_changed(user)
        _notify_password_changed(user, revoked)
        return revoked


def _end_everything_of(user, keep_session_secret=None):
    """A new password ends what the old one opened: sessions (but the one kept), API tokens, reset links.

    Returns the number of API tokens revoked. A token is a password of its own: whoever learnt the old
    password may have created one, so it must not outlive the change.
    """
    sessions.end_all_for(user, keep_secret=keep_session_secret)
    _spend_reset_links(user)
    return _revoke_api_tokens(user)


def _revoke_api_tokens(user):
    now, revoked = utcnow(), 0
    for token in db.session.scalars(db.select(ApiToken).filter_by(user_id=user.id, revoked_at=None)):
        token.revoked_at = now
        revoked += 1
    return revoked


def _notify_password_changed(user, revoked_tokens):
    notifications.send(user.email, _l("Your Chợ HTX password was changed"), "password_changed", user.locale,
                       user=user, revoked_tokens=revoked_tokens)


@unit_of_work()
def request_password_reset(email, locale=None):
    """Email a single-use reset link when an active account has this email, else a note that no account
    uses the address (to something shaped like an address). The answer (None) and the work (one email
    rendered and queued) are the same either way (ASVS 2.2, no enumeration); `locale` is the asker's,
    for the note."""
    email = normalise_email(email)
    # The organisation comes with the user (its event needs it): both paths read the database once.
    user = db.session.scalar(
        db.select(User).filter_by(email=email, is_active=True).options(joinedload(User.organisation)))
    secret = tokens.new_secret()
    if user is None:
        if _email_problem(email) is None:
            notifications.send(email, _l("Reset your Chợ HTX password"), "password_reset_unknown", locale,
                               email=email, link=notifications.link("accounts.register_start"))
        return
    db.session.add(
        PasswordReset(
            user=user,
            token_hash=tokens.digest(secret),
            expires_at=utcnow() + current_app.config["PASSWORD_RESET_TTL"],
        )
    )
    events.password_reset_requested(user)
    link = notifications.link("accounts.reset_password", token=secret)
    notifications.send(user.email, _l("Reset your Chợ HTX password"), "password_reset", user.locale, user=user,
                       link=link)


def _open_reset(secret):
    record = db.session.scalar(db.select(PasswordReset).filter_by(token_hash=tokens.digest(secret or "")))
    if record is None or record.used_at is not None or record.expires_at <= utcnow():
        reason = "unknown" if record is None else "used" if record.used_at is not None else "expired"
        raise LinkUnusable(_l("This reset link is invalid or has expired. Ask for a new one."), kind="reset",
                           reason=reason)
    return record


def _spend_reset_links(user):
    """A new password makes every outstanding reset link useless (an older mail may have leaked)."""
    outstanding = db.select(PasswordReset).filter_by(user_id=user.id, used_at=None)
    for record in db.session.scalars(outstanding):
        record.used_at = utcnow()


@unit_of_work()
def prune():
    """Forget registration requests past their link's lifetime (they hold a password hash) and login
    unlock links that can no longer be used. Daily; returns the number of registration requests deleted."""
    now = utcnow()
    result = db.session.execute(db.delete(PendingRegistration).where(PendingRegistration.expires_at <= now))
    db.session.execute(db.delete(LoginUnlock).where(LoginUnlock.expires_at <= now))
    return result.rowcount


def check_reset_token(secret):
    """Raise LinkUnusable (a NotFound: used, expired or unknown) unless the reset link can still be used."""
    _open_reset(secret)


@unit_of_work()
def reset_password(secret, new_password):
    """Set a new password with a reset token: the token is spent, every session ends and every API
    token is revoked; the user is told by mail. Returns (user, number of API tokens revoked)."""
    record = _open_reset(secret)
    user = record.user
    passwords.check_policy(new_password, [user.email, user.full_name])
    user.password_hash = passwords.hash_password(new_password)
    user.password_changed_at = record.used_at = utcnow()
    revoked = _end_everything_of(user)
    events.password_reset(user)
    _notify_password_changed(user, revoked)
    return user, revoked


@unit_of_work()
def set_locale(user, locale):
    if locale in current_app.config["LANGUAGES"] and user.locale != locale:
        user.locale = locale


# ---------------------------------------------------------------- organisation and members

def get_organisation(actor, organisation_id):
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound()
    require(actor, Permission.VIEW_ORGANISATION, organisation)
    return organisation


@unit_of_work()
def update_organisation(actor, details):
    """The owner edits the profile. Changing the tax code or name of a verified organisation sends it back to review.

    Raises Forbidden (code alliance_profile_read_only) for the alliance: its staff review profiles, and
    the alliance's own record is kept by the platform's operators.
    """
    organisation = actor.organisation
    require(actor, Permission.MANAGE_ORGANISATION, organisation)
    if organisation.is_alliance:
        raise Forbidden(_l("The cooperative alliance's profile cannot be edited here."),
                        code="alliance_profile_read_only")
    _clean_details(organisation.kind, details, organisation_id=organisation.id)
    identity_changed = (details.tax_code, details.legal_name) != (organisation.tax_code, organisation.legal_name)
    for name, value in vars(details).items():
        setattr(organisation, name, value)
    if identity_changed and organisation.status == OrganisationStatus.VERIFIED:
        organisation.status = OrganisationStatus.PENDING
        organisation.status_changed_at = utcnow()
        events.organisation_resubmitted(organisation, actor)
    else:
        events.organisation_updated(organisation, actor)
    return organisation


@unit_of_work()
def invite_member(actor, email, role=MemberRole.MEMBER):
    """The owner invites someone by email; the link expires after INVITATION_TTL.

    An email that already has an account (of another organisation, or removed) is answered the same as a
    new one (ASVS 2.2, no enumeration, as registration): the invitation is recorded, listed and written
    to the history alike, but its owner gets a note that someone invited the address, with no link
    (an account belongs to one organisation). Only a colleague already active in the owner's own
    organisation, whom the members page lists anyway, is refused (Conflict, code already_member).
    """
    organisation = actor.organisation
    require(actor, Permission.MANAGE_ORGANISATION, organisation)
    email = normalise_email(email)
    if problem := _email_problem(email):
        raise ValidationFailed(problem, field="email")
    if role not in {r.value for r in MemberRole}:
        raise ValidationFailed(_l("Choose owner or member."), field="role")
    existing = db.session.scalar(db.select(User).filter_by(email=email))
    if existing is not None and existing.is_active and existing.organisation_id == organisation.id:
        raise Conflict(_l("This person is already a member of your organisation."), code="already_member")
    role = MemberRole(role)
    secret = tokens.new_secret()
    invitation = Invitation(
        organisation=organisation,
        email=email,
        role=role,
        token_hash=tokens.digest(secret),
        invited_by=actor,
        expires_at=utcnow() + current_app.config["INVITATION_TTL"],
    )
    db.session.add(invitation)
    events.member_invited(invitation, actor)
    subject = _l("You are invited to join %(name)s on Chợ HTX", name=organisation.legal_name)
    if existing is not None:  # the secret is never sent: this invitation cannot be accepted
        notifications.send(existing.email, subject, "invitation_existing_account", existing.locale, user=existing,
                           invitation=invitation, login_link=notifications.link("accounts.login"))
        return invitation
    link = notifications.link("accounts.accept_invitation", token=secret)
    notifications.send(email, subject, "invitation", actor.locale, invitation=invitation, link=link)
    return invitation


def open_invitation(secret):
    """The invitation behind a link, or NotFound when it is unknown, used, revoked or expired."""
    invitation = db.session.scalar(db.select(Invitation).filter_by(token_hash=tokens.digest(secret or "")))
    if invitation is None or not invitation.is_open(utcnow()):
        raise NotFound(_l("This invitation is invalid or has expired. Ask the owner for a new one."),
                       code="invalid_token")
    return invitation


@unit_of_work()
def accept_invitation(secret, full_name, password):
    """Create the invited user's account; the invitation is spent."""
    invitation = open_invitation(secret)
    email, full_name, errors = _clean_person(invitation.email, full_name, password)
    if errors:
        raise ValidationFailed.for_fields(errors)
    user = _new_user(email, full_name, password, invitation.organisation, invitation.role)
    invitation.accepted_at = utcnow()
    db.session.add(user)
    events.member_joined(user)
    return user


@unit_of_work()
def revoke_invitation(actor, invitation_id):
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.organisation_id != actor.organisation_id:
        raise NotFound()
    require(actor, Permission.MANAGE_ORGANISATION, invitation.organisation)
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        events.invitation_revoked(invitation, actor)


def pending_invitations(actor):
    require(actor, Permission.MANAGE_ORGANISATION)
    now = utcnow()
    query = (db.select(Invitation).filter_by(organisation_id=actor.organisation_id)
             .order_by(Invitation.created_at.desc()))
    return [i for i in db.session.scalars(query) if i.is_open(now)]


@unit_of_work()
def remove_member(actor, user_id):
    """The owner removes a member: the account is deactivated and its sessions and tokens end."""
    member = db.session.get(User, user_id)
    if member is None or member.organisation_id != actor.organisation_id or not member.is_active:
        raise NotFound()
    require(actor, Permission.MANAGE_ORGANISATION, member.organisation)
    if member.id == actor.id:
        raise Conflict(_l("You cannot remove yourself."), code="cannot_remove_self")
    if member.is_owner:
        raise Conflict(_l("Another owner cannot be removed."), code="cannot_remove_owner")
    member.is_active = False
    sessions.end_all_for(member)
    _revoke_api_tokens(member)
    events.member_removed(member, actor)


@unit_of_work()
def set_signing_right(owner, user_id, allowed):
    """The owner gives a member the right to sign agreements in the organisation's name, or takes it back.

    Owners always sign. Raises NotFound (not an active member of the owner's organisation), Forbidden (the
    actor is not an owner) or Conflict (`owner_always_signs`). A call that changes nothing writes no event.
    """
    member = db.session.get(User, user_id)
    if member is None or member.organisation_id != owner.organisation_id or not member.is_active:
        raise NotFound()
    require(owner, Permission.MANAGE_ORGANISATION, member.organisation)
    if member.is_owner:
        raise Conflict(_l("Owners always sign for the organisation."), code="owner_always_signs")
    allowed = bool(allowed)
    if member.can_sign != allowed:
        member.can_sign = allowed
        events.signing_right_changed(member, owner, allowed)
    return member


def active_members(actor):
    require(actor, Permission.VIEW_ORGANISATION)
    return [m for m in actor.organisation.members if m.is_active]


# ---------------------------------------------------------------- API tokens

@unit_of_work()
def create_api_token(user, name):
    """Return (ApiToken, secret). The secret is shown once and never stored."""
    name = textinput.clean(name)
    if not name or len(name) > TOKEN_NAME_MAX:
        raise ValidationFailed(_l("Give the token a name of at most 80 characters."), field="name")
    if not textinput.has_letter_or_digit(name):
        raise ValidationFailed(textinput.NEEDS_LETTER_OR_DIGIT, field="name")
    if not user.is_active:
        raise NotFound()
    secret = tokens.new_secret(prefix="cht_")
    token = ApiToken(user=user, name=name, token_hash=tokens.digest(secret), prefix=secret[:10])
    db.session.add(token)
    events.api_token_created(token, user)
    return token, secret


def list_api_tokens(user):
    query = db.select(ApiToken).filter_by(user_id=user.id, revoked_at=None).order_by(ApiToken.created_at.desc())
    return list(db.session.scalars(query))


@unit_of_work()
def revoke_api_token(user, token_id):
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound()
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        events.api_token_revoked(token, user)


# The token with its user and the user's organisation: one query for the three, built once (every API request runs
# it; building a statement and its cache key costs more CPU than executing it), the digest bound at each execution.
_API_TOKEN = db.select(ApiToken).where(
    ApiToken.token_hash == db.bindparam("token_hash"), ApiToken.revoked_at.is_(None)).options(
    joinedload(ApiToken.user).joinedload(User.organisation))


def user_for_api_token(secret):
    """The active user behind a bearer token, or None. Writes only to note the use, at most once a minute."""
    if not secret or not secret.startswith("cht_"):
        return None
    token = db.session.scalar(_API_TOKEN, {"token_hash": tokens.digest(secret)})
    if token is None or not token.user.is_active:
        return None
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        with unit_of_work():
            token.last_used_at = now
    return token.user


# ---------------------------------------------------------------- the alliance's review

REVIEW_PAGE_SIZE = 20


def list_organisations(actor, status=None, kind=None, query="", page=1):
    """Organisations for alliance staff, newest first, filtered; returns a Flask-SQLAlchemy pagination."""
    require(actor, Permission.REVIEW_ORGANISATIONS)
    statement = db.select(Organisation).where(Organisation.kind != OrganisationKind.ALLIANCE)
    if status in {s.value for s in OrganisationStatus}:
        statement = statement.where(Organisation.status == status)
    if kind in {k.value for k in SELF_REGISTERING_KINDS}:
        statement = statement.where(Organisation.kind == kind)
    # PostgreSQL text cannot hold NUL: a "\x00" in the search box would be a 500, not a search.
    query = textinput.clean((query or "").replace("\x00", ""))
    if query:
        pattern = f"%{query.replace('%', '').replace('_', '')}%"
        statement = statement.where(
            db.or_(Organisation.legal_name.ilike(pattern), Organisation.tax_code.ilike(pattern))
        )
    statement = statement.order_by(Organisation.created_at.desc(), Organisation.id.desc())
    return db.paginate(statement, page=max(page, 1), per_page=REVIEW_PAGE_SIZE, error_out=False)


def count_pending(actor):
    require(actor, Permission.REVIEW_ORGANISATIONS)
    return db.session.scalar(
        db.select(db.func.count(Organisation.id)).where(Organisation.status == OrganisationStatus.PENDING)
    )


def organisation_events(actor, organisation):
    require(actor, Permission.VIEW_ORGANISATION, organisation)
    query = (
        db.select(OrganisationEvent)
        .filter_by(organisation_id=organisation.id)
        .order_by(OrganisationEvent.created_at.desc(), OrganisationEvent.id.desc())
    )
    return list(db.session.scalars(query))


_TRANSITIONS = {
    "verify": (Organisation.can_be_verified, OrganisationStatus.VERIFIED, events.organisation_verified, False),
    "reject": (Organisation.can_be_rejected, OrganisationStatus.REJECTED, events.organisation_rejected, True),
    "suspend": (Organisation.can_be_suspended, OrganisationStatus.SUSPENDED, events.organisation_suspended, True),
    "reinstate": (Organisation.can_be_reinstated, OrganisationStatus.VERIFIED, events.organisation_reinstated, False),
}

_STATUS_MAIL_SUBJECTS = {
    OrganisationStatus.VERIFIED: _l("Your organisation is verified on Chợ HTX"),
    OrganisationStatus.REJECTED: _l("Your registration on Chợ HTX was not accepted"),
    OrganisationStatus.SUSPENDED: _l("Your organisation is suspended on Chợ HTX"),
}


@unit_of_work()
def review_organisation(actor, organisation_id, action, reason=""):
    """Alliance staff verify, reject, suspend or reinstate. Reject and suspend need a reason.

    Raises NotFound for an unknown organisation, Conflict when the action does not fit its status.
    """
    require(actor, Permission.REVIEW_ORGANISATIONS)
    if action not in _TRANSITIONS:
        raise ValidationFailed(_l("Unknown action."), field="action")
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None or organisation.is_alliance:
        raise NotFound()
    allowed, new_status, record_event, needs_reason = _TRANSITIONS[action]
    if not allowed(organisation):
        raise Conflict(_l("This action is not possible for an organisation in its current status."),
                       code="invalid_transition")
    reason = textinput.clean(reason)
    if needs_reason and not textinput.has_letter_or_digit(reason):
        raise ValidationFailed(_l("Give a reason: the organisation will read it."), field="reason")
    if len(reason) > REASON_MAX:
        raise ValidationFailed(_too_long(REASON_MAX), field="reason")
    organisation.status = new_status
    organisation.status_reason = reason
    organisation.status_changed_at = utcnow()
    if new_status in (OrganisationStatus.REJECTED, OrganisationStatus.SUSPENDED):
        _revoke_signing_certificates(organisation, reason)
    record_event(organisation, actor, reason)
    _notify_status(organisation)
    return organisation


def _revoke_signing_certificates(organisation, reason):
    """A rejected or suspended organisation can no longer sign: its certificates go on the platform's CRL,
    so a signature made with them from now on is reported as revoked (a new one is issued on reinstatement)."""
    from marketplace.agreements import signing  # pyHanko is imported only when something is signed or revoked

    signing.revoke(organisation, reason)


@unit_of_work()
def classify_cooperative(actor, organisation_id, classification):
    """Alliance staff record the Circular 01/2020 classification of a cooperative."""
    require(actor, Permission.REVIEW_ORGANISATIONS)
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None or not organisation.is_cooperative:
        raise NotFound()
    if classification not in {c.value for c in AllianceClassification}:
        raise ValidationFailed(_l("Choose good, average or weak."), field="classification")
    organisation.classification = AllianceClassification(classification)
    events.cooperative_classified(organisation, actor)
    return organisation


def _notify_status(organisation):
    subject = _STATUS_MAIL_SUBJECTS.get(organisation.status)
    if subject is None:
        return
    for member in organisation.members:
        if member.is_active and member.is_owner:
            notifications.send(
                member.email, subject, "organisation_status", member.locale, organisation=organisation, user=member
            )


# ---------------------------------------------------------------- operators (CLI)

@unit_of_work()
def create_alliance_user(email, full_name, password, alliance_name="Liên minh Hợp tác xã tỉnh Lạng Sơn"):
    """Create a staff account of the (single) provincial alliance organisation, creating it if needed."""
    # Check first: a refused person must not leave a new alliance organisation pending in the session.
    email, full_name, errors = _clean_person(email, full_name, password)
    if errors:
        raise ValidationFailed.for_fields(errors)
    alliance = db.session.scalar(db.select(Organisation).filter_by(kind=OrganisationKind.ALLIANCE))
    if alliance is None:
        alliance = Organisation(
            kind=OrganisationKind.ALLIANCE,
            legal_name=alliance_name,
            status=OrganisationStatus.VERIFIED,
            status_changed_at=utcnow(),
        )
        db.session.add(alliance)
    user = _new_user(email, full_name, password, alliance, MemberRole.OWNER)
    db.session.add(user)
    events.staff_account_created(user)
    return user


def user_by_email(email):
    user = db.session.scalar(db.select(User).filter_by(email=normalise_email(email)))
    if user is None:
        raise NotFound(_l("No account with this email."))
    return user

