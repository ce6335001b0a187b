"""What the index knows about a product: a plain record, and the whoosh document made from it.

A *record* is a plain dict (see RECORD_FIELDS), so the index can be built without a database
(bench/search_bench.py builds 50,000 synthetic ones). load_records() makes them from the database
for public products only: published, by a cooperative the alliance has verified.
"""
import hashlib
from datetime import UTC, date, datetime

import sqlalchemy as sa

from marketplace import geo
from marketplace.search.analysis import folded_words, nfc
from marketplace.search.schema import PACKED

# record key → (type, meaning). Optional keys may be missing.
RECORD_FIELDS = {
    "id": (int, "product id"),
    "name": (str, "Vietnamese name"),
    "name_en": (str, "English name (optional)"),
    "description": (str, "description (optional)"),
    "category": (str, "Category code, e.g. 'fresh_produce'"),
    "cooperative_name": (str, "legal name of the cooperative"),
    "cooperative_type": (str, "CooperativeType code or None"),
    "province_code": (int, "province of origin or None"),
    "price_vnd": (int, "price from: the lowest unit price of any tier, in VND"),
    "certifications": (list, "Certification codes, e.g. ['vietgap']"),
    "certificates": (list, "(stars, expires_on date) of each *verified* OCOP certificate"),
    "published_at": (datetime, "publication time (aware or naive UTC) or None"),
}

# Words a buyer may type for a category, in Vietnamese and English. This is search data, not UI
# text: it is indexed, never shown, so it is not translated through the catalogues.
CATEGORY_WORDS = {
    "fresh_produce": "nông sản tươi rau củ quả trái cây fresh produce vegetables fruit",
    "processed_food": "thực phẩm chế biến đặc sản processed food",
    "beverages": "đồ uống chè trà rượu nước beverages drinks tea wine",
    "spices_herbs": "gia vị hồi quế spices herbs",
    "medicinal_herbs": "dược liệu thảo dược medicinal herbs",
    "aquatic": "thủy sản thuỷ sản cá tôm aquatic fish seafood",
    "handicrafts": "thủ công mỹ nghệ handicrafts crafts",
    "other": "",
}
COOPERATIVE_TYPE_WORDS = {
    "hop_tac_xa": "hợp tác xã HTX cooperative",
    "to_hop_tac": "tổ hợp tác THT cooperative group",
    "ho_kinh_doanh": "hộ sản xuất kinh doanh household",
}
CERTIFICATION_WORDS = {
    "vietgap": "VietGAP",
    "globalgap": "GlobalGAP",
    "organic": "hữu cơ organic",
    "geographical_indication": "chỉ dẫn địa lý geographical indication",
    "haccp": "HACCP",
    "iso_22000": "ISO 22000",
}


def _timestamp(moment):
    if moment is None:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _expiry(value):
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def document(record):
    """The whoosh document (a dict of field values) for a record."""
    name, name_en = nfc(record["name"]), nfc(record.get("name_en") or "")
    description = nfc(record.get("description") or "")
    cooperative = nfc(record.get("cooperative_name") or "")
    province = record.get("province_code")
    certifications = sorted(record.get("certifications") or [])
    cooperative_type = record.get("cooperative_type") or ""
    ocop = sorted({f"{int(stars)}-{_expiry(expires):%Y%m%d}" for stars, expires in record.get("certificates") or []})
    meta_parts = [
        CATEGORY_WORDS.get(record["category"], ""),
        cooperative,
        COOPERATIVE_TYPE_WORDS.get(cooperative_type, ""),
        geo.province_name(province) if province else "",
        *(CERTIFICATION_WORDS.get(code, "") for code in certifications),
    ]
    meta = " ".join(filter(None, meta_parts))
    name_words = folded_words(name)
    doc = {
        "id": str(record["id"]),
        "name": f"{name}\n{name_en}",
        "name_exact": f"{name}\n{name_en}",
        "name_first": name_words[0] if name_words else "",
        "meta": meta,
        "pairs": word_pairs(name, name_en, *meta_parts),
        "description": description,
        "category": record["category"],
        "province": str(province) if province else "",
        "certification": " ".join(certifications),
        "cooperative_type": cooperative_type,
        "ocop": " ".join(ocop),
        "packed": PACKED.pack(int(record["id"]), int(record["price_vnd"]), _timestamp(record.get("published_at")),
                              len(name_words)),
        "name_vi": name,
        "name_en": name_en,
        "cooperative": cooperative,
    }
    doc["fingerprint"] = fingerprint(doc)
    return doc


