"""Organisations and the people who act for them."""
import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace import geo
from marketplace.extensions import db
from marketplace.sqltypes import UTCDateTime, utcnow


class OrganisationKind(enum.StrEnum):
    COOPERATIVE = "cooperative"  # sells: hợp tác xã, tổ hợp tác or hộ sản xuất kinh doanh
    ENTERPRISE = "enterprise"  # buys: doanh nghiệp
    ALLIANCE = "alliance"  # Liên minh HTX tỉnh: verifies, witnesses, follows up


class CooperativeType(enum.StrEnum):
    HOP_TAC_XA = "hop_tac_xa"  # cooperative (Law on Cooperatives 2023)
    TO_HOP_TAC = "to_hop_tac"  # cooperative group
    HO_KINH_DOANH = "ho_kinh_doanh"  # household producer


class OrganisationStatus(enum.StrEnum):
    PENDING = "pending"  # registered, waiting for the alliance; may prepare, may not trade
    VERIFIED = "verified"  # checked by the alliance; may publish, sign and order
    REJECTED = "rejected"  # the alliance refused the registration (reason kept)
    SUSPENDED = "suspended"  # was verified, trading stopped by the alliance (reason kept)


class AllianceClassification(enum.StrEnum):
    """The alliance's rating of a cooperative under Circular 01/2020/TT-BKHĐT."""

    GOOD = "good"  # tốt / khá
    AVERAGE = "average"  # trung bình
    WEAK = "weak"  # yếu


class Sector(enum.StrEnum):
    AGRICULTURE = "agriculture"  # nông, lâm, thủy sản
    TRADE_SERVICES = "trade_services"
    CONSTRUCTION = "construction"
    TRANSPORT = "transport"
    INDUSTRY_HANDICRAFT = "industry_handicraft"
    TOURISM = "tourism"
    OTHER = "other"


class MemberRole(enum.StrEnum):
    OWNER = "owner"  # manages the organisation, its members and its trading
    MEMBER = "member"  # works in the organisation's name; cannot manage members


class EnumLabels(dict):
    """Translated labels of enum members, keyed by (enum class, member).

    Members of different StrEnums with the same value (CatalogEventKind.CREATED and
    AgreementEventKind.CREATED are both "created") are equal strings with equal hashes: keyed by the
    member alone, the last label registered would be every such member's label.
    """

    def __init__(self):
        super().__init__()
        self._by_value = {}  # for a plain string (a template looping over values): the last label of that value

    def __setitem__(self, member, text):
        super().__setitem__((type(member), member), text)
        self._by_value[str(member)] = text

    def __getitem__(self, key):
        if not isinstance(key, enum.Enum):
            return self._by_value[key]
        return super().__getitem__((type(key), key))

    def __contains__(self, key):
        if not isinstance(key, enum.Enum):
            return key in self._by_value
        return super().__contains__((type(key), key))

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def update(self, labels):
        """Register the labels of ONE enum's members: in a literal mixing enums, a member equal to one of
        another enum would already have replaced it (a dict keeps the first key), so that is refused."""
        classes = {type(member) for member in labels}
        if len(classes) != 1:
            raise TypeError(f"label one enum per update, not {sorted(c.__name__ for c in classes)}")
        for member, text in labels.items():
            self[member] = text


LABELS = EnumLabels()
LABELS.update({
    OrganisationKind.COOPERATIVE: _l("Cooperative"),
    OrganisationKind.ENTERPRISE: _l("Enterprise"),
    OrganisationKind.ALLIANCE: _l("Cooperative alliance"),
})
LABELS.update({
    CooperativeType.HOP_TAC_XA: _l("Cooperative (hợp tác xã)"),
    CooperativeType.TO_HOP_TAC: _l("Cooperative group (tổ hợp tác)"),
    CooperativeType.HO_KINH_DOANH: _l("Household producer"),
})
LABELS.update({
    OrganisationStatus.PENDING: _l("Waiting for verification"),
    OrganisationStatus.VERIFIED: _l("Verified"),
    OrganisationStatus.REJECTED: _l("Rejected"),
    OrganisationStatus.SUSPENDED: _l("Suspended"),
})
LABELS.update({
    AllianceClassification.GOOD: _l("Good"),
    AllianceClassification.AVERAGE: _l("Average"),
    AllianceClassification.WEAK: _l("Weak"),
})
LABELS.update({
    Sector.AGRICULTURE: _l("Agriculture, forestry and fishery"),
    Sector.TRADE_SERVICES: _l("Trade and services"),
    Sector.CONSTRUCTION: _l("Construction"),
    Sector.TRANSPORT: _l("Transport"),
    Sector.INDUSTRY_HANDICRAFT: _l("Industry and handicraft"),
    Sector.TOURISM: _l("Tourism"),
    Sector.OTHER: _l("Other"),
})
LABELS.update({
    MemberRole.OWNER: _l("Owner"),
    MemberRole.MEMBER: _l("Member"),
})


