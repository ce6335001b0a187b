"""Test data builders. They write straight to the database: fast, and independent of the pages."""
import csv
import io
import itertools
from datetime import UTC, datetime, timedelta

from openpyxl import Workbook
from stdnum.vn import mst

from marketplace.accounts import passwords, tokens
from marketplace.accounts import services as accounts
from marketplace.accounts.models import (
    CooperativeType,
    Invitation,
    MemberRole,
    Organisation,
    OrganisationKind,
    OrganisationStatus,
    PasswordReset,
    Sector,
    User,
)
from marketplace.extensions import db
from marketplace.sqltypes import utcnow

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
        Category,
        CertificateStatus,
        OcopCertificate,
        PriceTier,
        Product,
        ProductStatus,
        Unit,
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


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


REGISTRY_TAX_CODE = valid_tax_code(700001)


def csv_bytes(rows, columns=None, delimiter=",", bom=False):
    """A CSV file of `rows` (dicts) under a header row of `columns`."""
    columns = columns or list(rows[0])
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return buffer.getvalue().encode("utf-8-sig" if bom else "utf-8")


def xlsx_bytes(rows, columns=None):
    """An XLSX workbook of `rows` (dicts) under a header row of `columns`."""
    columns = columns or list(rows[0])
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(columns)
    for row in rows:
        sheet.append([row.get(c) for c in columns])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def registry_row(**overrides):
    """A row of the alliance's provincial registry import that passes every check."""
    row = {
        "cooperative_name": "HTX Chè Mẫu Sơn", "cooperative_tax_code": REGISTRY_TAX_CODE,
        "cooperative_type": "hop_tac_xa", "name": "Chè xanh Mẫu Sơn", "category": "beverages",
        "description": "Chè búp sao chảo gang.", "unit": "kg", "price_vnd": "350000", "min_order_qty": "5",
        "ocop_stars": "", "ocop_certificate_no": "", "ocop_expiry": "", "province": "Lạng Sơn",
        "commune": "Xã Thất Khê", "certifications": "vietgap", "harvest_months": "3;4;5",
        "price_tiers": "20:330000;100:300000", "capacity": "600/season",
    }
    row.update(overrides)
    return row


def organisation_details(organisation, **overrides):
    """The organisation's current details, as services.update_organisation takes them, with changes."""
    values = {name: getattr(organisation, name) for name in (
        "legal_name", "tax_code", "province_code", "commune_code", "street_address", "phone", "email",
        "representative", "sector", "cooperative_type", "member_count", "founded_year")}
    values.update(overrides)
    return accounts.OrganisationDetails.from_mapping(values)


def invitation(w, secret="secret-of-the-invitation"):
    """An open invitation from `w.owner` of `w.cooperative`, whose link holds `secret`."""
    row = Invitation(organisation=w.cooperative, email="new@htx.example", role=MemberRole.MEMBER,
                     token_hash=tokens.digest(secret), invited_by=w.owner, expires_at=utcnow() + timedelta(days=7))
    db.session.add(row)
    db.session.commit()
    return row


def reset_link(user, secret="secret-of-the-reset-link"):
    """A password reset link of `user`, valid for an hour; returns its secret."""
    db.session.add(PasswordReset(user=user, token_hash=tokens.digest(secret), expires_at=utcnow() + timedelta(hours=1)))
    db.session.commit()
    return secret


def registration_details():
    """A cooperative's registration that passes every check."""
    return accounts.OrganisationDetails.from_mapping({
        "legal_name": "HTX Chè Mẫu Sơn", "tax_code": valid_tax_code(), "province_code": 20,
        "commune_code": 6040, "phone": "0205 381 2345", "email": "lienhe@che-mauson.example",
        "representative": "Hoàng Văn Minh", "sector": "agriculture", "cooperative_type": "hop_tac_xa",
    })


