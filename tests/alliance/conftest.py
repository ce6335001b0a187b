"""Fixtures of the alliance tests: a cooperative and an enterprise with a signed MoU between them and a third
party, for the tracking (`mou`: products, prices, a term) and for the follow-up (`party_mou`: the people around
one MoU, alliance staff and a stranger included)."""
from datetime import timedelta
from types import SimpleNamespace

import pytest

from marketplace.alliance import tracking
from marketplace.catalog.models import Unit
from marketplace.extensions import db
from marketplace.orders.models import PaymentMode
from marketplace.payments.models import PaymentSettings
from tests import factories


@pytest.fixture
def seller(app):
    user = factories.user(factories.organisation("cooperative", legal_name="HTX Thạch đen Tràng Định"),
                          email="thach@htx.example")
    db.session.add(PaymentSettings(organisation_id=user.organisation_id, mode=PaymentMode.FULL, bank_bin="970436",
                                   account_number="0011001932418", account_name="HTX THACH DEN"))
    db.session.commit()
    return user


@pytest.fixture
def buyer(app):
    return factories.user(factories.organisation("enterprise", legal_name="Công ty Thực phẩm Sạch"),
                          email="mua@dn.example")


@pytest.fixture
def stranger(app):
    return factories.user(factories.organisation("enterprise", legal_name="Công ty Khác"), email="khac@dn.example")


@pytest.fixture
def products(seller):
    def make(name, price):
        return factories.product(seller.organisation, name=name, unit=Unit.KG, min_order_qty=1,
                                 base_price_vnd=price, tiers=[], capacity_qty=None, capacity_period=None,
                                 lead_time_days=1)
    return make("Thạch đen khô", 100_000), make("Măng khô", 260_000), make("Mật ong", 300_000)


@pytest.fixture
def mou(buyer, seller, products):
    """Signed 30 days ago for 365 days: 1,000 kg of black jelly at 90,000 ₫ and 1,000 kg of bamboo shoots at
    250,000 ₫ in total (factories.signed_mou)."""
    return factories.signed_mou(buyer.organisation, seller.organisation,
                                {products[0]: 90_000, products[1]: 250_000},
                                start=tracking.today() - timedelta(days=30), end=tracking.today() + timedelta(days=334))



@pytest.fixture
def party_mou(app):
    seller = factories.organisation("cooperative")
    buyer = factories.organisation("enterprise")
    stranger = factories.organisation("cooperative")
    people = SimpleNamespace(
        seller=factories.user(seller, email="chu@htx.example", full_name="Hoàng Văn Chủ"),
        seller_member=factories.user(seller, email="thanhvien@htx.example", role="member"),
        buyer=factories.user(buyer, email="mua@dn.example", full_name="Trần Thị Mua"),
        alliance=factories.alliance_user(),
        stranger=factories.user(stranger, email="la@htx-khac.example"),
    )
    product = factories.product(seller)
    agreement = factories.signed_mou(buyer, seller, {product: 95000})
    return SimpleNamespace(agreement=agreement, **vars(people))
