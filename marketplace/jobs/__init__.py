"""Side effects after commits: the transactional outbox, the job queue (RQ on Redis) and scheduled work.

- models.py    OutboxMessage: a side effect written in the same transaction as the change it follows
- outbox.py    writing messages, delivering them once, retrying with back-off, listing failures
- queue.py     the only module that imports rq: enqueueing deliveries, the worker, the cron scheduler
- schedule.py  every piece of scheduled work, declared once
- tasks.py     the functions RQ workers run
- cli.py       flask jobs failed / retry / sweep / worker / cron / schedule
"""
