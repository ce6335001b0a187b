"""Owners invite members by emailed link, and remove them; members cannot manage the organisation."""
import re

import pytest
from freezegun import freeze_time

from marketplace.accounts import services
from marketplace.accounts.models import Invitation, MemberRole, User
from marketplace.errors import Conflict, Forbidden, NotFound
from marketplace.extensions import db
from tests import factories

pytestmark = pytest.mark.usefixtures("english")  # these tests read the English messages


def invitation_link(message):
    return re.search(r"https?://[^/\s]+(/invitations/\S+)", message.body).group(1)


def test_owner_invites_a_member_who_joins_through_the_emailed_link(client, auth, cooperative_owner, outbox):
    auth.login(cooperative_owner.email)
    response = client.post("/organisation/members/invite", data={"email": "Lan@HTX.example", "role": "member"})
    assert response.status_code == 302
    assert outbox[0].to == ["lan@htx.example"]
    link = invitation_link(outbox[0])
    assert "lan@htx.example" in client.get("/organisation/members").get_data(as_text=True)
    client.post("/logout")

    page = client.get(link)
    assert page.status_code == 200 and cooperative_owner.organisation.legal_name in page.get_data(as_text=True)
    response = client.post(link, data={"full_name": "Nông Thị Lan", "password": factories.PASSWORD})
    assert response.status_code == 302
    member = db.session.scalar(db.select(User).filter_by(email="lan@htx.example"))
    assert member.organisation_id == cooperative_owner.organisation_id and member.role == MemberRole.MEMBER
    assert client.get("/organisation").status_code == 200  # logged in as the new member
    # the link is spent
    client.post("/logout")
    assert client.get(link).status_code == 404


def test_invitation_expires_after_seven_days(client, app, cooperative_owner, outbox):
    with freeze_time("2026-11-01 08:00:00"):
        services.invite_member(cooperative_owner, "hoa@htx.example")
    link = invitation_link(outbox[0])
    with freeze_time("2026-11-08 07:59:00"):
        assert client.get(link).status_code == 200
    with freeze_time("2026-11-08 08:01:00"):
        response = client.get(link)
        assert response.status_code == 404
        assert client.post(link, data={"full_name": "Hoa", "password": factories.PASSWORD}).status_code == 404
    assert db.session.scalar(db.select(User).filter_by(email="hoa@htx.example")) is None


def test_revoked_invitation_no_longer_works(client, auth, cooperative_owner, outbox):
    invitation = services.invite_member(cooperative_owner, "mai@htx.example")
    link = invitation_link(outbox[0])
    auth.login(cooperative_owner.email)
    assert client.post(f"/organisation/invitations/{invitation.id}/revoke").status_code == 302
    client.post("/logout")
    assert client.get(link).status_code == 404


def test_inviting_a_bad_email_is_explained(client, auth, cooperative_owner):
    """An email that has an account is answered like a new one (tests/accounts/test_enumeration.py)."""
    auth.login(cooperative_owner.email)
    bad = client.post("/organisation/members/invite", data={"email": "not-an-email", "role": "member"})
    assert bad.status_code == 422
    assert db.session.scalar(db.select(db.func.count(Invitation.id))) == 0


def test_members_cannot_invite_or_remove(app, cooperative_owner):
    member = factories.user(cooperative_owner.organisation, role="member")
    with pytest.raises(Forbidden):
        services.invite_member(member, "x@htx.example")
    with pytest.raises(Forbidden):
        services.remove_member(member, cooperative_owner.id)


def test_owner_removes_a_member_who_is_logged_out_and_cannot_log_in(app, make_app, cooperative_owner):
    member = factories.user(cooperative_owner.organisation, role="member", email="member@htx.example")
    member_client = app.test_client()
    member_client.post("/login", data={"email": member.email, "password": factories.PASSWORD})
    assert member_client.get("/organisation").status_code == 200

    owner_client = app.test_client()
    owner_client.post("/login", data={"email": cooperative_owner.email, "password": factories.PASSWORD})
    assert owner_client.post(f"/organisation/members/{member.id}/remove").status_code == 302

    assert member_client.get("/organisation").status_code == 302
    relogin = member_client.post("/login", data={"email": member.email, "password": factories.PASSWORD})
    assert relogin.status_code == 401
    assert member.email not in owner_client.get("/organisation/members").get_data(as_text=True)


def test_owner_cannot_remove_self_or_another_tenants_member(app, cooperative_owner, enterprise_owner):
    with pytest.raises(Conflict):
        services.remove_member(cooperative_owner, cooperative_owner.id)
    with pytest.raises(NotFound):
        services.remove_member(cooperative_owner, enterprise_owner.id)
    assert enterprise_owner.is_active


def test_emailed_links_ignore_a_forged_host_header(client, make_app, cooperative_owner, outbox):
    """Reset-link poisoning: links are built on PUBLIC_BASE_URL, never on the request's Host."""
    client.post("/forgot-password", data={"email": cooperative_owner.email}, headers={"Host": "evil.example"})
    assert len(outbox) == 1
    assert "evil.example" not in outbox[0].body
    assert "http://127.0.0.1:5000/reset-password/" in outbox[0].body


def test_the_remove_button_shows_exactly_where_the_service_would_remove(app, cooperative_owner, enterprise_owner):
    """User.can_be_removed_by (the members page's question) agrees with services.remove_member."""
    organisation = cooperative_owner.organisation
    co_owner = factories.user(organisation, role="owner", email="co-owner@htx.example")
    member = factories.user(organisation, role="member", email="member@htx.example")
    colleague = factories.user(organisation, role="member", email="colleague@htx.example")
    people = [cooperative_owner, co_owner, member, colleague, enterprise_owner]
    allowed = {(actor.email, target.email) for actor in people for target in people
               if target.can_be_removed_by(actor)}
    assert allowed == {(owner.email, someone.email) for owner in (cooperative_owner, co_owner)
                       for someone in (member, colleague)}
    for actor in people:
        for target in people:
            if (actor.email, target.email) not in allowed:
                with pytest.raises((Conflict, Forbidden, NotFound)):
                    services.remove_member(actor, target.id)
    client = app.test_client()
    client.post("/login", data={"email": co_owner.email, "password": factories.PASSWORD})
    page = client.get("/organisation/members").get_data(as_text=True)
    assert re.findall(r'action="/organisation/members/(\d+)/remove"', page) == [str(member.id), str(colleague.id)]
    services.remove_member(co_owner, member.id)
    assert not member.is_active and not member.can_be_removed_by(co_owner)  # already removed
