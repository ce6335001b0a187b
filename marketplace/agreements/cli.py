"""`flask agreements list | remind | export-ca | export-pdf`."""
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from marketplace.agreements import services
from marketplace.agreements.models import Agreement
from marketplace.extensions import db

agreements_cli = AppGroup("agreements", help="Memoranda of understanding.")


@agreements_cli.command("list")
def list_command():
    """One line per MoU: reference, state code, seller, buyer, end date."""
    for agreement in db.session.scalars(sa.select(Agreement).order_by(Agreement.id)):
        click.echo(f"{agreement.reference}\t{agreement.state.value}\t{agreement.seller.legal_name}\t"
                   f"{agreement.buyer.legal_name}\t{agreement.end_date.isoformat()}")


@agreements_cli.command("remind")
def remind_command():
    """Expire MoUs past their end date and remind the parties MoUs wait for (daily; idempotent)."""
    expired, reminded = services.remind()
    click.echo(f"{len(expired)} MoU(s) expired, {len(reminded)} reminder(s) sent.")


@agreements_cli.command("export-ca")
def export_ca():
    """Print the platform's CA certificate (PEM), with which anyone verifies the MoU PDFs."""
    from marketplace.agreements import signing

    click.echo(signing.ca_certificate_pem().decode().rstrip())


@agreements_cli.command("export-pdf")
@click.argument("reference")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def export_pdf(reference, file):
    """Write the current PDF of the MoU REFERENCE to FILE."""
    agreement = db.session.scalar(sa.select(Agreement).filter_by(reference=reference))
    if agreement is None:
        raise click.ClickException(f"No MoU with the reference {reference}.")
    path = services.document_path(agreement)
    if path is None:
        raise click.ClickException(f"{reference} has no PDF yet: its terms are not agreed ({agreement.state.value}).")
    file.write_bytes(path.read_bytes())
    click.echo(f"Wrote {file} ({agreement.state.value}, SHA-256 {agreement.document_sha256}).")
