"""Self-registration of cooperatives and enterprises, through the page and the service."""
import pytest

from marketplace.accounts import services
from marketplace.accounts.models import MemberRole, Organisation, OrganisationEvent, OrganisationStatus, User
from marketplace.errors import ValidationFailed
from marketplace.extensions import db
from tests import factories
from tests.support import confirmation_link, register_and_confirm

pytestmark = pytest.mark.usefixtures("english")  # these tests read the English messages


def count(model):
    return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_registering_a_cooperative_creates_a_pending_organisation_and_its_owner(client):
    data = factories.registration_form("cooperative", tax_code="0100109106-001")
    response = client.post("/register/cooperative", data=data)
    assert response.status_code == 302 and response.headers["Location"].endswith("/register/sent")
    assert count(Organisation) == count(User) == 0  # nothing until the owner follows the emailed link
    link = confirmation_link(client.application, data["owner_email"])
    page = client.get(link)
    assert page.status_code == 200 and "Create my account" in page.get_data(as_text=True)
    assert count(Organisation) == 0  # opening the link (a mail scanner does) creates nothing
    response = client.post(link)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/organisation")
    org = db.session.scalar(db.select(Organisation))
    assert org.status == OrganisationStatus.PENDING
    assert org.tax_code == "0100109106001"
    assert org.display_tax_code == "0100109106-001"
    assert org.province_name == "Lạng Sơn" and org.commune_name == "Xã Thất Khê"
    assert org.cooperative_type.value == "hop_tac_xa" and org.member_count == 12
    assert org.phone == "02053812345"
    owner = org.members[0]
    assert owner.role == MemberRole.OWNER and owner.email == data["owner_email"]
    assert [e.kind.value for e in db.session.scalars(db.select(OrganisationEvent))] == ["registered"]
    # the new owner is logged in and sees the pending notice
    page = client.get("/organisation").get_data(as_text=True)
    assert org.legal_name in page


def test_registering_an_enterprise_drops_cooperative_only_fields(client):
    assert register_and_confirm(client, "enterprise", cooperative_type="hop_tac_xa",
                                member_count="30").status_code == 302
    org = db.session.scalar(db.select(Organisation))
    assert org.kind.value == "enterprise"
    assert org.cooperative_type is None and org.member_count is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tax_code", "0100109107", "tax code has 10 digits"),
        ("tax_code", "12345", "tax code has 10 digits"),
        ("commune_code", "3595", "commune of that province"),  # Than Uyên is in Lai Châu, not Lạng Sơn
        ("phone", "12345", "Vietnamese phone number"),
        ("password", "short pass", "at least 12 characters"),
        ("password", "123456789012", "too common"),
        ("cooperative_type", "", "type of cooperative"),
        ("founded_year", "1900", "Number must be between"),
    ],
)
def test_bad_registration_input_is_explained_next_to_the_field_and_nothing_is_written(client, field, value, message):
    data = factories.registration_form("cooperative", **{field: value})
    response = client.post("/register/cooperative", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert f'id="{field}-error"' in page
    assert 'aria-invalid="true"' in page
    assert count(Organisation) == 0 and count(User) == 0


def test_the_tax_code_example_the_hints_show_passes_the_checksum_the_form_enforces(client):
    """Issue 13: the hint said "e.g. 0101234567-001", which the registration form itself refused."""
    example = services.TAX_CODE_EXAMPLE
    assert services.clean_tax_code(example) is not None
    assert services.clean_tax_code("0101234567-001") is None  # the old example
    page = client.get("/register/cooperative").get_data(as_text=True)
    assert f"(e.g. {example})" in page  # the field's description
    response = client.post("/register/cooperative", data=factories.registration_form("cooperative", tax_code="1"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and f"(e.g. {example})" in page and "0101234567" not in page
    data = factories.registration_form("cooperative", tax_code=example)
    response = client.post("/register/cooperative", data=data)
    assert response.status_code == 302 and response.headers["Location"].endswith("/register/sent")


def test_a_duplicate_tax_code_is_refused_but_a_registered_email_is_not_told(client):
    """A tax code is public (the business registry); whether an email has an account is not (issue 12)."""
    first = factories.registration_form("cooperative")
    assert register_and_confirm(client, "cooperative", **first).status_code == 302
    client.post("/logout")
    again = factories.registration_form("enterprise", tax_code=first["tax_code"], owner_email=first["owner_email"].upper())
    response = client.post("/register/enterprise", data=again)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "already registered" in page and "already exists" not in page
    again["tax_code"] = factories.valid_tax_code()
    response = client.post("/register/enterprise", data=again)
    assert response.status_code == 302 and response.headers["Location"].endswith("/register/sent")
    assert count(Organisation) == 1


def test_alliance_cannot_be_self_registered(client):
    assert client.post("/register/alliance", data=factories.registration_form("enterprise")).status_code == 404
    with pytest.raises(ValidationFailed):
        services.request_registration("alliance", services.OrganisationDetails(), "x@example.vn", "X", factories.PASSWORD)


def test_refreshing_communes_without_javascript_keeps_the_input_and_shows_no_errors(client):
    response = client.post(
        "/register/cooperative",
        data={"province_code": "12", "legal_name": "HTX Thanh Xuân", "refresh_communes": "1"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Xã Than Uyên" in page and "Xã Thất Khê" not in page
    assert 'value="HTX Thanh Xuân"' in page
    assert "is-invalid" not in page
    assert count(Organisation) == 0


def test_owner_edits_profile_and_identity_change_sends_verified_organisation_back_to_review(client, auth, cooperative_owner):
    auth.login(cooperative_owner.email)
    org = cooperative_owner.organisation
    data = {
        "legal_name": org.legal_name, "tax_code": org.tax_code, "sector": "agriculture",
        "cooperative_type": "to_hop_tac", "province_code": "12", "commune_code": "3595",
        "phone": "0912345678", "email": "moi@htx.example", "representative": "Lò Văn B",
        "member_count": "40", "founded_year": "2010",
    }
    assert client.post("/organisation", data=data).status_code == 302
    db.session.refresh(org)
    assert (org.province_code, org.commune_code, org.member_count) == (12, 3595, 40)
    assert org.status == OrganisationStatus.VERIFIED  # contact details do not need re-verification

    data["tax_code"] = factories.valid_tax_code()
    assert client.post("/organisation", data=data).status_code == 302
    db.session.refresh(org)
    assert org.status == OrganisationStatus.PENDING


def test_members_cannot_edit_the_organisation(client, auth, cooperative_owner):
    member = factories.user(cooperative_owner.organisation, role="member")
    auth.login(member.email)
    assert 'name="legal_name"' not in client.get("/organisation").get_data(as_text=True)
    assert client.post("/organisation", data={"legal_name": "Bị đổi tên"}).status_code == 403
    db.session.refresh(cooperative_owner.organisation)
    assert cooperative_owner.organisation.legal_name != "Bị đổi tên"
