"""`flask search rebuild | sync | follow | check | prune-changes`."""
import click
from flask import current_app
from flask.cli import AppGroup

from marketplace.search import index, sync

search_cli = AppGroup("search", help="Full-text search index.")


@search_cli.command("rebuild")
@click.option("--if-missing", is_flag=True, help="Only build when the directory holds no index.")
@click.option("--procs", default=1, show_default=True, help="Indexing processes.")
@click.option("--limitmb", default=1024, show_default=True, help="Memory (MB) per process before spilling to disk.")
def rebuild(if_missing, procs, limitmb):
    """Rebuild the index from the database (the site keeps searching the old one meanwhile)."""
    path = current_app.config["SEARCH_INDEX_DIR"]
    if if_missing and index.exists(path):
        click.echo(f"The search index in {path} exists; nothing to do.")
        return
    with click.progressbar(length=sync.count_public(), label="Indexing products") as bar:
        count = sync.rebuild(current_app, progress=bar.update, procs=procs, limitmb=limitmb)
    sync.catch_up(current_app)
    click.echo(f"Indexed {count} public products in {path}.")


@search_cli.command("sync")
def sync_command():
    """Bring this host's index up to date: build it if missing, else apply the changes it has not seen."""
    path = current_app.config["SEARCH_INDEX_DIR"]
    applied = sync.catch_up(current_app)
    click.echo(f"The search index in {path} is up to date ({applied} change(s) applied).")


@search_cli.command("follow")
def follow():
    """Apply the database's search changes to this host's index as they come (runs until stopped)."""
    sync.follow_until_terminated(current_app._get_current_object())


@search_cli.command("prune-changes")
def prune_changes():
    """Forget search changes older than SEARCH_CHANGE_RETENTION_DAYS (scheduled daily)."""
    click.echo(f"Pruned {sync.prune_changes()} search change(s).")


PROBLEMS = {
    "missing": "public in the database, not in the index",
    "extra": "in the index, not public in the database",
    "stale": "indexed with data that has changed since",
    "duplicates": "indexed more than once",
    "behind": "changed in the database, not applied to this index yet",
}


@search_cli.command("check")
def check():
    """Compare the index with the database; exit with status 1 when they differ."""
    path = current_app.config["SEARCH_INDEX_DIR"]
    try:
        report = sync.check(current_app)
    except index.IndexUnavailable:
        raise click.ClickException(f"There is no search index (of this version) in {path}: "
                                   "run `flask search sync`.") from None
    lag = sync.lag(current_app)
    if not report:
        click.echo(f"The search index in {path} matches the database (0 changes behind).")
        return
    click.echo(f"The search index in {path} is {lag} change(s) behind the database.")
    for problem, ids in report.items():
        shown = ", ".join(str(i) for i in ids[:20]) + (" …" if len(ids) > 20 else "")
        click.echo(f"{problem}: {len(ids)} product(s) {PROBLEMS[problem]}: {shown}")
    click.echo("`flask search sync` applies the changes; `flask search rebuild` rebuilds the index.")
    raise SystemExit(1)
