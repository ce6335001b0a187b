"""`flask search rebuild` and `flask search check`."""
import click
from flask import current_app
from flask.cli import AppGroup

from marketplace.search import index, sync

search_cli = AppGroup("search", help="Full-text search index.")


@search_cli.command("rebuild")
@click.option("--if-missing", is_flag=True, help="Only build when the directory holds no index (make run).")
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
    click.echo(f"Indexed {count} public products in {path}.")


PROBLEMS = {
    "missing": "public in the database, not in the index",
    "extra": "in the index, not public in the database",
    "stale": "indexed with data that has changed since",
    "duplicates": "indexed more than once",
    "pending": "changes waiting in the journal",
}


@search_cli.command("check")
def check():
    """Compare the index with the database; exit with status 1 when they differ."""
    path = current_app.config["SEARCH_INDEX_DIR"]
    try:
        report = sync.check(current_app)
    except index.IndexUnavailable:
        raise click.ClickException(f"There is no search index (of this version) in {path}: "
                                   "run `flask search rebuild`.") from None
    if not report:
        click.echo(f"The search index in {path} matches the database.")
        return
    for problem, ids in report.items():
        shown = ", ".join(str(i) for i in ids[:20]) + (" …" if len(ids) > 20 else "")
        click.echo(f"{problem}: {len(ids)} product(s) {PROBLEMS[problem]}: {shown}")
    click.echo("Run `flask search rebuild` to repair the index.")
    raise SystemExit(1)
