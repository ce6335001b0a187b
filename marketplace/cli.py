"""Operator commands: `flask accounts ...`, `flask seed-demo`."""
import getpass
import secrets

import click
from flask.cli import AppGroup

from marketplace.accounts import services
from marketplace.agreements.cli import agreements_cli
from marketplace.alliance.cli import alliance_cli
from marketplace.api.cli import api_cli
from marketplace.catalog.cli import catalog_cli
from marketplace.errors import DomainError
from marketplace.jobs.cli import jobs_cli
from marketplace.search.cli import search_cli

accounts_cli = AppGroup("accounts", help="Manage accounts.")


@accounts_cli.command("create-alliance-user")
@click.argument("email")
@click.option("--name", "full_name", default="Cán bộ Liên minh HTX", help="Full name of the staff member.")
@click.option("--password", envvar="ALLIANCE_PASSWORD", default=None,
              help="Password (or ALLIANCE_PASSWORD); asked for when omitted, generated with --generate.")
@click.option("--generate", is_flag=True, help="Generate a strong password and print it once.")
def create_alliance_user(email, full_name, password, generate):
    """Create a staff account of the provincial cooperative alliance."""
    if generate:
        password = secrets.token_urlsafe(18)
    elif not password:
        password = getpass.getpass("Password (12+ characters): ")
    try:
        user = services.create_alliance_user(email, full_name, password)
    except DomainError as error:
        details = "; ".join(f"{k}: {v}" for k, v in getattr(error, "errors", {}).items())
        raise click.ClickException(f"{error.message} {details}".strip()) from error
    click.echo(f"Created alliance user {user.email} in {user.organisation.legal_name}.")
    if generate:
        click.echo(f"Password: {password}")


@accounts_cli.command("create-token")
@click.argument("email")
@click.option("--name", default="CLI", help="What the token is for.")
def create_token(email, name):
    """Print a new personal API token for the user with EMAIL (shown once)."""
    try:
        _token, secret = services.create_api_token(services.user_by_email(email), name)
    except DomainError as error:
        raise click.ClickException(str(error.message)) from error
    click.echo(secret)


@accounts_cli.command("prune")
def prune():
    """Forget expired registration requests (daily, see `flask jobs schedule`)."""
    click.echo(f"Deleted {services.prune()} expired registration requests.")


@click.command("seed-demo")
def seed_demo():
    """Load the demo organisations and users (idempotent) and print the demo logins."""
    from marketplace import demo

    demo.seed()
    click.echo(f"Demo data is loaded. Demo logins (password for all: {demo.DEMO_PASSWORD}):")
    for email, description in demo.logins():
        click.echo(f"  {email:<34} {description}")


def register_commands(app):
    app.cli.add_command(accounts_cli)
    app.cli.add_command(seed_demo)
    app.cli.add_command(catalog_cli)
    app.cli.add_command(search_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(agreements_cli)
    app.cli.add_command(api_cli)
    app.cli.add_command(alliance_cli)
