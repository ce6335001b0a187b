"""The only module that imports rq: the job queue on Redis (REDIS_URL), its worker and its cron scheduler.

Without REDIS_URL nothing here is used: outbox messages are delivered in-process after each commit and
scheduled work runs from cron through the flask commands (docs/deploy.md).
"""
import os
import time

from flask import current_app
from redis import Redis
from rq import Queue, Retry, SimpleWorker
from rq.cron import CronScheduler

from marketplace.jobs import tasks
from marketplace.jobs.schedule import SCHEDULE


def configured():
    """True when REDIS_URL is set: side effects go to the queue."""
    return bool(current_app.config.get("REDIS_URL"))


def connection():
    """This app's Redis connection (one client, with its own pool, per app)."""
    extensions = current_app.extensions
    if "jobs_redis" not in extensions:
        extensions["jobs_redis"] = Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=5,
                                                  socket_connect_timeout=5)
    return extensions["jobs_redis"]


def queue():
    return Queue(current_app.config["JOBS_QUEUE"], connection=connection())


def _retry():
    intervals = current_app.config["JOBS_RETRY_INTERVALS"]
    return Retry(max=current_app.config["JOBS_MAX_ATTEMPTS"] - 1, interval=list(intervals))


def enqueue_delivery(message_id):
    """Queue the delivery of one outbox message; its job id makes a repeated enqueue replace, not add, a job."""
    queue().enqueue(tasks.deliver, message_id, job_id=f"outbox-{message_id}", retry=_retry(),
                    description=f"outbox message {message_id}")


def enqueue_scheduled(name):
    """Queue one piece of scheduled work now (what the cron scheduler does at its time)."""
    return queue().enqueue(tasks.run_scheduled, name, retry=_retry(), description=f"scheduled: {name}")


def ping():
    """True when Redis answers (for /healthz)."""
    return bool(connection().ping())


def run_worker(app, burst=False):
    """Work the queue in this process (jobs run in it too: the app is loaded once, no fork per job).

    The scheduler runs with it, so retries with back-off come back on time. `burst` stops when the
    queue is empty (tests).
    """
    tasks.use_app(app)
    with app.app_context():
        worker = SimpleWorker([queue()], connection=connection())
        return worker.work(burst=burst, with_scheduler=True, logging_level="INFO")


def run_cron(app):
    """Enqueue each entry of SCHEDULE at its time, in Vietnam time (until SIGTERM)."""
    os.environ["TZ"] = app.config["SCHEDULE_TIMEZONE"]
    time.tzset()
    with app.app_context():
        scheduler = CronScheduler(connection=connection())
        for job in SCHEDULE:
            scheduler.register(tasks.run_scheduled, queue_name=app.config["JOBS_QUEUE"], args=(job.name,),
                               cron=job.cron, name=job.name)
        scheduler.start()
