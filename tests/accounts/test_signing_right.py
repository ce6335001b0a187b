"""The signing right: only an organisation's owner, or a member the owner allowed, signs agreements in its name.
Owners give and take the right on the members page (accounts.services.set_signing_right, with an event)."""
import pytest
import sqlalchemy as sa

from marketplace.accounts import services
from marketplace.accounts.models import OrganisationEvent, OrganisationEventKind, User
from marketplace.errors import Conflict, Forbidden, NotFound
from marketplace.extensions import db
from tests import factories


@pytest.fixture
def team(app):
    cooperative = factories.organisation("cooperative")
    owner = factories.user(cooperative, email="chu@htx.example")
    member = factories.user(cooperative, email="ketoan@htx.example", role="member", full_name="Lương Thị Hoa")
    return owner, member


def events():
    return [(e.kind, e.note) for e in db.session.scalars(sa.select(OrganisationEvent).order_by(OrganisationEvent.id))]


def test_the_owner_gives_and_takes_the_right_with_an_event_each(team):
    owner, member = team
    assert not member.may_sign and owner.may_sign
    services.set_signing_right(owner, member.id, True)
    assert member.may_sign
    services.set_signing_right(owner, member.id, True)  # already given: nothing happens
    services.set_signing_right(owner, member.id, False)
    assert not member.may_sign
    assert events() == [(OrganisationEventKind.SIGNING_RIGHT_GRANTED, member.email),
                        (OrganisationEventKind.SIGNING_RIGHT_REVOKED, member.email)]


def test_only_an_owner_of_the_same_organisation_decides(team):
    owner, member = team
    colleague = factories.user(owner.organisation, email="phó@htx.example", role="member")
    with pytest.raises(Forbidden):
        services.set_signing_right(member, colleague.id, True)
    with pytest.raises(Conflict):
        services.set_signing_right(owner, owner.id, False)  # owners always sign
    stranger = factories.user(factories.organisation("enterprise"), email="khac@dn.example")
    with pytest.raises(NotFound):
        services.set_signing_right(stranger, member.id, True)
    services.remove_member(owner, colleague.id)
    with pytest.raises(NotFound):
        services.set_signing_right(owner, colleague.id, True)
    assert not db.session.get(User, member.id).can_sign


def test_the_members_page_has_the_control_for_owners_only(team, client, auth):
    owner, member = team
    auth.login(owner.email)
    client.post("/language", data={"lang": "en"})
    page = client.get("/organisation/members").get_data(as_text=True)
    assert f'action="/organisation/members/{member.id}/signing-right"' in page and "Yes (owner)" in page
    assert f'action="/organisation/members/{owner.id}/signing-right"' not in page
    response = client.post(f"/organisation/members/{member.id}/signing-right", data={"allowed": "1"})
    assert response.status_code == 302
    assert "Lương Thị Hoa can now sign agreements" in client.get("/organisation/members").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, member.id).can_sign
    client.post(f"/organisation/members/{member.id}/signing-right", data={"allowed": "0"})
    db.session.expire_all()
    assert not db.session.get(User, member.id).can_sign
    auth.logout()
    auth.login(member.email)
    page = client.get("/organisation/members").get_data(as_text=True)
    assert "/signing-right" not in page
    assert client.post(f"/organisation/members/{member.id}/signing-right", data={"allowed": "1"}).status_code == 403
    db.session.expire_all()
    assert not db.session.get(User, member.id).can_sign