def word_pairs(*texts):
    """Adjacent folded words of each text, as "nong_san" terms. Vietnamese words are made of syllables
    written apart ("nông sản", farm produce), so a query's words side by side in a name mean far more
    than the same syllables scattered: query.py ranks those first."""
    pairs = set()
    for text in texts:
        words = folded_words(text)
        pairs.update(f"{first}_{second}" for first, second in zip(words, words[1:]))
    return " ".join(sorted(pairs))


def fingerprint(doc):
    """A short digest of what was indexed: `flask search check` compares it with the database's."""
    digest = hashlib.sha256()
    for key in sorted(doc):
        if key != "fingerprint":
            value = doc[key]
            digest.update(key.encode() + b"\0" + (value if isinstance(value, bytes) else str(value).encode()) + b"\1")
    return digest.hexdigest()[:20]


# ---------------------------------------------------------------- from the database

def _public(statement):
    from marketplace.accounts.models import Organisation, OrganisationStatus
    from marketplace.catalog.models import Product, ProductStatus

    return (statement.join(Organisation, Product.cooperative_id == Organisation.id)
            .where(Product.status == ProductStatus.PUBLISHED, Organisation.status == OrganisationStatus.VERIFIED))


def public_ids(session, product_ids=None, cooperative_ids=None):
    """Ids of public products, optionally among product_ids or products of cooperative_ids."""
    from marketplace.catalog.models import Product

    statement = _public(sa.select(Product.id))
    if product_ids is not None:
        statement = statement.where(Product.id.in_(list(product_ids)))
    if cooperative_ids is not None:
        statement = statement.where(Product.cooperative_id.in_(list(cooperative_ids)))
    return set(session.scalars(statement))


def product_ids_of_cooperatives(session, cooperative_ids):
    from marketplace.catalog.models import Product

    if not cooperative_ids:
        return set()
    return set(session.scalars(sa.select(Product.id).where(Product.cooperative_id.in_(list(cooperative_ids)))))


def load_records(session, product_ids=None, batch_size=1000):
    """Yield the records of public products, by id; all of them when product_ids is None.

    Plain Core queries, a batch at a time (no ORM objects): a rebuild of 50,000 products must be fast.
    """
    if product_ids is not None:
        ids = sorted(set(product_ids))
        for start in range(0, len(ids), batch_size):
            yield from _batch(session, ids[start:start + batch_size], None, batch_size)
        return
    last = 0
    while True:
        batch = list(_batch(session, None, last, batch_size))
        if not batch:
            return
        yield from batch
        last = batch[-1]["id"]


def _batch(session, ids, after, limit):
    from marketplace.accounts.models import Organisation
    from marketplace.catalog.models import (
        CertificateStatus,
        OcopCertificate,
        PriceTier,
        Product,
        ProductCertification,
    )

    statement = _public(sa.select(
        Product.id, Product.name, Product.name_en, Product.description, Product.category, Product.province_code,
        Product.base_price_vnd, Product.published_at, Organisation.legal_name, Organisation.cooperative_type,
    ))
    if ids is not None:
        statement = statement.where(Product.id.in_(ids))
    else:
        statement = statement.where(Product.id > after).order_by(Product.id).limit(limit)
    rows = session.execute(statement).all()
    if not rows:
        return
    found = [row.id for row in rows]
    lowest = dict(session.execute(sa.select(PriceTier.product_id, sa.func.min(PriceTier.unit_price_vnd))
                                  .where(PriceTier.product_id.in_(found)).group_by(PriceTier.product_id)).all())
    certifications, certificates = {}, {}
    for product_id, code in session.execute(sa.select(ProductCertification.product_id, ProductCertification.code)
                                            .where(ProductCertification.product_id.in_(found))):
        certifications.setdefault(product_id, []).append(_code(code))
    for product_id, stars, expires_on in session.execute(
            sa.select(OcopCertificate.product_id, OcopCertificate.stars, OcopCertificate.expires_on)
            .where(OcopCertificate.product_id.in_(found), OcopCertificate.status == CertificateStatus.VERIFIED)):
        certificates.setdefault(product_id, []).append((stars, expires_on))
    for row in rows:
        yield {
            "id": row.id,
            "name": row.name,
            "name_en": row.name_en or "",
            "description": row.description or "",
            "category": _code(row.category),
            "cooperative_name": row.legal_name,
            "cooperative_type": _code(row.cooperative_type) if row.cooperative_type else None,
            "province_code": row.province_code,
            "price_vnd": min(row.base_price_vnd, lowest.get(row.id, row.base_price_vnd)),
            "certifications": sorted(certifications.get(row.id, [])),
            "certificates": certificates.get(row.id, []),
            "published_at": row.published_at,
        }


def _code(value):
    return getattr(value, "value", value)
