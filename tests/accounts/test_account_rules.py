"""The forms' limits are the services' rules, so every path obeys them: the pages, the command line and
whatever calls the services next (the API, an import). Each rule is tested through the service and
through the page or command that reaches it."""
from types import SimpleNamespace

import pytest
from flask_babel import force_locale

from marketplace.accounts import services
from marketplace.accounts.models import (
    Invitation,
    Organisation,
    OrganisationEvent,
    OrganisationStatus,
    PendingRegistration,
    User,
)
from marketplace.errors import Forbidden, ValidationFailed
from marketplace.extensions import db
from tests import factories
from tests.factories import invitation, organisation_details, registration_details

LONG_NAME = "Nguyễn " + "A" * 114  # 121 characters
LONG_EMAIL = "a" * 244 + "@example.vn"  # 254 + 1


def count(model, **filters):
    return db.session.scalar(db.select(db.func.count()).select_from(model).filter_by(**filters))


def refused_fields(call):
    with pytest.raises(ValidationFailed) as error:
        call()
    with force_locale("en"):
        return {name: str(message) for name, message in error.value.errors.items()}


# ---------------------------------------------------------------- a person's name and email

def test_assumptions_of_the_long_values():
    assert len(LONG_NAME) == 121 and len(LONG_EMAIL) == 255


def test_a_full_name_has_at_most_120_characters_in_every_service(app, cooperative_owner):
    assert refused_fields(lambda: services.request_registration("cooperative", registration_details(), "minh@example.vn",
                                                    LONG_NAME, factories.PASSWORD)) == {
        "full_name": "Use at most 120 characters."}
    invitation(SimpleNamespace(cooperative=cooperative_owner.organisation, owner=cooperative_owner))
    assert refused_fields(lambda: services.accept_invitation("secret-of-the-invitation", LONG_NAME,
                                                             factories.PASSWORD)) == {
        "full_name": "Use at most 120 characters."}
    assert refused_fields(lambda: services.create_alliance_user("staff@lienminh.example", LONG_NAME,
                                                                factories.PASSWORD)) == {
        "full_name": "Use at most 120 characters."}
    services.request_registration("cooperative", registration_details(), "minh@example.vn", LONG_NAME[:120],
                                  factories.PASSWORD)
    assert count(PendingRegistration, full_name=LONG_NAME[:120]) == 1


def test_the_command_line_refuses_a_long_staff_name(app):
    result = app.test_cli_runner().invoke(args=["accounts", "create-alliance-user", "staff@lienminh.example",
                                                "--name", LONG_NAME, "--password", factories.PASSWORD])
    assert result.exit_code != 0 and "full_name" in result.output and "120" in result.output
    assert count(User) == 0 and count(Organisation) == 0


def test_the_registration_page_refuses_a_long_name_next_to_the_field(client):
    response = client.post("/register/cooperative", data=factories.registration_form(full_name=LONG_NAME))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="full_name-error"' in page
    assert count(User) == 0


def test_emails_have_at_most_254_characters(app, cooperative_owner):
    too_long = {"owner_email": "Use at most 254 characters."}
    assert refused_fields(lambda: services.request_registration("cooperative", registration_details(), LONG_EMAIL,
                                                    "Hoàng Văn Minh", factories.PASSWORD)) == too_long
    details = registration_details()
    details.email = LONG_EMAIL
    assert refused_fields(lambda: services.request_registration("cooperative", details, "minh@example.vn", "Hoàng Văn Minh",
                                                    factories.PASSWORD)) == {"email": "Use at most 254 characters."}
    assert refused_fields(lambda: services.invite_member(cooperative_owner, LONG_EMAIL)) == {
        "email": "Use at most 254 characters."}
    assert count(Invitation) == 0


def test_the_members_page_refuses_a_long_email(client, auth, cooperative_owner):
    auth.login(cooperative_owner.email)
    response = client.post("/organisation/members/invite", data={"email": LONG_EMAIL, "role": "member"})
    assert response.status_code == 422 and 'id="email-error"' in response.get_data(as_text=True)
    assert count(Invitation) == 0


def test_an_unknown_role_is_refused_on_its_field(app, cooperative_owner):
    assert refused_fields(lambda: services.invite_member(cooperative_owner, "new@htx.example", "admin")) == {
        "role": "Choose owner or member."}


def test_a_password_longer_than_any_allowed_is_not_even_checked(app, cooperative_owner):
    with pytest.raises(services.InvalidCredentials):
        services.authenticate(cooperative_owner.email, factories.PASSWORD + " " * 300)
    assert refused_fields(lambda: services.change_password(
        cooperative_owner, "x" * 257, "một mật khẩu mới dài của hợp tác xã")) == {
        "current_password": "The current password is wrong."}


# ---------------------------------------------------------------- the organisation's profile

