"""The catalogue's version: one row the page cache reads instead of counting the search change log

Every transaction that writes search changes adds one to it just before it commits (search/sync.py). No row
reads as 0; the first change inserts it.

Revision ID: a1c4e7f09b21
Revises: d4731539a464
Create Date: 2026-11-29 01:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1c4e7f09b21'
down_revision = 'd4731539a464'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('catalogue_version',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_version'))
    )


def downgrade():
    op.drop_table('catalogue_version')
