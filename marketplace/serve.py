"""`make serve`: prepare, then run and watch the processes of one application host.

    python -m marketplace.serve [--procfile Procfile]

The Procfile (`name: command` per line, `#` comments) says what runs:

- `release` runs first, to the end (`flask db upgrade && flask search sync`); if it fails, nothing starts;
- then every other entry starts at once (`web`, `follower`), except `worker` and `scheduler`, which
  start only when REDIS_URL is set (side effects and scheduled work go to RQ only then).

Each command runs through /bin/sh in its own process group, with the launcher's environment plus
FLASK_APP=wsgi, MARKETPLACE_PROCESS=<name> (a field of every JSON log line) and this Python's
bin/ first on PATH, so `flask` and `gunicorn` are the virtualenv's. Their output goes straight to
the launcher's stdout/stderr: one log line per record, nothing prefixed or interleaved.

SIGTERM or SIGINT (Ctrl-C) stops everything gracefully: each child gets SIGTERM (gunicorn finishes
the requests under way, the follower and the worker their current item), and after STOP_TIMEOUT
seconds whatever still runs is killed. The launcher then exits 0. When a child exits by itself,
the others are stopped the same way and the launcher exits with that child's status (1 if it was 0:
a server that stops on its own is a failure for whoever supervises the launcher).

systemd runs the same commands as separate units instead (docs/deploy.md); this is for one-command
hosts: `make serve`, a container.
"""
import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from marketplace.logging_setup import configure

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RELEASE = "release"
ONLY_WITH_REDIS = {"worker", "scheduler"}
STOP_TIMEOUT = 35.0  # gunicorn's graceful_timeout (30 s) and a little more
POLL_SECONDS = 0.2

log = logging.getLogger("marketplace.serve")


class ProcfileError(ValueError):
    pass


def read_procfile(path):
    """{name: command} in file order."""
    entries = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, command = line.partition(":")
        name, command = name.strip(), command.strip()
        if not colon or not name.replace("_", "").replace("-", "").isalnum() or not command:
            raise ProcfileError(f"{path}:{number}: expected `name: command`")
        if name in entries:
            raise ProcfileError(f"{path}:{number}: {name} is listed twice")
        entries[name] = command
    return entries


def plan(entries, environ):
    """(release command or None, {name: command} of the processes to start) for this environment."""
    processes = {name: command for name, command in entries.items()
                 if name != RELEASE and (name not in ONLY_WITH_REDIS or environ.get("REDIS_URL"))}
    if not processes:
        raise ProcfileError("the Procfile names no process to run")
    return entries.get(RELEASE), processes


def child_environment(environ, name):
    env = dict(environ)
    env.setdefault("FLASK_APP", "wsgi")
    env["MARKETPLACE_PROCESS"] = name
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", os.defpath)
    return env


class Launcher:
    def __init__(self, processes, environ, cwd):
        self.commands = processes
        self.environ = environ
        self.cwd = cwd
        self.children = {}  # name → Popen
        self.stop_requested = None  # the signal that asked us to stop

    def start(self, name, command):
        # `exec`: the shell becomes the command, so the process we watch is the server itself.
        process = subprocess.Popen(["/bin/sh", "-c", f"exec {command}"], cwd=self.cwd,
                                   env=child_environment(self.environ, name), start_new_session=True)
        self.children[name] = process
        log.info("started %s (pid %s): %s", name, process.pid, command)

    def on_signal(self, signum, _frame):
        if self.stop_requested is None:
            self.stop_requested = signum
            log.info("received %s: stopping %s", signal.Signals(signum).name, ", ".join(self.children))
            self.terminate()

    def terminate(self):
        for process in self.children.values():
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)

    def run(self):
        """Start every process, watch them, stop them all; returns the exit status."""
        previous = {sig: signal.signal(sig, self.on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for name, command in self.commands.items():
                if self.stop_requested is not None:
                    break
                self.start(name, command)
            status = self.watch()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return status

    def watch(self):
        first_exit = None
        while first_exit is None and self.stop_requested is None:
            for name, process in self.children.items():
                if process.poll() is not None:
                    first_exit = (name, process.returncode)
                    break
            else:
                time.sleep(POLL_SECONDS)
        if first_exit is not None and self.stop_requested is None:
            name, code = first_exit
            log.error("%s exited with status %s; stopping the others", name, code)
            self.terminate()
        self.wait_all()
        if first_exit is not None and self.stop_requested is None:
            return first_exit[1] or 1
        return 0

    def wait_all(self):
        deadline = time.monotonic() + STOP_TIMEOUT
        for name, process in self.children.items():
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("%s did not stop within %.0f s; killing it", name, STOP_TIMEOUT)
                _signal_group(process, signal.SIGKILL)
                process.wait()
            # The group may still hold children of the child (gunicorn workers are killed with
            # their master; this is for anything that outlived it).
            _signal_group(process, signal.SIGKILL)


def _signal_group(process, sig):
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def release(command, environ, cwd):
    log.info("release: %s", command)
    return subprocess.run(["/bin/sh", "-c", command], cwd=cwd,
                          env=child_environment(environ, RELEASE)).returncode


def main(argv=None, environ=None):
    parser = argparse.ArgumentParser(description="Run the processes of one application host (make serve).")
    parser.add_argument("--procfile", default=str(PROJECT_ROOT / "Procfile"),
                        help="the processes to run (default: the repository's Procfile)")
    args = parser.parse_args(argv)
    environ = dict(os.environ if environ is None else environ)
    configure(environ.get("LOG_FORMAT") or "json", environ.get("LOG_LEVEL") or "INFO")
    try:
        release_command, processes = plan(read_procfile(args.procfile), environ)
    except (OSError, ProcfileError) as error:
        log.error("%s", error)
        return 2
    if release_command:
        try:
            code = release(release_command, environ, PROJECT_ROOT)
        except KeyboardInterrupt:  # Ctrl-C reached the release command too: it stopped
            return 130
        if code != 0:
            log.error("release failed with status %s; nothing started", code)
            return code
    return Launcher(processes, environ, PROJECT_ROOT).run()


if __name__ == "__main__":
    sys.exit(main())
