"""An index of each product's verified OCOP ratings, for the alliance's OCOP products by stars

`ix_ocop_certificate_best` (product_id, stars) over the verified certificates only (a partial index; on
PostgreSQL it also holds expires_on): the dashboard's OCOP products by stars takes each product's best rating
from it instead of grouping every certificate in a hash (issue 14, docs/benchmarks.md).

Revision ID: d9b2c6e4a117
Revises: c3e8a1f5d902
Create Date: 2026-11-29 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd9b2c6e4a117'
down_revision = 'c3e8a1f5d902'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_ocop_certificate_best', 'ocop_certificate', ['product_id', 'stars'], unique=False,
                    postgresql_include=['expires_on'], postgresql_where=sa.text("status = 'verified'"),
                    sqlite_where=sa.text("status = 'verified'"))


def downgrade():
    op.drop_index('ix_ocop_certificate_best', table_name='ocop_certificate')
