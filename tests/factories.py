"""Test data builders. They write straight to the database: fast, and independent of the pages."""
import io
import itertools

from stdnum.vn import mst

from marketplace.accounts import passwords
from marketplace.accounts.models import (
    CooperativeType,
    MemberRole,
    Organisation,
    OrganisationKind,
    OrganisationStatus,
    Sector,
    User,
)
from marketplace.extensions import db

PASSWORD = "mật khẩu rất dài của hợp tác xã"
_serial = itertools.count(1)
_hashes = {}


def valid_tax_code(serial=None):
    """A checksum-valid 10-digit tax code, distinct per call."""
    number = 100000000 + (serial if serial is not None else next(_serial)) * 13
    while True:
        digits = f"{number:09d}"
        check = mst.calc_check_digit(digits)
        if len(check) == 1:
            return digits + check
        number += 1


def organisation(kind="cooperative", status="verified", **fields):
    kind = OrganisationKind(kind)
    values = {
        "kind": kind,
        "legal_name": f"{'HTX' if kind == OrganisationKind.COOPERATIVE else 'Công ty'} Thử nghiệm {next(_serial)}",
        "tax_code": valid_tax_code(),
        "province_code": 20,
        "commune_code": 6040,
        "phone": "0205381234",
        "email": f"org{next(_serial)}@example.vn",
        "representative": "Nguyễn Văn A",
        "sector": Sector.AGRICULTURE,
        "status": OrganisationStatus(status),
    }
    if kind == OrganisationKind.COOPERATIVE:
        values.update(cooperative_type=CooperativeType.HOP_TAC_XA, member_count=10, founded_year=2018)
    values.update(fields)
    org = Organisation(**values)
    db.session.add(org)
    db.session.commit()
    return org


def user(org, email=None, role="owner", password=PASSWORD, full_name="Người Dùng Thử", **fields):
    if password not in _hashes:
        _hashes[password] = passwords.hash_password(password)
    person = User(
        email=email or f"user{next(_serial)}@example.vn",
        full_name=full_name,
        password_hash=_hashes[password],
        organisation=org,
        role=MemberRole(role),
        **fields,
    )
    db.session.add(person)
    db.session.commit()
    return person


def alliance_user(email="staff@lienminh.example"):
    org = db.session.scalar(db.select(Organisation).filter_by(kind=OrganisationKind.ALLIANCE))
    if org is None:
        org = Organisation(kind=OrganisationKind.ALLIANCE, legal_name="Liên minh HTX tỉnh Lạng Sơn",
                           status=OrganisationStatus.VERIFIED)
        db.session.add(org)
        db.session.commit()
    return user(org, email=email)


def registration_form(kind="cooperative", **overrides):
    """Form data for /register/<kind> that passes every rule."""
    data = {
        "legal_name": "HTX Nông sản sạch Thử nghiệm",
        "tax_code": valid_tax_code(),
        "sector": "agriculture",
        "province_code": "20",
        "commune_code": "6040",
        "street_address": "Thôn Bản Chu",
        "phone": "0205 381 2345",
        "email": "lienhe@htx-thu.example",
        "representative": "Hoàng Văn Minh",
        "full_name": "Hoàng Văn Minh",
        "owner_email": f"minh{next(_serial)}@htx-thu.example",
        "password": PASSWORD,
    }
    if kind == "cooperative":
        data.update(cooperative_type="hop_tac_xa", member_count="12", founded_year="2017")
    data.update(overrides)
    return data


def product(cooperative, status="published", tiers=(), stars=None, certificate_status="verified",
            expires_on=None, **fields):
    """A product of `cooperative`, straight into the database (no validation: tests of the rules use
    the services). `stars` adds an OCOP certificate with `certificate_status`."""
    from datetime import date, timedelta

    from marketplace.catalog.models import (
        Category, CertificateStatus, OcopCertificate, PriceTier, Product, ProductStatus, Unit,
    )
    from marketplace.sqltypes import utcnow

    serial = next(_serial)
    values = {
        "cooperative": cooperative,
        "name": f"Sản phẩm thử {serial}",
        "slug": f"san-pham-thu-{serial}",
        "description": "Mô tả sản phẩm thử nghiệm.",
        "category": Category.FRESH_PRODUCE,
        "unit": Unit.KG,
        "province_code": 20,
        "commune_code": 6040,
        "base_price_vnd": 100000,
        "min_order_qty": 10,
        "order_increment": 1,
        "status": ProductStatus(status),
        "published_at": utcnow() if status == "published" else None,
    }
    values.update(fields)
    item = Product(**values)
    item.tiers = [PriceTier(min_qty=q, unit_price_vnd=p) for q, p in tiers]
    if stars:
        item.certificates.append(OcopCertificate(
            stars=stars, certificate_no=f"TEST-{serial}", decision_date=date.today() - timedelta(days=30),
            expires_on=expires_on or date.today() + timedelta(days=365), status=CertificateStatus(certificate_status),
        ))
    db.session.add(item)
    db.session.commit()
    return item


