"""`flask api prune-idempotency-keys`."""
import click
from flask.cli import AppGroup

api_cli = AppGroup("api", help="Housekeeping of the JSON API.")


@api_cli.command("prune-idempotency-keys")
def prune_idempotency_keys():
    """Forget the stored answers to Idempotency-Keys older than 24 hours (scheduled hourly)."""
    from marketplace.api import idempotency

    click.echo(f"Pruned {idempotency.prune()} stored answer(s).")
