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

    @property
    def key(self):
        """The name without spaces ("catalog:expire-certificates"): for `flask jobs run` and systemd units."""
        return self.name.replace(" ", ":")


SCHEDULE = (
    ScheduledJob("jobs sweep", "* * * * *", "marketplace.jobs.outbox:sweep",
                 "dispatch outbox messages left pending (a crash, a queue outage) or due for a retry"),
    ScheduledJob("catalog expire-certificates", "5 0 * * *", "marketplace.catalog.services:expire_certificates",
                 "mark OCOP certificates past their expiry date as expired and tell the cooperatives"),
    ScheduledJob("agreements remind", "15 8 * * *", "marketplace.agreements.services:remind",
                 "expire MoUs past their end date and remind parties an MoU waits for (once per step)"),
    ScheduledJob("alliance follow-up", "30 8 * * *", "marketplace.alliance.tracking:follow_up",
                 "recompute MoU tracking statuses, email the alliance its digest and the parties their reminders"),
    ScheduledJob("accounts prune", "45 3 * * *", "marketplace.accounts.services:prune",
                 "forget registration requests whose confirmation link has expired"),
    ScheduledJob("search prune-changes", "30 3 * * *", "marketplace.search.sync:prune_changes",
                 "forget search changes older than SEARCH_CHANGE_RETENTION_DAYS"),
    ScheduledJob("api prune-idempotency-keys", "20 * * * *", "marketplace.api.idempotency:prune",
                 "forget the stored answers to API Idempotency-Keys older than 24 hours"),
)


def find(name):
    """The scheduled job called `name` (or its key); raises KeyError."""
    for job in SCHEDULE:
        if name in (job.name, job.key):
            return job
    raise KeyError(name)


def crontab(flask_command=None, systemd_unit=None):
    """The system crontab equivalent of SCHEDULE, for deployments without Redis: each line runs the job's
    flask command after `flask_command`, or starts the systemd template `systemd_unit` with its key."""
    lines = ["CRON_TZ=Asia/Ho_Chi_Minh"]
    for job in SCHEDULE:
        run = f"systemctl start {systemd_unit.replace('@', '@' + job.key)}" if systemd_unit else \
            f"{flask_command} {job.name}"
        lines.append(f"{job.cron} {'root ' if systemd_unit else ''}{run}  # {job.description}")
    return "\n".join(lines)
