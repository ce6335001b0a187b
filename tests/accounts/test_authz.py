"""The permission matrix of authz.require: who may do what, and what other tenants cannot even see."""
import pytest
from flask_babel import force_locale

from marketplace.accounts.authz import Permission, can, require
from marketplace.errors import Forbidden, NotFound
from tests import factories

TRADING = [Permission.PUBLISH_PRODUCTS, Permission.SIGN_AGREEMENTS, Permission.PLACE_ORDERS, Permission.FULFIL_ORDERS]
EXPECTED_TRADING = {
    ("cooperative", "verified"): {Permission.PUBLISH_PRODUCTS, Permission.SIGN_AGREEMENTS, Permission.FULFIL_ORDERS},
    ("enterprise", "verified"): {Permission.SIGN_AGREEMENTS, Permission.PLACE_ORDERS},
    ("cooperative", "pending"): set(),
    ("cooperative", "rejected"): set(),
    ("enterprise", "suspended"): set(),
}


@pytest.mark.parametrize(("kind", "status"), list(EXPECTED_TRADING))
def test_only_verified_organisations_of_the_right_kind_trade(app, kind, status):
    person = factories.user(factories.organisation(kind, status=status))
    allowed = {p for p in TRADING if can(person, p)}
    assert allowed == EXPECTED_TRADING[(kind, status)]


def test_not_verified_is_explained(app, pending_cooperative_owner):
    with pytest.raises(Forbidden) as error:
        require(pending_cooperative_owner, Permission.PUBLISH_PRODUCTS)
    assert error.value.code == "organisation_not_verified"
    with force_locale("en"):
        assert "waiting for verification" in str(error.value.message)
    with force_locale("vi"):
        assert "Liên minh" in str(error.value.message)


def test_alliance_staff_do_not_trade_but_review(app, alliance_user):
    assert not any(can(alliance_user, p) for p in TRADING)
    assert can(alliance_user, Permission.REVIEW_ORGANISATIONS)


def test_other_tenants_are_invisible(app, cooperative_owner, enterprise_owner, alliance_user):
    other = enterprise_owner.organisation
    with pytest.raises(NotFound):
        require(cooperative_owner, Permission.VIEW_ORGANISATION, other)
    with pytest.raises(NotFound):
        require(cooperative_owner, Permission.MANAGE_ORGANISATION, other)
    with pytest.raises(NotFound):
        require(cooperative_owner, Permission.SIGN_AGREEMENTS, other)
    require(alliance_user, Permission.VIEW_ORGANISATION, other)
    with pytest.raises(NotFound):
        require(alliance_user, Permission.MANAGE_ORGANISATION, other)


def test_members_are_not_owners(app, cooperative_owner):
    member = factories.user(cooperative_owner.organisation, role="member")
    require(member, Permission.VIEW_ORGANISATION)
    assert can(member, Permission.PUBLISH_PRODUCTS)  # members act for the organisation
    with pytest.raises(Forbidden) as error:
        require(member, Permission.MANAGE_ORGANISATION)
    assert error.value.code == "owner_only"
    assert not can(cooperative_owner, Permission.REVIEW_ORGANISATIONS)


def test_anonymous_inactive_and_unknown_permissions_are_denied(app, cooperative_owner):
    from flask_login import AnonymousUserMixin

    assert not can(AnonymousUserMixin(), Permission.VIEW_ORGANISATION)
    assert not can(None, Permission.VIEW_ORGANISATION)
    assert not can(cooperative_owner, "delete_everything")
    cooperative_owner.is_active = False
    assert not can(cooperative_owner, Permission.VIEW_ORGANISATION)
