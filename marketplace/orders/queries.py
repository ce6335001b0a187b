"""Read models of the order pages: filter choices, the orders of one checkout, what the cart and checkout
pages show beside the lines. Only the user's own organisation's orders are ever read here."""
import sqlalchemy as sa

from marketplace.accounts.models import Organisation
from marketplace.agreements import queries as agreement_queries
from marketplace.agreements.models import Agreement
from marketplace.catalog.models import UNIT_NAMES_VI, Unit
from marketplace.extensions import db
from marketplace.orders.models import Order


def _own_orders(organisation_id):
    return sa.or_(Order.buyer_id == organisation_id, Order.cooperative_id == organisation_id)


def counterparty_choices(organisation_id):
    """[(id, legal name)] of the organisations on the other side of this organisation's orders."""
    sellers = sa.select(Order.cooperative_id).where(Order.buyer_id == organisation_id)
    buyers = sa.select(Order.buyer_id).where(Order.cooperative_id == organisation_id)
    rows = db.session.execute(
        sa.select(Organisation.id, Organisation.legal_name)
        .where(sa.or_(Organisation.id.in_(sellers), Organisation.id.in_(buyers)))
        .order_by(Organisation.legal_name, Organisation.id)).all()
    return [(row.id, row.legal_name) for row in rows]


def agreement_choices(organisation_id):
    """[(id, reference)] of the MoUs this organisation's orders were placed under."""
    used = sa.select(Order.agreement_id).where(_own_orders(organisation_id), Order.agreement_id.is_not(None))
    rows = db.session.execute(sa.select(Agreement.id, Agreement.reference).where(Agreement.id.in_(used))
                              .order_by(Agreement.reference)).all()
    return [(row.id, row.reference) for row in rows]


def checkout_orders(organisation_id, checkout_id):
    """The orders one checkout of this (buying) organisation created, by reference."""
    if not isinstance(checkout_id, str) or not checkout_id:
        return []
    return db.session.scalars(sa.select(Order).where(Order.buyer_id == organisation_id,
                                                     Order.checkout_id == checkout_id)
                              .order_by(Order.reference)).all()


def mous_in_cart(groups, on):
    """[(agreement, cooperative, number of the cart's products it prices)] of the MoUs in force with the
    cooperatives of the cart (`services.cart_of`), to choose one at checkout."""
    choices = []
    for group in groups:
        product_ids = {item.product_id for item in group.items}
        for agreement in group.agreements:
            priced = agreement_queries.agreed_unit_prices(agreement).keys() & product_ids
            choices.append((agreement, group.cooperative, len(priced)))
    return choices


def unit_name(code):
    """The Vietnamese unit of an order line ("tấn" for "tan"); the code itself if unknown."""
    try:
        return UNIT_NAMES_VI[Unit(code)]
    except ValueError:
        return code
