"""The search change log: which products' documents a commit changed, written in that commit."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.extensions import db
from marketplace.sqltypes import UTCDateTime, utcnow

# SQLite gives rowids only to INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class SearchChange(db.Model):
    """One product (or every product of one cooperative) whose search document must be rebuilt.

    A change's position is (txid, id). On PostgreSQL txid is the writing transaction's id: an index's
    position moves only up to the oldest transaction still running (pg_snapshot_xmin), so a change
    committed late with a smaller id is never skipped, and the committed changes beyond it are applied
    at once and remembered until it passes them (sync.py). On SQLite, where one writer at a time
    commits, txid is 0 and ids follow the commit order.
    """

    __tablename__ = "search_change"
    __table_args__ = (sa.Index("ix_search_change_txid_id", "txid", "id"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    txid: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    product_id: Mapped[int | None] = mapped_column()  # no foreign key: a deleted product's change stays
    cooperative_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
