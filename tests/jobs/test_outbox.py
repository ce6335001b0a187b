"""One unit of work per use case, and its side effects in an outbox (marketplace/unit_of_work.py,
marketplace/jobs/): committed with the change or not at all, delivered once after the commit, retried
with back-off, visible when they keep failing, and picked up after a crash. Then the same through RQ
on Redis, in-process and in a separate `flask jobs worker`."""
import io
import os
import secrets
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from freezegun import freeze_time
from werkzeug.datastructures import FileStorage

from marketplace import notifications
from marketplace.accounts import services as accounts
from marketplace.accounts.models import User
from marketplace.catalog import images
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Product
from marketplace.extensions import db
from marketplace.jobs import outbox as jobs_outbox
from marketplace.jobs import queue, schedule, tasks
from marketplace.jobs.models import OutboxMessage, OutboxStatus
from marketplace.sqltypes import utcnow
from marketplace.unit_of_work import unit_of_work
from tests import factories
from tests.factories import jpeg
from tests.support import REDIS_URL, database_url, require_redis

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def messages():
    db.session.expire_all()
    return db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id)).all()


class MailServerDown:
    """Makes every email delivery fail like an SMTP outage, until `recover()`."""

    def __init__(self, monkeypatch):
        self.calls = 0
        self.down = True
        real = notifications.EmailMessage.send

        def send(message, *args, **kwargs):
            self.calls += 1
            if self.down:
                raise ConnectionRefusedError("SMTP server unreachable")
            return real(message, *args, **kwargs)

        monkeypatch.setattr(notifications.EmailMessage, "send", send)

    def recover(self):
        self.down = False


# ---------------------------------------------------------------- unit of work

def test_a_use_case_commits_its_email_with_the_change_and_sends_it_after_the_commit(app, outbox, cooperative_owner):
    accounts.request_password_reset(cooperative_owner.email)
    [message] = messages()
    assert message.kind == "email" and message.status == OutboxStatus.DONE and message.attempts == 1
    assert len(outbox) == 1 and outbox[0].to == [cooperative_owner.email]
    assert "/reset-password/" in outbox[0].body
    # A delivered email keeps its recipient and subject, not its body: the reset link is not kept in clear.
    assert set(message.payload) == {"to", "subject"} and message.payload["to"] == cooperative_owner.email


def test_a_rolled_back_use_case_leaves_no_side_effect(app, outbox, cooperative_owner):
    with pytest.raises(RuntimeError, match="boom"):
        with unit_of_work():
            notifications.send(cooperative_owner.email, "Hello", "password_changed", user=cooperative_owner)
            db.session.flush()
            raise RuntimeError("boom")
    assert messages() == [] and outbox == []


def test_a_nested_unit_of_work_joins_the_outer_one(app, outbox, cooperative_owner):
    with pytest.raises(RuntimeError):
        with unit_of_work():
            accounts.request_password_reset(cooperative_owner.email)  # a service with a unit of work of its own
            # The inner use case did not commit: its email is a row of the open transaction, not sent.
            assert [m.status for m in messages()] == [OutboxStatus.PENDING] and outbox == []
            raise RuntimeError("the outer use case fails after the inner one")
    assert messages() == [] and outbox == []


def test_a_savepoint_neither_sends_early_nor_drops_the_outer_messages(app, outbox, cooperative_owner, monkeypatch):
    # SQLAlchemy fires after_commit and after_rollback for savepoints too (the API's idempotency keys use one).
    dispatched, dispatch = [], jobs_outbox.dispatch
    monkeypatch.setattr(jobs_outbox, "dispatch", lambda ids: (dispatched.append(list(ids)), dispatch(ids)))
    with unit_of_work():
        notifications.send(cooperative_owner.email, "Before", "password_changed", user=cooperative_owner)
        db.session.flush()
        with db.session.begin_nested():
            notifications.send(cooperative_owner.email, "Released", "password_changed", user=cooperative_owner)
        with pytest.raises(RuntimeError):
            with db.session.begin_nested():
                notifications.send(cooperative_owner.email, "Taken back", "password_changed", user=cooperative_owner)
                db.session.flush()
                raise RuntimeError("refused")
        assert dispatched == [] and outbox == []  # nothing is sent before the real commit
    assert len(dispatched) == 1
    assert sorted(m.subject for m in outbox) == ["Before", "Released"]
    assert [m.status for m in messages()] == [OutboxStatus.DONE, OutboxStatus.DONE]


