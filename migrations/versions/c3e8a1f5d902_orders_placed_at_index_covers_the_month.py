"""The orders' placed_at index covers the alliance's orders by month

On PostgreSQL the index on customer_order.placed_at also holds status, total_vnd and paid_vnd (INCLUDE), so the
dashboard's orders by month (every order placed in the last 12 months, counted and added up by month) is read
from the index alone instead of every order's row (issue 14, docs/benchmarks.md). SQLite has no INCLUDE: its
index stays as it is. Rebuilding it locks the orders against writes for the time of the build (well under a
second at 50,000 orders).

Revision ID: c3e8a1f5d902
Revises: b7d2f4c81e35
Create Date: 2026-11-29 05:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c3e8a1f5d902'
down_revision = 'b7d2f4c81e35'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index('ix_customer_order_placed_at', table_name='customer_order')
    op.create_index('ix_customer_order_placed_at', 'customer_order', ['placed_at'], unique=False,
                    postgresql_include=['status', 'total_vnd', 'paid_vnd'])


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index('ix_customer_order_placed_at', table_name='customer_order')
    op.create_index('ix_customer_order_placed_at', 'customer_order', ['placed_at'], unique=False)
