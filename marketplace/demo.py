"""Demo data for `make run`: the cooperatives named in the provincial reports, a few enterprises,
one alliance user, the cooperatives' products (demo_catalog.py), and the 2024 conference with its MoUs
(demo_agreements.py). Every organisation is flagged
is_demo and shown as demo data; tax codes are made-up numbers that only pass the checksum.
Running seed() twice changes nothing.
"""
from stdnum.vn import mst

from marketplace import demo_agreements, demo_catalog, demo_orders
from marketplace.accounts import passwords
from marketplace.accounts.models import (
    AllianceClassification,
    CooperativeType,
    MemberRole,
    Organisation,
    OrganisationKind,
    OrganisationStatus,
    Sector,
    User,
)
from marketplace.extensions import db
from marketplace.sqltypes import utcnow
from marketplace.unit_of_work import unit_of_work

DEMO_PASSWORD = "demo cho htx lang son"
ALLIANCE_EMAIL = "lienminh@demo.chohtx.vn"

# (email, legal name, type, province, commune, representative, members, founded, classification, status)
COOPERATIVES = [
    ("trangdinh@demo.chohtx.vn", "HTX Nông sản sạch Tràng Định", CooperativeType.HOP_TAC_XA, 20, 6040,
     "Hoàng Văn Minh", 12, 2017, AllianceClassification.GOOD, OrganisationStatus.VERIFIED),
    ("lehongphong@demo.chohtx.vn", "HTX Thủy sản Lê Hồng Phong", CooperativeType.HOP_TAC_XA, 20, 6325,
     "Lương Thị Hoa", 9, 2019, AllianceClassification.AVERAGE, OrganisationStatus.VERIFIED),
    ("dongbanh@demo.chohtx.vn", "HTX sản xuất na sạch Đồng Bành", CooperativeType.HOP_TAC_XA, 20, 6463,
     "Vi Văn Thắng", 25, 2015, AllianceClassification.GOOD, OrganisationStatus.VERIFIED),
    ("hoangtrung@demo.chohtx.vn", "HTX Sản xuất dịch vụ nông lâm nghiệp Hoàng Trung", CooperativeType.HOP_TAC_XA,
     20, 5983, "Nông Văn Trung", 15, 2018, AllianceClassification.AVERAGE, OrganisationStatus.VERIFIED),
    ("hadung@demo.chohtx.vn", "HTX nông lâm thủy sản Hà Dũng", CooperativeType.HOP_TAC_XA, 12, 3595,
     "Lò Văn Dũng", 8, 2020, AllianceClassification.AVERAGE, OrganisationStatus.VERIFIED),
    ("thanhxuan@demo.chohtx.vn", "HTX Thanh Xuân", CooperativeType.HOP_TAC_XA, 12, 3595,
     "Tòng Thị Xuân", 7, 2021, None, OrganisationStatus.PENDING),
]

# (email, legal name, province, commune, representative, status)
ENTERPRISES = [
    ("muahang@demo-thucpham.vn", "Công ty CP Thực phẩm Sạch Thủ Đô (demo)", 1, 167, "Trần Quốc Bảo",
     OrganisationStatus.VERIFIED),
    ("purchasing@demo-export.vn", "Công ty TNHH Xuất khẩu Nông sản Hải Phòng (demo)", 31, 11311, "Phạm Thu Trang",
     OrganisationStatus.VERIFIED),
    ("lienhe@demo-sieuthi.vn", "Công ty TNHH Chuỗi Siêu thị Sài Gòn Xanh (demo)", 79, 26740, "Nguyễn Minh Khôi",
     OrganisationStatus.PENDING),
]


def demo_tax_code(serial):
    """A checksum-valid 10-digit code in the 99xxxxxxxx range, which is not issued to real taxpayers."""
    base = 9900000000 // 10 + serial * 7
    while True:
        digits = f"{base:09d}"[:9]
        check = mst.calc_check_digit(digits)
        if len(check) == 1:
            return digits + check
        base += 1


def logins():
    """(email, description) of every demo account, for `make run` and README."""
    rows = [(ALLIANCE_EMAIL, "Liên minh HTX tỉnh Lạng Sơn (alliance staff)")]
    rows += [(c[0], f"{c[1]} (cooperative, {c[9].value})") for c in COOPERATIVES]
    rows += [(e[0], f"{e[1]} (enterprise, {e[5].value})") for e in ENTERPRISES]
    return rows


@unit_of_work()
def seed():
    """Add the demo organisations, users and products that are missing (idempotent)."""
    password_hash = passwords.hash_password(DEMO_PASSWORD)
    _ensure_user(ALLIANCE_EMAIL, "Cán bộ Liên minh HTX (demo)", password_hash, _alliance)
    for serial, row in enumerate(COOPERATIVES, start=1):
        _ensure_user(row[0], row[5], password_hash, lambda row=row, serial=serial: _cooperative(row, serial))
    for serial, row in enumerate(ENTERPRISES, start=101):
        _ensure_user(row[0], row[4], password_hash, lambda row=row, serial=serial: _enterprise(row, serial))
    db.session.flush()
    demo_catalog.seed_products()  # products need the organisations above
    db.session.flush()
    demo_agreements.seed_agreements()  # MoUs need the products
    demo_orders.seed_orders()  # orders need the products and the signed MoUs


def _ensure_user(email, full_name, password_hash, make_organisation):
    if db.session.scalar(db.select(User.id).filter_by(email=email)) is not None:
        return
    db.session.add(User(email=email, full_name=full_name, password_hash=password_hash,
                        organisation=make_organisation(), role=MemberRole.OWNER))


def _alliance():
    existing = db.session.scalar(db.select(Organisation).filter_by(kind=OrganisationKind.ALLIANCE))
    return existing or Organisation(
        kind=OrganisationKind.ALLIANCE, legal_name="Liên minh Hợp tác xã tỉnh Lạng Sơn",
        province_code=20, commune_code=5983, status=OrganisationStatus.VERIFIED,
        status_changed_at=utcnow(), is_demo=True,
    )


def _cooperative(row, serial):
    email, name, co_type, province, commune, representative, members, founded, classification, status = row
    return Organisation(
        kind=OrganisationKind.COOPERATIVE, cooperative_type=co_type, legal_name=name,
        tax_code=demo_tax_code(serial), province_code=province, commune_code=commune,
        phone=f"0205381{serial:04d}", email=email, representative=representative,
        sector=Sector.AGRICULTURE, member_count=members, founded_year=founded,
        classification=classification, status=status, status_changed_at=utcnow(), is_demo=True,
    )


def _enterprise(row, serial):
    email, name, province, commune, representative, status = row
    return Organisation(
        kind=OrganisationKind.ENTERPRISE, legal_name=name, tax_code=demo_tax_code(serial),
        province_code=province, commune_code=commune, phone=f"0243{serial:07d}", email=email,
        representative=representative, sector=Sector.TRADE_SERVICES, status=status,
        status_changed_at=utcnow(), is_demo=True,
    )