def test_side_effects_outside_a_unit_of_work_are_refused(app, cooperative_owner):
    with pytest.raises(RuntimeError, match="inside a unit of work"):
        notifications.send(cooperative_owner.email, "Hello", "password_changed", user=cooperative_owner)
    with pytest.raises(KeyError):
        with unit_of_work():
            jobs_outbox.add("no-such-kind", {})


# ---------------------------------------------------------------- failures, retries, crashes

def test_a_mail_outage_keeps_the_email_and_retries_it_with_back_off(app, outbox, cooperative_owner, monkeypatch):
    mail = MailServerDown(monkeypatch)
    with freeze_time("2026-11-28 10:00:00"):
        accounts.request_password_reset(cooperative_owner.email)
    [message] = messages()
    assert message.status == OutboxStatus.PENDING and message.attempts == 1
    assert "SMTP server unreachable" in message.last_error
    assert message.next_attempt_at == utcnow().replace(year=2026, month=11, day=28, hour=10, minute=0, second=10,
                                                       microsecond=0)
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 1  # the change stands

    with freeze_time("2026-11-28 10:00:05"):
        assert outbox_sweep(app) == 0  # not due yet
    mail.recover()
    with freeze_time("2026-11-28 10:00:11"):
        assert outbox_sweep(app) == 1
    [message] = messages()
    assert message.status == OutboxStatus.DONE and message.attempts == 2
    assert len(outbox) == 1


def outbox_sweep(app):
    result = app.test_cli_runner().invoke(args=["jobs", "sweep"])
    assert result.exit_code == 0, result.output
    return int(result.output.split()[1])


def test_a_message_that_keeps_failing_is_listed_and_can_be_retried(app, outbox, cooperative_owner, monkeypatch):
    mail = MailServerDown(monkeypatch)
    start = utcnow()
    with freeze_time(start):
        accounts.request_password_reset(cooperative_owner.email)
    later = start
    for _attempt in range(app.config["JOBS_MAX_ATTEMPTS"] - 1):
        later += timedelta(hours=1)
        with freeze_time(later):
            jobs_outbox.sweep()
    [message] = messages()
    assert message.status == OutboxStatus.FAILED and message.attempts == app.config["JOBS_MAX_ATTEMPTS"]
    assert mail.calls == app.config["JOBS_MAX_ATTEMPTS"]
    with freeze_time(later + timedelta(days=1)):
        assert jobs_outbox.sweep() == 0  # given up: no more automatic attempts

    runner = app.test_cli_runner()
    listed = runner.invoke(args=["jobs", "failed"])
    assert listed.exit_code == 1
    assert f"{message.id}\t" in listed.output and f"email to {cooperative_owner.email}" in listed.output
    assert "ConnectionRefusedError: SMTP server unreachable" in listed.output

    mail.recover()
    assert runner.invoke(args=["jobs", "retry"]).exit_code != 0  # ids or --all, not nothing
    retried = runner.invoke(args=["jobs", "retry", str(message.id), "999999"])
    assert retried.exit_code == 0 and "Retried 1 job(s)" in retried.output and "999999" in retried.output
    assert messages()[0].status == OutboxStatus.DONE and len(outbox) == 1
    assert runner.invoke(args=["jobs", "failed"]).output.strip() == "No failed jobs."


def test_retry_all_retries_every_failed_message(app, outbox, cooperative_owner, enterprise_owner, monkeypatch):
    mail = MailServerDown(monkeypatch)
    app.config["JOBS_MAX_ATTEMPTS"] = 1
    accounts.request_password_reset(cooperative_owner.email)
    accounts.request_password_reset(enterprise_owner.email)
    assert [m.status for m in messages()] == [OutboxStatus.FAILED, OutboxStatus.FAILED]
    mail.recover()
    result = app.test_cli_runner().invoke(args=["jobs", "retry", "--all"])
    assert result.exit_code == 0 and "Retried 2 job(s)" in result.output
    assert {tuple(m.to) for m in outbox} == {(cooperative_owner.email,), (enterprise_owner.email,)}


