"""Each role's home (/home), where a user lands after logging in: the work waiting for its organisation.

This module only chooses which home a user gets and gathers it; every figure is read through the owning
domain's services (inquiries, agreements, orders, catalog, alliance tracking, accounts), which check who may
see what and read only the user's own organisation's rows. Each list is capped (LIMIT) and loaded in a fixed
number of queries, whatever the number of rows.
"""
import enum
from dataclasses import dataclass

from marketplace.accounts import services as accounts
from marketplace.agreements import services as agreements
from marketplace.alliance import tracking
from marketplace.catalog import services as catalog
from marketplace.inquiries import services as inquiries
from marketplace.orders import services as orders

LIMIT = 5  # items listed per kind of work; the link under each list opens the page with all of them


class HomeKind(enum.StrEnum):
    COOPERATIVE = "cooperative"  # a verified cooperative: answer, sign, confirm, ship, keep products publishable
    BUYER = "buyer"  # a verified enterprise: its MoUs, orders, payments due
    ALLIANCE = "alliance"  # alliance staff: the queues and the follow-up
    WAITING = "waiting"  # an organisation not verified (pending, rejected, suspended): what it waits for


@dataclass
class Home:
    kind: HomeKind
    parts: dict  # what the kind's template lists (see home_for)


def kind_of(user):
    organisation = user.organisation
    if organisation.is_alliance:
        return HomeKind.ALLIANCE
    if not organisation.is_verified:
        return HomeKind.WAITING
    return HomeKind.COOPERATIVE if organisation.is_cooperative else HomeKind.BUYER


def home_for(user, on=None):
    """The home of a logged-in user's organisation (a Home); the view requires a login."""
    kind = kind_of(user)
    return Home(kind, _GATHER[kind](user, on))


def _cooperative(user, on):
    waiting, threads = inquiries.awaiting_answer(user, LIMIT)
    return {"inquiries": (waiting, threads), "agreements": agreements.for_home(user, on, LIMIT),
            "orders": orders.for_home(user, LIMIT), "catalog": catalog.for_home(user, on, LIMIT)}


def _buyer(user, on):
    waiting, threads = inquiries.awaiting_answer(user, LIMIT)
    return {"inquiries": (waiting, threads), "agreements": agreements.for_home(user, on, LIMIT),
            "orders": orders.for_home(user, LIMIT), "cart": orders.cart_size(user)}


def _alliance(user, on):
    return {"organisations": accounts.count_pending(user),
            "certificates": catalog.count_certificates_to_review(user),
            "agreements": agreements.for_home(user, on, LIMIT),  # MoUs awaiting its signature as witness
            "follow_up": tracking.summary(user, LIMIT, on)}


def _waiting(user, on):
    organisation = user.organisation
    parts = {"organisation": organisation, "drafts": None}
    if organisation.is_cooperative:
        parts["drafts"] = catalog.own_products(user, per_page=1).total  # products it has prepared meanwhile
    return parts


_GATHER = {HomeKind.COOPERATIVE: _cooperative, HomeKind.BUYER: _buyer, HomeKind.ALLIANCE: _alliance,
           HomeKind.WAITING: _waiting}