def jpeg(size=(64, 48), colour=(200, 120, 40), exif=None):
    """The bytes of a small JPEG photo."""
    from PIL import Image

    buffer = io.BytesIO()
    options = {"exif": exif} if exif is not None else {}
    Image.new("RGB", size, colour).save(buffer, "JPEG", quality=85, **options)
    return buffer.getvalue()


def png(size=(40, 30)):
    """The bytes of a small PNG image."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 130, 60)).save(buffer, "PNG")
    return buffer.getvalue()


def party(legal_name, tax_code, **fields):
    """One party of an agreement's content snapshot (marketplace.agreements.pdf.Party)."""
    values = {"legal_name": legal_name, "tax_code": tax_code, "address": "Thôn Bản Chu, xã Tràng Định, tỉnh Lạng Sơn",
              "representative": "Hoàng Văn Minh", "phone": "0205 381 2345", "email": "lienhe@htx.example"}
    values.update(fields)
    return values


def agreement_line(number=1, **fields):
    """One product line of an agreement's content snapshot (marketplace.agreements.pdf.Line)."""
    values = {"product_id": 100 + number, "name": f"Mật ong rừng Bắc Sơn loại {number}", "unit_label": "kg",
              "quantity": 1200, "period": "month", "price_basis": "fixed", "unit_price_vnd": 1500000,
              "reference_price_vnd": None, "adjustment_percent": None}
    values.update(fields)
    return values


def agreement_content(lines=None, **fields):
    """A complete content snapshot (marketplace.agreements.pdf.AgreementContent) of a memorandum between
    a cooperative, an enterprise and the alliance as witness; `lines` defaults to one line per price basis."""
    if lines is None:
        lines = [
            agreement_line(1),
            agreement_line(2, name="Thạch đen Tràng Định", unit_label="tấn", quantity=3, period="season",
                           price_basis="tier", unit_price_vnd=42000000),
            agreement_line(3, name="Hồi khô loại 1", unit_label="hộp", quantity=250, period="week",
                           price_basis="reference", unit_price_vnd=None, reference_price_vnd=250000,
                           adjustment_percent=5),
        ]
    values = {
        "reference": "MOU-2026-000123", "kind": "mou", "parent_reference": None,
        "event": {"name": "Hội nghị kết nối cung cầu nông sản Lạng Sơn 2026", "date": "2026-12-05",
                  "place": "Nhà văn hóa tỉnh, TP Lạng Sơn"},
        "buyer": party("Công ty Cổ phần Thực phẩm Sạch Hà Nội", "0101234567", representative="Nguyễn Thị Lan"),
        "seller": party("Hợp tác xã Nông sản sạch Tràng Định", "4900123456"),
        "witness": party("Liên minh Hợp tác xã tỉnh Lạng Sơn", "4900000001", representative="Trần Văn Đức"),
        "lines": lines,
        "start_date": "2026-12-15", "end_date": "2027-12-14",
        "delivery": {"place": "Kho bên mua tại phường Long Biên, Hà Nội", "frequency": "Hai lần mỗi tuần",
                     "lead_time_days": 3},
        "quality": {"standards": "TCVN 12605:2019; không dư lượng kháng sinh",
                    "certifications": ["OCOP 4 sao", "VietGAP"],
                    "sampling": "Bên mua lấy mẫu ngẫu nhiên mỗi lô; phòng thí nghiệm độc lập kiểm nghiệm."},
        "payment_terms": "Chuyển khoản trong vòng 15 ngày kể từ ngày nhận hàng và hóa đơn hợp lệ.",
        "responsibilities": {"buyer": "Đặt hàng trước 3 ngày; thanh toán đúng hạn.",
                             "seller": "Giao đủ số lượng, đúng chất lượng; báo sớm khi mất mùa."},
        "clauses": ["Thỏa thuận ghi nhớ này là cơ sở để các bên ký hợp đồng mua bán cụ thể."],
        "revision_number": 2, "content_sha256": "5d" * 32,
    }
    values.update(fields)
    return values