def label(value):
    """The translated label of an enum value (for templates and forms)."""
    return LABELS.get(value, value)


def enum_column(enum_class, **kwargs):
    # Stored as plain strings (no native ENUM type): adding a value needs no ALTER TYPE.
    return mapped_column(
        sa.Enum(enum_class, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]),
        **kwargs,
    )


class Organisation(db.Model):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrganisationKind] = enum_column(OrganisationKind, index=True)
    cooperative_type: Mapped[CooperativeType | None] = enum_column(CooperativeType, nullable=True)
    legal_name: Mapped[str] = mapped_column(sa.String(200))
    tax_code: Mapped[str | None] = mapped_column(sa.String(14), unique=True)  # compact: 10 or 13 digits
    province_code: Mapped[int | None] = mapped_column(index=True)
    commune_code: Mapped[int | None]
    street_address: Mapped[str] = mapped_column(sa.String(200), default="")
    phone: Mapped[str] = mapped_column(sa.String(20), default="")
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    representative: Mapped[str] = mapped_column(sa.String(120), default="")
    sector: Mapped[Sector | None] = enum_column(Sector, nullable=True)
    member_count: Mapped[int | None]
    founded_year: Mapped[int | None]
    classification: Mapped[AllianceClassification | None] = enum_column(AllianceClassification, nullable=True)
    status: Mapped[OrganisationStatus] = enum_column(
        OrganisationStatus, default=OrganisationStatus.PENDING, index=True
    )
    status_reason: Mapped[str] = mapped_column(sa.Text, default="")
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_demo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    members: Mapped[list["User"]] = relationship(back_populates="organisation", order_by="User.id")

    @property
    def is_verified(self):
        return self.status == OrganisationStatus.VERIFIED

    @property
    def is_cooperative(self):
        return self.kind == OrganisationKind.COOPERATIVE

    @property
    def is_enterprise(self):
        return self.kind == OrganisationKind.ENTERPRISE

    @property
    def is_alliance(self):
        return self.kind == OrganisationKind.ALLIANCE

    @property
    def province_name(self):
        return geo.province_name(self.province_code) if self.province_code else ""

    @property
    def commune_name(self):
        return geo.commune_name(self.commune_code) if self.commune_code else ""

    @property
    def address(self):
        """Street, commune and province on one line (for documents such as MoUs)."""
        return ", ".join(part for part in (self.street_address, self.commune_name, self.province_name) if part)

    @property
    def display_tax_code(self):
        if self.tax_code and len(self.tax_code) == 13:
            return f"{self.tax_code[:10]}-{self.tax_code[10:]}"
        return self.tax_code or ""

    def can_be_verified(self):
        return self.status in (OrganisationStatus.PENDING, OrganisationStatus.REJECTED)

    def can_be_rejected(self):
        return self.status == OrganisationStatus.PENDING

    def can_be_suspended(self):
        return self.status == OrganisationStatus.VERIFIED

    def can_be_reinstated(self):
        return self.status == OrganisationStatus.SUSPENDED


