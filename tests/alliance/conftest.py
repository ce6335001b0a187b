"""Fixtures of the follow-up tests: a signed MoU between a cooperative and an enterprise, alliance staff, and a
third party (a verified cooperative that is not on the MoU)."""
from types import SimpleNamespace

import pytest

from tests import factories


@pytest.fixture
def mou(app):
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
