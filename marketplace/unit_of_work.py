"""One way to run a use case: a unit of work that commits once, in the outermost service.

    @unit_of_work()
    def publish_product(actor, product_id): ...

    with unit_of_work():
        ...

A service called inside another service's unit of work joins it: only the outermost one commits,
and an exception anywhere inside rolls the whole use case back. Side effects are never run inside:
they are outbox rows (marketplace/jobs/outbox.py) and search change rows (marketplace/search/sync.py)
written in the same transaction, and processed only after the commit succeeded.
"""
from contextlib import contextmanager

from marketplace.extensions import db

DEPTH = "unit_of_work_depth"


def active():
    """True inside a unit of work (of the current scoped session)."""
    return db.session.info.get(DEPTH, 0) > 0


@contextmanager
def unit_of_work():
    """Run the block as one transaction: commit when the outermost block ends, roll back on any exception.

    Usable as a decorator (`@unit_of_work()`). Raises whatever the block raises, after the rollback.
    """
    session = db.session()
    depth = session.info.get(DEPTH, 0)
    session.info[DEPTH] = depth + 1
    try:
        yield session
        if depth == 0:
            session.commit()
    except BaseException:
        if depth == 0:
            session.rollback()
        raise
    finally:
        session.info[DEPTH] = depth
