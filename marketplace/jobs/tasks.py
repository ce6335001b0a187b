"""What RQ workers run. Each task pushes an app context; the app is the worker's own (use_app)."""
from importlib import import_module

_app = None


def use_app(app):
    """The app whose context tasks run in (set by `flask jobs worker`)."""
    global _app
    _app = app


def _current_app():
    global _app
    if _app is None:  # a worker started without `flask jobs worker` (e.g. `rq worker`)
        from marketplace import create_app

        _app = create_app()
    return _app


def deliver(message_id):
    """Deliver one outbox message (idempotent: a delivered or running message is skipped)."""
    from marketplace.jobs import outbox

    with _current_app().app_context():
        return outbox.deliver(message_id)


def run_scheduled(name):
    """Run the scheduled job `name` of schedule.SCHEDULE."""
    with _current_app().app_context():
        return call_scheduled(name)


def call_scheduled(name):
    """Call a scheduled job's function in the current app context; returns what it returns."""
    from marketplace.jobs.schedule import find

    module, function = find(name).function.split(":")
    return getattr(import_module(module), function)()
