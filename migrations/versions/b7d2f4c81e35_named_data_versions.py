"""Named data versions: the catalogue's version becomes one row of data_version, beside the follow-up's

`data_version` holds one row per kind of data that workers keep derived copies of (marketplace/versions.py):
"catalogue" (what catalogue_version held, copied) and "follow_up" (MoUs, milestones and the totals under MoUs).
A name without a row reads as 0; its first change inserts it.

Revision ID: b7d2f4c81e35
Revises: a1c4e7f09b21
Create Date: 2026-11-29 02:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d2f4c81e35'
down_revision = 'a1c4e7f09b21'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('data_version',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_data_version'))
    )
    op.execute("INSERT INTO data_version (name, value) SELECT 'catalogue', value FROM catalogue_version WHERE id = 1")
    op.drop_table('catalogue_version')


def downgrade():
    op.create_table('catalogue_version',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_version'))
    )
    op.execute("INSERT INTO catalogue_version (id, value) SELECT 1, value FROM data_version WHERE name = 'catalogue'")
    op.drop_table('data_version')
