"""Column types shared by every domain area."""
from datetime import UTC, datetime

from sqlalchemy.types import DateTime, TypeDecorator


def utcnow():
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every database.

    PostgreSQL keeps the zone (timestamptz); SQLite drops it, so values read back are tagged UTC
    again here. Naive datetimes are refused: they are the classic source of off-by-7-hours bugs.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
