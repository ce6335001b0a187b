"""`flask jobs ...`: the outbox and the job queue for operators."""
import click
from flask import current_app
from flask.cli import AppGroup

from marketplace.jobs import outbox, queue, schedule, tasks

jobs_cli = AppGroup("jobs", help="Side effects (outbox), the job queue and scheduled work.")


@jobs_cli.command("failed")
def failed():
    """List the side effects given up after JOBS_MAX_ATTEMPTS (exit status 1 when there are any)."""
    messages = outbox.failed_messages()
    if not messages:
        click.echo("No failed jobs.")
        return
    for message in messages:
        error = (message.last_error.splitlines() or [""])[0]
        click.echo(f"{message.id}\t{message.created_at:%Y-%m-%d %H:%M}\t{message.attempts} attempts\t"
                   f"{message.summary()}\t{error}")
    click.echo(f"{len(messages)} failed. Retry with `flask jobs retry ID` or `flask jobs retry --all`.")
    raise SystemExit(1)


@jobs_cli.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "everything", is_flag=True, help="Retry every failed job.")
def retry(ids, everything):
    """Give failed jobs (IDS, or --all) a new series of attempts."""
    if bool(ids) == everything:
        raise click.UsageError("Give the ids of failed jobs, or --all.")
    retried = outbox.retry(None if everything else list(ids))
    unknown = sorted(set(ids) - set(retried))
    if unknown:
        click.echo(f"Not failed jobs, left alone: {', '.join(map(str, unknown))}")
    click.echo(f"Retried {len(retried)} job(s).")


@jobs_cli.command("sweep")
def sweep():
    """Dispatch side effects left pending or due for a retry (scheduled every minute)."""
    click.echo(f"Dispatched {outbox.sweep()} job(s).")


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker(burst):
    """Work the job queue (needs REDIS_URL); retries come back on time through its scheduler."""
    if not queue.configured():
        raise click.ClickException("REDIS_URL is not set: side effects run in the web processes, no worker "
                                   "is needed (schedule `flask jobs sweep` with cron instead).")
    queue.run_worker(current_app._get_current_object(), burst=burst)


@jobs_cli.command("cron")
def cron():
    """Enqueue the scheduled work at its times (needs REDIS_URL; run one per deployment)."""
    if not queue.configured():
        raise click.ClickException("REDIS_URL is not set: use the system's cron (`flask jobs schedule`).")
    queue.run_cron(current_app._get_current_object())


@jobs_cli.command("schedule")
@click.option("--flask", "flask_command", default="cd /srv/chohtx && .venv/bin/flask --app wsgi",
              show_default=True, help="How cron runs a flask command on this host.")
@click.option("--systemd", is_flag=True,
              help="Start deploy/systemd/chohtx-job@.service instead (/etc/cron.d format, with the user).")
def print_schedule(flask_command, systemd):
    """Print the scheduled work as a crontab (for deployments that use cron instead of `flask jobs cron`)."""
    click.echo(schedule.crontab(flask_command, systemd_unit="chohtx-job@.service" if systemd else None))


@jobs_cli.command("run")
@click.argument("name")
def run(name):
    """Run one scheduled job now, by its name or key (e.g. catalog:expire-certificates)."""
    try:
        job = schedule.find(name)
    except KeyError:
        raise click.UsageError(f"No scheduled job {name!r}; see `flask jobs schedule`.") from None
    tasks.call_scheduled(job.name)
    click.echo(f"Ran {job.name}.")
