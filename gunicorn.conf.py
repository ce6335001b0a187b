"""gunicorn settings for `make serve`, the systemd unit and the container (gunicorn reads this file
from the working directory; `-c gunicorn.conf.py` names it explicitly).

Environment: HOST (default 127.0.0.1), PORT (8000), WORKERS (2 × CPUs + 1), THREADS (1: sync workers; more: gthread
workers with that many threads each), LOG_FORMAT (json) and LOG_LEVEL (INFO). Options given on the command line win
over these.
"""
import gc
import os

from marketplace.logging_setup import install_record_factory, logging_config


def _workers():
    value = os.environ.get("WORKERS", "").strip()
    return int(value) if value else 2 * (os.cpu_count() or 1) + 1


bind = [f"{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or '8000'}"]
workers = _workers()
threads = int(os.environ.get("THREADS", "").strip() or 1)
# sync: one request at a time per process (nginx buffers slow clients in front); gthread with THREADS > 1: a worker
# serves other requests while one waits (a login's Argon2id hash, which releases the GIL; the database).
worker_class = "gthread" if threads > 1 else "sync"
timeout = 60  # photo uploads are re-encoded in the request (Pillow)
graceful_timeout = 30  # on SIGTERM, requests under way get this long to finish
keepalive = 2
# Workers heartbeat through a file: in memory, not on a container's overlay disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# One JSON line per record on stderr for gunicorn's own messages as for the application's; the
# application writes the access lines itself (with the request id), so gunicorn's are off.
accesslog = None
errorlog = "-"
# gunicorn 25+ opens a control socket at one path per user: several servers on a machine (tests, the
# benchmark) would take it from each other, and nothing here uses `gunicornc`.
control_socket_disable = True
logconfig_dict = logging_config(os.environ.get("LOG_FORMAT") or "json", os.environ.get("LOG_LEVEL") or "INFO")
install_record_factory()


def post_worker_init(worker):
    """The worker has loaded the application: move everything allocated so far (modules, the app, templates,
    translations, URL maps) out of the garbage collector's generations (`gc.freeze`), so that a full collection
    during a request scans only what requests allocated instead of the whole start-up heap. On the follow-up
    list (2,000 MoUs) this took p95 from ~230 ms to ~80 ms, the collections being most of the tail
    (docs/benchmarks.md, alliance follow-up)."""
    gc.freeze()
