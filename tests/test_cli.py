"""Operator commands: `flask accounts create-alliance-user`, `flask accounts create-token`, `flask seed-demo`."""
import pytest

from marketplace import demo
from marketplace.accounts.models import ApiToken, MemberRole, Organisation, OrganisationKind, User
from marketplace.extensions import db
from tests import factories

STAFF_PASSWORD = "cán bộ liên minh hợp tác xã"


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def count(model):
    return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_create_alliance_user(runner, client):
    result = runner.invoke(args=["accounts", "create-alliance-user", "Staff@LienMinh.example",
                                 "--name", "Hoàng Thị Lan", "--password", STAFF_PASSWORD])
    assert result.exit_code == 0, result.output
    assert "staff@lienminh.example" in result.output
    user = db.session.scalar(db.select(User).filter_by(email="staff@lienminh.example"))
    assert user.full_name == "Hoàng Thị Lan"
    assert user.role == MemberRole.OWNER
    assert user.organisation.kind == OrganisationKind.ALLIANCE
    assert STAFF_PASSWORD not in user.password_hash
    response = client.post("/login", data={"email": "staff@lienminh.example", "password": STAFF_PASSWORD})
    assert response.status_code == 302
    assert client.get("/alliance/organisations").status_code == 200


def test_a_second_staff_member_joins_the_same_alliance(runner):
    for email in ("one@lienminh.example", "two@lienminh.example"):
        result = runner.invoke(args=["accounts", "create-alliance-user", email, "--password", STAFF_PASSWORD])
        assert result.exit_code == 0, result.output
    assert count(db.select(Organisation).filter_by(kind=OrganisationKind.ALLIANCE).subquery()) == 1


def test_the_password_can_come_from_the_environment(runner):
    result = runner.invoke(args=["accounts", "create-alliance-user", "env@lienminh.example"],
                           env={"ALLIANCE_PASSWORD": STAFF_PASSWORD})
    assert result.exit_code == 0, result.output
    assert db.session.scalar(db.select(User).filter_by(email="env@lienminh.example")) is not None


def test_a_generated_password_is_printed_once_and_works(runner, client):
    result = runner.invoke(args=["accounts", "create-alliance-user", "gen@lienminh.example", "--generate"])
    assert result.exit_code == 0, result.output
    password = result.output.split("Password: ", 1)[1].strip()
    assert len(password) >= 20
    assert client.post("/login", data={"email": "gen@lienminh.example", "password": password}).status_code == 302


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [
        ("short@lienminh.example", "short", "password"),
        ("common@lienminh.example", "123456789012", "password"),
        ("not-an-email", STAFF_PASSWORD, "owner_email"),
    ],
)
def test_bad_input_is_a_clear_error_and_creates_nothing(runner, email, password, field):
    users_before = count(User)
    result = runner.invoke(args=["accounts", "create-alliance-user", email, "--password", password])
    assert result.exit_code != 0
    assert result.output.startswith("Error: ")
    assert f"{field}: " in result.output
    assert "Traceback" not in result.output
    assert count(User) == users_before
    # Not even the alliance organisation is left behind (a later commit in the same session would save it).
    assert count(Organisation) == 0


def test_an_existing_email_is_refused(runner, cooperative_owner):
    result = runner.invoke(args=["accounts", "create-alliance-user", cooperative_owner.email,
                                 "--password", STAFF_PASSWORD])
    assert result.exit_code != 0
    assert "owner_email: " in result.output
    db.session.refresh(cooperative_owner)
    assert cooperative_owner.organisation.kind == OrganisationKind.COOPERATIVE


def test_create_token_prints_a_token_that_authenticates(runner, client, cooperative_owner):
    result = runner.invoke(args=["accounts", "create-token", "OWNER@htx.example", "--name", "ERP"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert secret.startswith("cht_") and "\n" not in secret
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    assert me.get_json()["email"] == cooperative_owner.email
    token = db.session.scalar(db.select(ApiToken))
    assert token.name == "ERP" and token.token_hash != secret


def test_create_token_for_an_unknown_email_is_a_clear_error(runner, cooperative_owner):
    result = runner.invoke(args=["accounts", "create-token", "nobody@htx.example"])
    assert result.exit_code != 0
    # Operators read the default locale (Vietnamese) unless they set another.
    assert result.output.strip() in {
        "Error: No account with this email.",
        "Error: Không có tài khoản nào dùng email này.",
    }
    assert count(ApiToken) == 0


def test_create_token_for_a_removed_member_is_refused(runner, cooperative_owner):
    member = factories.user(cooperative_owner.organisation, email="gone@htx.example", role="member",
                            is_active=False)
    result = runner.invoke(args=["accounts", "create-token", member.email])
    assert result.exit_code != 0
    assert result.output.startswith("Error: ")
    assert count(ApiToken) == 0


def table_contents():
    db.session.expire_all()
    return {
        table.name: sorted(map(repr, db.session.execute(table.select()).all()))
        for table in db.metadata.sorted_tables
    }


def test_seed_demo_is_idempotent_and_prints_the_logins(runner, client):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    after_first = table_contents()
    assert len(after_first["organisation"]) == 1 + len(demo.COOPERATIVES) + len(demo.ENTERPRISES)
    assert len(after_first["user_account"]) == len(demo.logins())

    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert table_contents() == after_first, "a second seed-demo changed the database"

    for output in (first.output, second.output):
        assert demo.DEMO_PASSWORD in output
        for email, _description in demo.logins():
            assert email in output
    response = client.post("/login", data={"email": demo.ALLIANCE_EMAIL, "password": demo.DEMO_PASSWORD})
    assert response.status_code == 302
    assert client.get("/alliance/organisations").status_code == 200


def test_seed_demo_uses_an_alliance_that_already_exists(runner):
    assert runner.invoke(args=["accounts", "create-alliance-user", "staff@lienminh.example",
                               "--password", STAFF_PASSWORD]).exit_code == 0
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert count(db.select(Organisation).filter_by(kind=OrganisationKind.ALLIANCE).subquery()) == 1
