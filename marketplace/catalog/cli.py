"""`flask catalog ...`: the alliance's registry import, and the daily expiry of OCOP certificates."""
import click
from flask.cli import AppGroup

from marketplace.accounts.authz import is_alliance_staff
from marketplace.accounts.models import Organisation, OrganisationKind, User
from marketplace.catalog import importing, services
from marketplace.errors import DomainError
from marketplace.extensions import db

catalog_cli = AppGroup("catalog", help="Manage the product catalogue.")


def _alliance_user(email):
    if email:
        user = db.session.scalar(db.select(User).where(User.email == email.strip().lower()))
        if user is None or not is_alliance_staff(user):
            raise click.ClickException(f"{email} is not an active alliance staff account.")
        return user
    user = db.session.scalar(
        db.select(User).join(User.organisation)
        .where(Organisation.kind == OrganisationKind.ALLIANCE, User.is_active.is_(True)).order_by(User.id))
    if user is None:
        raise click.ClickException("No alliance staff account exists: create one with "
                                   "`flask accounts create-alliance-user EMAIL` or pass --as EMAIL.")
    return user


@catalog_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--publish", is_flag=True, help="Publish the valid products (of verified cooperatives).")
@click.option("--as", "email", default=None, help="Alliance staff email to act as (default: the first one).")
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows even when other rows have errors.")
def import_command(file, publish, email, skip_invalid):
    """Import a registry FILE (CSV UTF-8 or XLSX with a header row) as the alliance.

    Nothing is written when a row has an error, unless --skip-invalid is given.
    """
    actor = _alliance_user(email)
    try:
        report = importing.import_file(actor, file, publish=publish, skip_invalid=skip_invalid)
    except DomainError as error:
        details = getattr(error, "errors", {}).get("file")
        raise click.ClickException(str(details or error.message)) from error
    for line, column, message in report.errors:
        click.echo(f"line {line}, {column or 'row'}: {message}", err=True)
    if not report.written:
        raise click.ClickException(f"{len(report.invalid_rows)} of {len(report.rows)} rows have errors; "
                                   "nothing was imported.")
    click.echo(f"Imported {len(report.valid_rows)} rows as {actor.email}: {report.created} created, "
               f"{report.updated} updated, {report.published} published, "
               f"{report.cooperatives_created} new cooperatives.")
    if report.errors:
        click.echo(f"Skipped {len(report.invalid_rows)} rows with errors.")


@catalog_cli.command("expire-certificates")
def expire_certificates_command():
    """Mark OCOP certificates past their expiry date as expired (run daily; idempotent)."""
    expired = services.expire_certificates()
    for certificate in expired:
        product = certificate.product
        expired_on = certificate.expires_on.isoformat()
        click.echo(f"  {certificate.certificate_no} ({certificate.stars}★, expired {expired_on})"
                   f" — product {product.id} {product.name} of {product.cooperative.legal_name}")
    click.echo(f"{len(expired)} certificates expired.")