class User(db.Model):
    __tablename__ = "user_account"  # "user" is reserved in PostgreSQL

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)  # stored lower-case
    full_name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    role: Mapped[MemberRole] = enum_column(MemberRole, default=MemberRole.MEMBER)
    is_active: Mapped[bool] = mapped_column(default=True)  # False once removed from the organisation
    locale: Mapped[str | None] = mapped_column(sa.String(5))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Members sign agreements in the organisation's name only when an owner gave them this right.
    can_sign: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    organisation: Mapped[Organisation] = relationship(back_populates="members")

    # Flask-Login protocol
    is_authenticated = True
    is_anonymous = False

    def get_id(self):
        return str(self.id)

    @property
    def is_owner(self):
        return self.role == MemberRole.OWNER

    @property
    def may_sign(self):
        """Signs agreements in the organisation's name: its owner, or a member given the signing right."""
        return self.is_active and (self.is_owner or self.can_sign)

    def signing_right_can_be_changed_by(self, actor):
        """Whether `actor` may give this user the signing right or take it back: an owner, for an active member
        of the same organisation who is not an owner (owners always sign). services.set_signing_right enforces it."""
        return (actor.is_owner and actor.organisation_id == self.organisation_id and not self.is_owner
                and self.is_active)

    def can_be_removed_by(self, actor):
        """Whether `actor` may remove this user from the organisation: an owner removes the other
        members, never an owner (themself included). services.remove_member enforces the same rule."""
        return (actor.is_owner and actor.organisation_id == self.organisation_id and actor.id != self.id
                and not self.is_owner and self.is_active)


class AuthSession(db.Model):
    """A login on one browser. The cookie holds a random id; only its hash is stored here.

    Logout or expiry revokes the row, so a cookie copied before logout stops working.
    """

    __tablename__ = "auth_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reauthenticated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip_address: Mapped[str] = mapped_column(sa.String(45), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(255), default="")

    user: Mapped[User] = relationship()


class ApiToken(db.Model):
    """A personal token for /api/v1. Shown once at creation; only its SHA-256 is kept."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))  # first characters, to recognise it in lists
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    @property
    def is_active(self):
        return self.revoked_at is None


class Invitation(db.Model):
    """An owner's invitation to join the organisation, accepted through an emailed link."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    role: Mapped[MemberRole] = enum_column(MemberRole, default=MemberRole.MEMBER)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    invited_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship()
    invited_by: Mapped[User] = relationship()

    def is_open(self, now):
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now


class PasswordReset(db.Model):
    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class LoginUnlock(db.Model):
    """A single-use link emailed to an account's owner when wrong passwords reached the account's
    ceiling (accounts/throttle.py): following it logs the owner in from that browser, which is trusted
    from then on. Only the link's SHA-256 is kept."""

    __tablename__ = "login_unlock"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    def is_open(self, now):
        return self.used_at is None and self.expires_at > now


class PendingRegistration(db.Model):
    """A registration waiting for its owner to confirm the email address: no organisation and no user
    exist until the emailed link is followed, so registering an address that has an account answers
    exactly like registering a new one (no enumeration) and nobody holds an account for an address
    they do not read. Only the link's SHA-256 and the password's Argon2id hash are kept, and not for
    long: confirming deletes every request of the email, and `flask accounts prune` the expired ones."""

    __tablename__ = "pending_registration"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    kind: Mapped[OrganisationKind] = enum_column(OrganisationKind)
    details: Mapped[dict] = mapped_column(sa.JSON)  # services.OrganisationDetails, already checked
    full_name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    locale: Mapped[str | None] = mapped_column(sa.String(5))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class OrganisationEventKind(enum.StrEnum):
    """What happened to an organisation or one of its people (accounts/events.py writes each)."""

    REGISTERED = "registered"  # the organisation registered itself (note: nothing)
    IMPORTED = "registered_by_import"  # the alliance's registry import created the cooperative, verified
    UPDATED = "updated"  # the owner saved the profile
    RESUBMITTED = "resubmitted"  # legal name or tax code changed: back to the alliance for verification
    VERIFIED = "verified"  # by the alliance (note: its optional remark)
    REJECTED = "rejected"  # by the alliance (note: the reason)
    SUSPENDED = "suspended"  # by the alliance (note: the reason)
    REINSTATED = "reinstated"  # by the alliance (note: its optional remark)
    CLASSIFIED = "classified"  # the alliance's Circular 01/2020 rating (note: good, average or weak)
    MEMBER_INVITED = "member_invited"  # note: the invited email
    INVITATION_REVOKED = "invitation_revoked"  # the owner cancelled an open invitation (note: its email)
    MEMBER_JOINED = "member_joined"  # an invitation was accepted (actor: the new member)
    MEMBER_REMOVED = "member_removed"  # account deactivated, sessions and tokens ended (note: its email)
    STAFF_ACCOUNT_CREATED = "staff_account_created"  # `flask accounts create-alliance-user` (no actor)
    PASSWORD_CHANGED = "password_changed"  # the user, knowing the current password (note: their email)
    PASSWORD_RESET_REQUESTED = "password_reset_requested"  # a reset link was emailed (no actor: anyone can ask)
    PASSWORD_RESET = "password_reset"  # the user set a new password through a reset link
    # Wrong passwords hit the account's ceiling; an unlock link was emailed (no actor).
    LOGIN_CEILING_REACHED = "login_ceiling_reached"
    LOGIN_UNLOCKED = "login_unlocked"  # the user logged in through an emailed unlock link
    API_TOKEN_CREATED = "api_token_created"  # note: the token's name, never its secret
    API_TOKEN_REVOKED = "api_token_revoked"  # note: the token's name
    SIGNING_RIGHT_GRANTED = "signing_right_granted"  # the owner let a member sign agreements (note: its email)
    SIGNING_RIGHT_REVOKED = "signing_right_revoked"  # the owner took that right back (note: its email)
    CONFERENCE_CREATED = "conference_created"  # alliance staff recorded a conference for MoUs (note: its name)
    PAYMENT_SETTINGS_CHANGED = "payment_settings_changed"  # a cooperative's payment terms or bank account (note: them)


