"""Read models of organisations for the alliance's dashboard (aggregates only; no rules: services.py decides)."""
import sqlalchemy as sa

from marketplace.accounts.models import Organisation, OrganisationKind, OrganisationStatus
from marketplace.extensions import db


def cooperatives_by_classification():
    """[(AllianceClassification or None, count)] of the verified cooperatives by the alliance's rating (None: not
    rated yet): one GROUP BY query."""
    statement = (sa.select(Organisation.classification, sa.func.count())
                 .where(Organisation.kind == OrganisationKind.COOPERATIVE,
                        Organisation.status == OrganisationStatus.VERIFIED)
                 .group_by(Organisation.classification))
    return [tuple(row) for row in db.session.execute(statement)]
