"""What a user may do: the single place every service asks.

Services call `require(user, Permission.X, organisation)` before touching anything. A user who may
not even see an organisation gets NotFound, so ids of other tenants cannot be probed.
"""
import enum

from flask_babel import lazy_gettext as _l

from marketplace.accounts.models import OrganisationKind, OrganisationStatus
from marketplace.errors import Forbidden, NotFound


class Permission(enum.StrEnum):
    VIEW_ORGANISATION = "view_organisation"  # its members, and the alliance
    MANAGE_ORGANISATION = "manage_organisation"  # owner: profile, members, invitations
    REVIEW_ORGANISATIONS = "review_organisations"  # alliance: verify, reject, suspend, classify
    PUBLISH_PRODUCTS = "publish_products"  # verified cooperative
    SIGN_AGREEMENTS = "sign_agreements"  # verified cooperative or enterprise
    PLACE_ORDERS = "place_orders"  # verified enterprise
    FULFIL_ORDERS = "fulfil_orders"  # verified cooperative: confirm, reject and ship orders, set payment terms
    MANAGE_PRODUCTS = "manage_products"  # any member of the cooperative: drafts, photos, certificates
    CURATE_CATALOG = "curate_catalog"  # alliance: verify or revoke OCOP certificates, import registries
    FOLLOW_UP_AGREEMENTS = "follow_up_agreements"  # alliance: every MoU's progress, the needs-attention list
    SEE_CONTACTS = "see_contacts"  # any verified organisation: a cooperative's representative, phone, email, address


_TRADING = {
    Permission.PUBLISH_PRODUCTS: {OrganisationKind.COOPERATIVE},
    Permission.SIGN_AGREEMENTS: {OrganisationKind.COOPERATIVE, OrganisationKind.ENTERPRISE},
    Permission.PLACE_ORDERS: {OrganisationKind.ENTERPRISE},
    Permission.FULFIL_ORDERS: {OrganisationKind.COOPERATIVE},
}

_NOT_VERIFIED_MESSAGES = {
    OrganisationStatus.PENDING: _l("Your organisation is waiting for verification by the cooperative alliance."),
    OrganisationStatus.REJECTED: _l("The cooperative alliance rejected your organisation's registration."),
    OrganisationStatus.SUSPENDED: _l("The cooperative alliance has suspended your organisation."),
}


def _is_active(user):
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def is_alliance_staff(user):
    return _is_active(user) and user.organisation.kind == OrganisationKind.ALLIANCE


def can(user, permission, organisation=None):
    try:
        require(user, permission, organisation)
    except (Forbidden, NotFound):
        return False
    return True


def require(user, permission, organisation=None):
    """Raise Forbidden (or NotFound for another tenant's organisation) unless the user may act.

    `organisation` is the organisation acted upon; it defaults to the user's own.
    """
    if not _is_active(user):
        raise Forbidden(_l("Please log in."), code="not_authenticated")
    own = user.organisation
    target = organisation or own
    if permission == Permission.VIEW_ORGANISATION:
        if target.id != own.id and not is_alliance_staff(user):
            raise NotFound()
        return
    if permission == Permission.MANAGE_ORGANISATION:
        if target.id != own.id:
            raise NotFound()
        if not user.is_owner:
            raise Forbidden(_l("Only the owner of the organisation can do this."), code="owner_only")
        return
    if permission == Permission.MANAGE_PRODUCTS:
        if target.id != own.id:
            raise NotFound()
        if not own.is_cooperative:
            raise Forbidden(_l("Only cooperatives list products."), code="wrong_organisation_kind")
        return
    if permission in (Permission.REVIEW_ORGANISATIONS, Permission.CURATE_CATALOG, Permission.FOLLOW_UP_AGREEMENTS):
        if not is_alliance_staff(user):
            raise Forbidden(_l("Only cooperative alliance staff can do this."), code="alliance_only")
        return
    if permission == Permission.SEE_CONTACTS:
        if own.status != OrganisationStatus.VERIFIED:
            raise Forbidden(_NOT_VERIFIED_MESSAGES[own.status], code="organisation_not_verified")
        return
    if permission in _TRADING:
        if target.id != own.id:
            raise NotFound()
        if own.kind not in _TRADING[permission]:
            raise Forbidden(_l("Your kind of organisation cannot do this."), code="wrong_organisation_kind")
        if own.status != OrganisationStatus.VERIFIED:
            raise Forbidden(_NOT_VERIFIED_MESSAGES[own.status], code="organisation_not_verified")
        return
    raise Forbidden(_l("Not allowed."))  # deny by default: an unknown permission is never granted