def test_a_crash_between_the_commit_and_the_delivery_loses_nothing(app, outbox, cooperative_owner, monkeypatch):
    monkeypatch.setattr(jobs_outbox, "dispatch", lambda ids: None)  # the process dies right after the commit
    accounts.request_password_reset(cooperative_owner.email)
    monkeypatch.undo()
    [message] = messages()
    assert message.status == OutboxStatus.PENDING and message.attempts == 0 and outbox == []
    assert jobs_outbox.sweep() == 0  # still young: it may be on its way to a worker
    with freeze_time(utcnow() + jobs_outbox.SWEEP_GRACE + timedelta(seconds=1)):
        assert jobs_outbox.sweep() == 1
    assert messages()[0].status == OutboxStatus.DONE and len(outbox) == 1


def test_a_message_is_delivered_once_even_when_dispatched_twice(app, outbox, cooperative_owner, monkeypatch):
    monkeypatch.setattr(jobs_outbox, "dispatch", lambda ids: None)
    accounts.request_password_reset(cooperative_owner.email)
    [message] = messages()
    assert jobs_outbox.deliver(message.id) is True
    assert jobs_outbox.deliver(message.id) is False
    assert len(outbox) == 1


def test_a_worker_that_died_while_delivering_leaves_the_message_to_the_next_sweep(app, outbox, cooperative_owner,
                                                                                  monkeypatch):
    monkeypatch.setattr(jobs_outbox, "dispatch", lambda ids: None)
    accounts.request_password_reset(cooperative_owner.email)
    [message] = messages()
    assert jobs_outbox._claim(message.id) is not None  # claimed by a worker that is then killed
    assert jobs_outbox.deliver(message.id) is False  # the lease protects it from a second delivery meanwhile
    monkeypatch.undo()
    with freeze_time(utcnow() + jobs_outbox.LEASE + timedelta(seconds=1)):
        assert jobs_outbox.sweep() == 1
    assert messages()[0].status == OutboxStatus.DONE and len(outbox) == 1


# ---------------------------------------------------------------- files of deleted rows

def test_files_of_a_deleted_product_go_after_the_commit_and_stay_after_a_rollback(app, cooperative_owner, monkeypatch):
    product = factories.product(cooperative_owner.organisation, name="Hồi khô")
    catalog.add_photos(cooperative_owner, product.id, [FileStorage(io.BytesIO(jpeg()), filename="hoi.jpg")])
    path = images.photo_path(db.session.get(Product, product.id).images[0].stored_name)
    assert path.exists()

    session = db.session()
    monkeypatch.setattr(session, "commit", _failing_commit)
    with pytest.raises(sa.exc.OperationalError):
        catalog.delete_product(cooperative_owner, product.id)
    monkeypatch.undo()
    assert path.exists()  # the deletion was rolled back: its files stay
    assert db.session.get(Product, product.id) is not None

    catalog.delete_product(cooperative_owner, product.id)
    assert not path.exists()
    assert messages()[-1].kind == "discard_files" and messages()[-1].status == OutboxStatus.DONE


def _failing_commit():
    raise sa.exc.OperationalError("COMMIT", {}, Exception("database is locked"))


# ---------------------------------------------------------------- scheduled work

def test_every_scheduled_job_is_a_flask_command_and_a_callable(app):
    for job in schedule.SCHEDULE:
        group, command = job.name.split()
        assert command in app.cli.commands[group].commands, job.name
        module, function = job.function.split(":")
        assert callable(getattr(__import__(module, fromlist=[function]), function))
    crontab = app.test_cli_runner().invoke(args=["jobs", "schedule", "--flask", "flask"]).output
    assert crontab.startswith("CRON_TZ=Asia/Ho_Chi_Minh")
    assert "5 0 * * * flask catalog expire-certificates" in crontab
    assert "* * * * * flask jobs sweep" in crontab