LABELS.update({
    OrganisationEventKind.REGISTERED: _l("Registered"),
    OrganisationEventKind.IMPORTED: _l("Registered by the alliance's import"),
    OrganisationEventKind.UPDATED: _l("Profile updated"),
    OrganisationEventKind.RESUBMITTED: _l("Legal name or tax code changed: to verify again"),
    OrganisationEventKind.VERIFIED: _l("Verified"),
    OrganisationEventKind.REJECTED: _l("Rejected"),
    OrganisationEventKind.SUSPENDED: _l("Suspended"),
    OrganisationEventKind.REINSTATED: _l("Reinstated"),
    OrganisationEventKind.CLASSIFIED: _l("Classified"),
    OrganisationEventKind.MEMBER_INVITED: _l("Member invited"),
    OrganisationEventKind.INVITATION_REVOKED: _l("Invitation cancelled"),
    OrganisationEventKind.MEMBER_JOINED: _l("Member joined"),
    OrganisationEventKind.MEMBER_REMOVED: _l("Member removed"),
    OrganisationEventKind.STAFF_ACCOUNT_CREATED: _l("Staff account created by an operator"),
    OrganisationEventKind.PASSWORD_CHANGED: _l("Password changed"),
    OrganisationEventKind.PASSWORD_RESET_REQUESTED: _l("Password reset link sent"),
    OrganisationEventKind.PASSWORD_RESET: _l("Password reset through an emailed link"),
    OrganisationEventKind.LOGIN_CEILING_REACHED: _l("Too many wrong passwords tried: login unlock link emailed"),
    OrganisationEventKind.LOGIN_UNLOCKED: _l("Logged in through an emailed unlock link"),
    OrganisationEventKind.API_TOKEN_CREATED: _l("API token created"),
    OrganisationEventKind.API_TOKEN_REVOKED: _l("API token revoked"),
    OrganisationEventKind.SIGNING_RIGHT_GRANTED: _l("Signing right given"),
    OrganisationEventKind.SIGNING_RIGHT_REVOKED: _l("Signing right taken back"),
    OrganisationEventKind.CONFERENCE_CREATED: _l("Conference created"),
    OrganisationEventKind.PAYMENT_SETTINGS_CHANGED: _l("Payment terms or bank account changed"),
})


class OrganisationEvent(db.Model):
    """Audit trail of an organisation: who did what, when, and why."""

    __tablename__ = "organisation_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    kind: Mapped[OrganisationEventKind] = enum_column(OrganisationEventKind)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship()
    actor: Mapped[User | None] = relationship()
