"""All scheduled work, declared once. Times are Vietnam time (SCHEDULE_TIMEZONE).

Run either by RQ's cron scheduler (`flask jobs cron`, with REDIS_URL) or by the system's cron calling
the flask commands: `flask jobs schedule` prints that crontab. Every job is idempotent, so a run
repeated by both, or after a missed day, does no harm.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class ScheduledJob:
    name: str  # the flask command that runs it, e.g. "catalog expire-certificates"
    cron: str  # minute hour day month weekday, Vietnam time
    function: str  # "module:function" run inside an app context, without arguments
    description: str


SCHEDULE = (
    ScheduledJob("jobs sweep", "* * * * *", "marketplace.jobs.outbox:sweep",
                 "dispatch outbox messages left pending (a crash, a queue outage) or due for a retry"),
    ScheduledJob("catalog expire-certificates", "5 0 * * *", "marketplace.catalog.services:expire_certificates",
                 "mark OCOP certificates past their expiry date as expired and tell the cooperatives"),
    ScheduledJob("agreements remind", "15 8 * * *", "marketplace.agreements.services:remind",
                 "expire MoUs past their end date and remind parties an MoU waits for (once per step)"),
    ScheduledJob("accounts prune", "45 3 * * *", "marketplace.accounts.services:prune",
                 "forget registration requests whose confirmation link has expired"),
    ScheduledJob("search prune-changes", "30 3 * * *", "marketplace.search.sync:prune_changes",
                 "forget search changes older than SEARCH_CHANGE_RETENTION_DAYS"),
)


def find(name):
    """The scheduled job called `name`; raises KeyError."""
    for job in SCHEDULE:
        if job.name == name:
            return job
    raise KeyError(name)


def crontab(flask_command):
    """The system crontab equivalent of SCHEDULE, for hosts without Redis."""
    lines = ["CRON_TZ=Asia/Ho_Chi_Minh"]
    lines += [f"{job.cron} {flask_command} {job.name}  # {job.description}" for job in SCHEDULE]
    return "\n".join(lines)