def test_a_scheduled_job_runs_through_the_task_the_queue_calls(app, cooperative_owner):
    assert tasks.call_scheduled("catalog expire-certificates") == []
    with pytest.raises(KeyError):
        tasks.call_scheduled("no such job")


def test_cron_without_redis_starts_one_systemd_unit_per_job_by_key(app):
    runner = app.test_cli_runner()
    crontab = runner.invoke(args=["jobs", "schedule", "--systemd"]).output.splitlines()
    assert crontab[0] == "CRON_TZ=Asia/Ho_Chi_Minh" and len(crontab) == len(schedule.SCHEDULE) + 1
    assert "5 0 * * * root systemctl start chohtx-job@catalog:expire-certificates.service" in "\n".join(crontab)
    result = runner.invoke(args=["jobs", "run", "catalog:expire-certificates"])
    assert result.exit_code == 0 and "Ran catalog expire-certificates." in result.output
    assert runner.invoke(args=["jobs", "run", "nothing:here"]).exit_code != 0


# ---------------------------------------------------------------- RQ on Redis

@pytest.fixture
def redis_queue(app):
    """REDIS_URL set for this app, on a queue of this test's own (deleted afterwards)."""
    connection = require_redis()
    name = f"test-jobs-{uuid.uuid4().hex}"
    app.config.update(REDIS_URL=REDIS_URL, JOBS_QUEUE=name, JOBS_RETRY_INTERVALS=(0, 0, 0, 0))
    yield connection
    for key in connection.scan_iter(match=f"*{name}*", count=1000):
        connection.delete(key)
    app.extensions.pop("jobs_redis").close()
    connection.close()


def test_with_redis_side_effects_wait_in_the_queue_for_a_worker(app, outbox, cooperative_owner, redis_queue):
    accounts.request_password_reset(cooperative_owner.email)
    [message] = messages()
    assert message.status == OutboxStatus.PENDING and outbox == []  # nothing ran in the web process
    assert queue.queue().job_ids == [f"outbox-{message.id}"]

    queue.run_worker(app, burst=True)
    assert messages()[0].status == OutboxStatus.DONE
    assert len(outbox) == 1 and outbox[0].to == [cooperative_owner.email]


def test_with_redis_a_failing_job_is_retried_by_the_queue_then_listed(app, outbox, cooperative_owner, redis_queue,
                                                                      monkeypatch):
    MailServerDown(monkeypatch)
    app.config["JOBS_MAX_ATTEMPTS"] = 3
    accounts.request_password_reset(cooperative_owner.email)
    queue.run_worker(app, burst=True)  # the attempt and its two retries (no delay in this test)
    [message] = messages()
    assert message.status == OutboxStatus.FAILED and message.attempts == 3
    assert "SMTP server unreachable" in app.test_cli_runner().invoke(args=["jobs", "failed"]).output


def test_a_separate_worker_process_sends_a_queued_email(app, database, cooperative_owner, redis_queue, tmp_path):
    """What `make serve` runs beside gunicorn when REDIS_URL is set: `flask jobs worker`."""
    env = {**os.environ, "MARKETPLACE_ENV": "development", "SECRET_KEY": secrets.token_urlsafe(48),
           "DATABASE_URL": database_url(database), "REDIS_URL": REDIS_URL, "JOBS_QUEUE": app.config["JOBS_QUEUE"],
           "SEARCH_INDEX_DIR": app.config["SEARCH_INDEX_DIR"], "UPLOAD_DIR": app.config["UPLOAD_DIR"],
           "MAIL_BACKEND": "console", "PYTHONUNBUFFERED": "1"}
    accounts.request_password_reset(cooperative_owner.email)
    [message] = messages()
    assert message.status == OutboxStatus.PENDING
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker", "--burst"],
                                  cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        assert worker.wait(timeout=120) == 0, log_path.read_text()
    assert messages()[0].status == OutboxStatus.DONE
    output = log_path.read_text()
    assert cooperative_owner.email in output and "/reset-password/" in output


def test_the_worker_command_explains_itself_without_redis(app):
    result = app.test_cli_runner().invoke(args=["jobs", "worker"])
    assert result.exit_code != 0 and "REDIS_URL is not set" in result.output
    assert app.config["REDIS_URL"] is None