@pytest.mark.parametrize(("field", "value", "message"), [
    ("representative", LONG_NAME, "Use at most 120 characters."),
    ("street_address", "Thôn " + "B" * 196, "Use at most 200 characters."),
    ("email", LONG_EMAIL, "Use at most 254 characters."),
    ("phone", "0205 381 2345 6789 0123", "Enter a Vietnamese phone number, e.g. 0205 3812 345 or +84 912 345 678."),
    ("member_count", "mười", "Enter a number of members between 1 and 100000."),
    ("founded_year", "2100", "Enter a year between 1945 and"),
])
def test_the_profile_rules_hold_in_the_service(app, cooperative_owner, field, value, message):
    organisation = cooperative_owner.organisation
    before = (organisation.representative, organisation.street_address, organisation.email, organisation.phone)
    errors = refused_fields(lambda: services.update_organisation(
        cooperative_owner, organisation_details(organisation, **{field: value})))
    assert list(errors) == [field] and errors[field].startswith(message)
    db.session.expire_all()
    assert (organisation.representative, organisation.street_address, organisation.email, organisation.phone) == before
    assert count(OrganisationEvent) == 0


def test_a_long_street_address_is_refused_not_cut(client, auth, cooperative_owner):
    """It was silently cut to 200 characters; the owner now sees why it is not saved."""
    organisation = cooperative_owner.organisation
    auth.login(cooperative_owner.email)
    client.post("/language", data={"lang": "en"})
    data = {"legal_name": organisation.legal_name, "tax_code": organisation.tax_code, "sector": "agriculture",
            "cooperative_type": "hop_tac_xa", "province_code": "20", "commune_code": "6040", "phone": "0205381234",
            "email": organisation.email, "representative": "Nguyễn Văn A", "street_address": "Thôn " + "B" * 196}
    response = client.post("/organisation", data=data)
    assert response.status_code == 422 and 'id="street_address-error"' in response.get_data(as_text=True)
    db.session.refresh(organisation)
    assert organisation.street_address == ""
    data["street_address"] = "Thôn " + "B" * 195
    assert client.post("/organisation", data=data).status_code == 302
    db.session.refresh(organisation)
    assert len(organisation.street_address) == 200


def test_the_representative_rule_holds_on_the_profile_page(client, auth, cooperative_owner):
    organisation = cooperative_owner.organisation
    auth.login(cooperative_owner.email)
    data = {"legal_name": organisation.legal_name, "tax_code": organisation.tax_code, "sector": "agriculture",
            "cooperative_type": "hop_tac_xa", "province_code": "20", "commune_code": "6040", "phone": "0205381234",
            "email": organisation.email, "representative": LONG_NAME}
    response = client.post("/organisation", data=data)
    assert response.status_code == 422 and 'id="representative-error"' in response.get_data(as_text=True)
    db.session.refresh(organisation)
    assert organisation.representative == "Nguyễn Văn A"


def test_alliance_staff_cannot_edit_the_alliances_profile(app, client, auth, alliance_user):
    alliance = alliance_user.organisation
    with pytest.raises(Forbidden) as error:
        services.update_organisation(alliance_user, organisation_details(alliance, legal_name="Liên minh khác"))
    assert error.value.code == "alliance_profile_read_only"
    auth.login(alliance_user.email)
    assert client.post("/organisation", data={"legal_name": "Liên minh khác"}).status_code == 403
    db.session.expire_all()
    assert alliance.legal_name == "Liên minh HTX tỉnh Lạng Sơn" and count(OrganisationEvent) == 0


# ---------------------------------------------------------------- the alliance's review

def test_a_review_reason_has_at_most_2000_characters(app, alliance_user, pending_cooperative_owner):
    organisation = pending_cooperative_owner.organisation
    assert refused_fields(lambda: services.review_organisation(alliance_user, organisation.id, "reject",
                                                               "x" * 2001)) == {
        "reason": "Use at most 2000 characters."}
    db.session.expire_all()
    assert organisation.status == OrganisationStatus.PENDING and count(OrganisationEvent) == 0
    services.review_organisation(alliance_user, organisation.id, "reject", "x" * 2000)
    assert organisation.status == OrganisationStatus.REJECTED


def test_the_review_page_refuses_a_long_reason(client, auth, alliance_user, pending_cooperative_owner):
    organisation = pending_cooperative_owner.organisation
    auth.login(alliance_user.email)
    response = client.post(f"/alliance/organisations/{organisation.id}/reject", data={"reason": "x" * 2001})
    assert response.status_code == 422 and 'id="reason-error"' in response.get_data(as_text=True)
    db.session.refresh(organisation)
    assert organisation.status == OrganisationStatus.PENDING


def test_a_token_name_has_at_most_80_characters(app, client, auth, cooperative_owner):
    assert refused_fields(lambda: services.create_api_token(cooperative_owner, "x" * 81)) == {
        "name": "Give the token a name of at most 80 characters."}
    auth.login(cooperative_owner.email)
    response = client.post("/account/tokens", data={"name": "x" * 81})
    assert response.status_code == 422 and 'id="name-error"' in response.get_data(as_text=True)
    assert services.list_api_tokens(cooperative_owner) == []