def valid_body(**overrides):
    """A product the services accept: every field of services.ProductDetails, in its JSON shape."""
    body = {
        "name": "Na sạch Đồng Bành",
        "name_en": "Dong Banh custard apple",
        "description": "Na dai, quả to, thu hoạch tháng 7 đến tháng 9.",
        "category": "fresh_produce",
        "unit": "kg",
        "province_code": 20,
        "commune_code": 6040,
        "base_price_vnd": 60000,
        "min_order_qty": 100,
        "order_increment": 50,
        "capacity_qty": 20000,
        "capacity_period": "season",
        "harvest_months": [7, 8, 9],
        "lead_time_days": 3,
        "certifications": ["vietgap"],
        "tiers": [{"min_qty": 500, "unit_price_vnd": 55000}, {"min_qty": 2000, "unit_price_vnd": 50000}],
    }
    body.update(overrides)
    return body


def product_form(**overrides):
    """Form data for /products/new and /products/<id>/edit that passes every rule."""
    data = {
        "name": "Na dai Chi Lăng", "name_en": "Chi Lang custard apple",
        "description": "Na dai chín cây, hái buổi sáng.", "category": "fresh_produce", "unit": "kg",
        "province_code": "20", "commune_code": "6463", "base_price_vnd": "60.000", "min_order_qty": "100",
        "order_increment": "10", "capacity_qty": "20.000", "capacity_period": "season",
        "harvest_months": ["7", "8", "9"], "lead_time_days": "3", "certifications": ["vietgap"],
    }
    for row in range(10):
        data[f"tiers-{row}-min_qty"] = ""
        data[f"tiers-{row}-unit_price_vnd"] = ""
    data.update(overrides)
    return data


_search_ids = itertools.count(1)


def record(name, **fields):
    """A product as the search engine indexes it (marketplace/search/documents.py), without a database."""
    values = {
        "id": next(_search_ids),
        "name": name,
        "name_en": "",
        "description": "",
        "category": "processed_food",
        "cooperative_name": "HTX Thử nghiệm",
        "cooperative_type": "hop_tac_xa",
        "province_code": 20,
        "price_vnd": 100000,
        "certifications": [],
        "certificates": [],
        "published_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    values.update(fields)
    return values


def signed_mou(buyer, seller, prices, start=None, end=None):
    """A signed MoU in force between `buyer` and `seller`, straight into the database (no PDF, no
    signatures: tests of orders need only its state, term and prices). `prices` maps products to the
    agreed unit price in VND."""
    import hashlib
    from datetime import date, timedelta

    from marketplace.agreements.models import (
        Agreement,
        AgreementLine,
        AgreementRevision,
        AgreementState,
        Period,
        PriceBasis,
    )
    from marketplace.sqltypes import utcnow

    serial = next(_serial)
    agreement = Agreement(
        reference=f"MOU-2026-{serial:06d}", state=AgreementState.SIGNED, buyer=buyer, seller=seller,
        initiator=buyer, start_date=start or date.today() - timedelta(days=30),
        end_date=end or date.today() + timedelta(days=335), agreed_revision_number=1, signed_at=utcnow())
    revision = AgreementRevision(number=1, author=buyer, terms={}, content_sha256=hashlib.sha256(b"%d" % serial)
                                 .hexdigest())
    revision.lines = [AgreementLine(position=i, product_id=product.id, name=product.name, unit=product.unit.value,
                                    quantity=1000, period=Period.TOTAL, price_basis=PriceBasis.FIXED,
                                    unit_price_vnd=price) for i, (product, price) in enumerate(prices.items())]
    agreement.revisions.append(revision)
    db.session.add(agreement)
    db.session.commit()
    return agreement


def order_request(lines, requested_date=None, **fields):
    """What a buyer sends to place orders: [(product, quantity)] delivered to Lạng Sơn in two weeks."""
    from datetime import date, timedelta

    values = {
        "lines": [{"product_id": product.id, "quantity": quantity} for product, quantity in lines],
        "delivery": {"province_code": 20, "commune_code": 6040, "street": "Số 12 đường Trần Đăng Ninh",
                     "requested_date": (requested_date or date.today() + timedelta(days=14)).isoformat()},
    }
    values.update(fields)
    return values
