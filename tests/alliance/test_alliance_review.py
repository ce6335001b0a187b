"""The alliance verifies, rejects, suspends and reinstates organisations; the rules follow the status."""
import pytest

from marketplace.accounts import services
from marketplace.accounts.authz import Permission, can
from marketplace.accounts.models import OrganisationStatus
from marketplace.errors import Conflict, Forbidden, ValidationFailed
from marketplace.extensions import db
from tests import factories

pytestmark = pytest.mark.usefixtures("english")  # these tests read the English messages


def test_alliance_verifies_a_pending_cooperative_which_may_then_publish(client, auth, alliance_user, pending_cooperative_owner, outbox):
    org = pending_cooperative_owner.organisation
    assert not can(pending_cooperative_owner, Permission.PUBLISH_PRODUCTS)
    auth.login(alliance_user.email)
    queue = client.get("/alliance/organisations").get_data(as_text=True)
    assert org.legal_name in queue
    response = client.post(f"/alliance/organisations/{org.id}/verify", data={"reason": ""})
    assert response.status_code == 302
    db.session.refresh(org)
    assert org.status == OrganisationStatus.VERIFIED
    assert can(pending_cooperative_owner, Permission.PUBLISH_PRODUCTS)
    assert [m.to for m in outbox] == [[pending_cooperative_owner.email]]
    history = client.get(f"/alliance/organisations/{org.id}").get_data(as_text=True)
    assert "Verified" in history and alliance_user.full_name in history
    # the queue of pending organisations is now empty, with an explicit empty state
    assert "No organisation matches these filters." in client.get("/alliance/organisations").get_data(as_text=True)


def test_rejection_needs_a_reason_which_the_organisation_reads(client, auth, alliance_user, pending_cooperative_owner):
    org = pending_cooperative_owner.organisation
    auth.login(alliance_user.email)
    response = client.post(f"/alliance/organisations/{org.id}/reject", data={"reason": "  "})
    assert response.status_code == 422
    assert "Give a reason" in response.get_data(as_text=True)
    db.session.refresh(org)
    assert org.status == OrganisationStatus.PENDING

    client.post(f"/alliance/organisations/{org.id}/reject", data={"reason": "Mã số thuế không khớp giấy phép"})
    db.session.refresh(org)
    assert org.status == OrganisationStatus.REJECTED
    client.post("/logout")
    auth.login(pending_cooperative_owner.email)
    assert "Mã số thuế không khớp giấy phép" in client.get("/organisation").get_data(as_text=True)


def test_suspension_stops_trading_and_reinstatement_restores_it(app, alliance_user, enterprise_owner):
    org = enterprise_owner.organisation
    assert can(enterprise_owner, Permission.PLACE_ORDERS)
    services.review_organisation(alliance_user, org.id, "suspend", "Vi phạm thỏa thuận")
    with pytest.raises(Forbidden) as error:
        from marketplace.accounts.authz import require

        require(enterprise_owner, Permission.PLACE_ORDERS)
    assert error.value.code == "organisation_not_verified"
    services.review_organisation(alliance_user, org.id, "reinstate")
    assert can(enterprise_owner, Permission.PLACE_ORDERS)


@pytest.mark.parametrize(
    ("status", "action"),
    [("verified", "verify"), ("verified", "reject"), ("pending", "suspend"), ("pending", "reinstate"), ("rejected", "suspend")],
)
def test_actions_that_do_not_fit_the_status_are_refused(app, alliance_user, status, action):
    org = factories.organisation("cooperative", status=status)
    with pytest.raises(Conflict):
        services.review_organisation(alliance_user, org.id, action, "lý do")
    db.session.refresh(org)
    assert org.status.value == status


def test_only_alliance_staff_review(client, auth, cooperative_owner, pending_cooperative_owner):
    org = pending_cooperative_owner.organisation
    with pytest.raises(Forbidden):
        services.review_organisation(cooperative_owner, org.id, "verify")
    auth.login(cooperative_owner.email)
    assert client.get("/alliance/organisations").status_code == 403
    assert client.post(f"/alliance/organisations/{org.id}/verify", data={}).status_code == 403
    db.session.refresh(org)
    assert org.status == OrganisationStatus.PENDING


def test_alliance_classifies_cooperatives(app, alliance_user, cooperative_owner):
    org = cooperative_owner.organisation
    services.classify_cooperative(alliance_user, org.id, "weak")
    assert org.classification.value == "weak"
    with pytest.raises(ValidationFailed):
        services.classify_cooperative(alliance_user, org.id, "excellent")


ROW_LINK = '"card-title-cell"><a href="/alliance/organisations/'  # the first cell of a row of the queue


def test_queue_filters_and_paginates(client, auth, alliance_user):
    for _ in range(25):
        factories.organisation("cooperative", status="pending")
    named = factories.organisation("enterprise", status="verified", legal_name="Công ty Hồi Quế Xuất Khẩu")
    auth.login(alliance_user.email)
    first = client.get("/alliance/organisations?status=pending").get_data(as_text=True)
    assert first.count(ROW_LINK) == 20
    assert 'aria-current="page"' in first and "page=2" in first
    second = client.get("/alliance/organisations?status=pending&page=2").get_data(as_text=True)
    assert second.count(ROW_LINK) == 5
    found = client.get("/alliance/organisations?status=&q=Hồi Quế").get_data(as_text=True)
    assert named.legal_name in found and found.count(ROW_LINK) == 1
    by_kind = client.get("/alliance/organisations?status=&kind=enterprise").get_data(as_text=True)
    assert by_kind.count(ROW_LINK) == 1
    # a bogus page number gives an empty page, not an error
    assert client.get("/alliance/organisations?page=999").status_code == 200
