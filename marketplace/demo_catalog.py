"""Demo products of the demo cooperatives (loaded by demo.seed, idempotent).

Products go through services.import_product as the demo alliance user, so every wholesale rule
(tiers below the base price, minimum order a multiple of the increment, ...) is checked exactly as
for a real registry import. Certificate numbers start with "DEMO-" and never look official.
Each published product gets a generated photo (a soft gradient with a simple shape; no text),
stored through the same path as an upload.
"""
import io
import math
from dataclasses import dataclass, field

from PIL import Image, ImageDraw
from werkzeug.datastructures import FileStorage

from marketplace.accounts.models import User
from marketplace.catalog import images, services
from marketplace.catalog.models import (
    CapacityPeriod as Period,
)
from marketplace.catalog.models import (
    Category as C,
)
from marketplace.catalog.models import (
    CertificateStatus,
    Certification,
    IssuingLevel,
    Product,
    ProductImage,
    ProductStatus,
)
from marketplace.catalog.models import (
    Unit as U,
)
from marketplace.extensions import db
from marketplace.sqltypes import utcnow
from marketplace.text import slugify
from marketplace.unit_of_work import unit_of_work

PUBLISHED, DRAFT, HIDDEN = ProductStatus.PUBLISHED, ProductStatus.DRAFT, ProductStatus.HIDDEN
VIETGAP, ORGANIC, GI = Certification.VIETGAP, Certification.ORGANIC, Certification.GEOGRAPHICAL_INDICATION
HACCP = Certification.HACCP


@dataclass
class Ocop:
    stars: int
    region: str  # LS Lạng Sơn, LC Lai Châu, TW central (5 stars)
    serial: int  # the number reads DEMO-OCOP-<region>-<year of the decision>-<serial>
    status: CertificateStatus = CertificateStatus.VERIFIED
    months_ago: int = 14  # decision date, counted back from today (so verified ones stay valid)


@dataclass
class Demo:
    owner: str  # the cooperative owner's demo email
    name: str
    name_en: str
    category: C
    unit: U
    price: int
    moq: int = 1
    step: int = 1
    tiers: list = field(default_factory=list)
    capacity: tuple | None = None  # (quantity, period)
    months: list = field(default_factory=list)
    certifications: list = field(default_factory=list)
    description: str = ""
    status: ProductStatus = PUBLISHED
    ocop: Ocop | None = None
    lead_time: int | None = None


TD, LHP, DB = "trangdinh@demo.chohtx.vn", "lehongphong@demo.chohtx.vn", "dongbanh@demo.chohtx.vn"
HT, HD, TX = "hoangtrung@demo.chohtx.vn", "hadung@demo.chohtx.vn", "thanhxuan@demo.chohtx.vn"
EXPIRED, PENDING, REVOKED = CertificateStatus.EXPIRED, CertificateStatus.PENDING, CertificateStatus.REVOKED

PRODUCTS = [
    # HTX Nông sản sạch Tràng Định
    Demo(TD, "Cây thạch đen khô Tràng Định", "Dried black jelly grass (Tràng Định)", C.PROCESSED_FOOD, U.KG,
         55000, 50, 10, [(200, 52000), (1000, 48000)], (20000, Period.SEASON), [8, 9, 10], [VIETGAP],
         "Cây thạch đen trồng trên đồi Tràng Định, phơi khô tự nhiên, đóng bao 10 kg. Nấu thạch mát, dai.",
         ocop=Ocop(4, "LS", 12), lead_time=5),
    Demo(TD, "Bột thạch đen hòa tan", "Instant black jelly powder", C.PROCESSED_FOOD, U.HOP,
         35000, 100, 20, [(500, 32000), (2000, 30000)], (3000, Period.MONTH), [],
         [HACCP], "Hộp 250 g, pha với nước sôi, để nguội là thành thạch. Hạn dùng 12 tháng.",
         ocop=Ocop(3, "LS", 47, months_ago=20), lead_time=3),
    Demo(TD, "Gạo Bao Thai Tràng Định", "Bao Thai rice (Tràng Định)", C.FRESH_PRODUCE, U.TAN,
         18000000, 1, 1, [(5, 17200000), (20, 16500000)], (120, Period.SEASON), [5, 6, 10, 11], [VIETGAP],
         "Gạo Bao Thai vụ mùa, hạt nhỏ, cơm mềm và thơm. Giao theo tấn, đóng bao 50 kg.", lead_time=7),
    Demo(TD, "Măng khô Tràng Định", "Dried bamboo shoots (Tràng Định)", C.PROCESSED_FOOD, U.KG,
         280000, 10, 5, [(50, 265000), (200, 250000)], (2000, Period.YEAR), [3, 4, 5], [],
         "Măng vầu rừng luộc chín, phơi nắng, không lưu huỳnh. Túi hút chân không 1 kg.", lead_time=5),
    Demo(TD, "Hạt dẻ rừng Tràng Định", "Wild chestnuts (Tràng Định)", C.FRESH_PRODUCE, U.KG,
         120000, 20, 10, [(100, 110000)], (5000, Period.SEASON), [9, 10], [],
         "Hạt dẻ rừng thu hoạch cuối thu. Tạm ẩn khi hết mùa.", status=HIDDEN),

    # HTX Thủy sản Lê Hồng Phong (Bắc Sơn)
    Demo(LHP, "Cá trắm giòn Bắc Sơn", "Crisp grass carp (Bắc Sơn)", C.AQUATIC, U.KG,
         180000, 20, 10, [(100, 170000), (500, 160000)], (3000, Period.MONTH), [], [VIETGAP],
         "Cá trắm nuôi bằng đậu tằm trong ao nước chảy, thịt giòn, chắc. Giao cá sống bằng xe bồn.",
         ocop=Ocop(3, "LS", 31), lead_time=2),
    Demo(LHP, "Cá chép tươi", "Fresh common carp", C.AQUATIC, U.KG,
         75000, 50, 10, [(300, 70000)], (5000, Period.MONTH), [], [VIETGAP],
         "Cá chép 1–2 kg/con, nuôi ao nước sạch, giao sống trong ngày.", lead_time=2),
    Demo(LHP, "Cá rô phi đơn tính", "Monosex tilapia", C.AQUATIC, U.KG,
         45000, 100, 50, [(1000, 42000)], (8000, Period.MONTH), [], [],
         "Cá rô phi 0,6–1 kg/con, thức ăn công nghiệp có truy xuất nguồn gốc.", lead_time=2),
    Demo(LHP, "Chả cá trắm Bắc Sơn", "Grass carp fish cake (Bắc Sơn)", C.PROCESSED_FOOD, U.HOP,
         95000, 50, 10, [(200, 90000)], (1500, Period.MONTH), [], [HACCP],
         "Hộp 500 g, cá trắm giã tay, bảo quản đông lạnh −18 °C.",
         ocop=Ocop(3, "LS", 8, status=PENDING, months_ago=2), lead_time=3),
    Demo(LHP, "Cá suối khô", "", C.AQUATIC, U.TUI, 150000, 10, 5, [], None, [], [],
         "Túi 300 g, cá suối nướng than rồi sấy khô.", status=DRAFT),

    # HTX sản xuất na sạch Đồng Bành (Chi Lăng)
    Demo(DB, "Na dai Chi Lăng", "Chi Lăng custard apple", C.FRESH_PRODUCE, U.KG,
         60000, 100, 50, [(500, 55000), (2000, 50000)], (150000, Period.SEASON), [7, 8, 9], [VIETGAP, GI],
         "Na dai trồng trên núi đá vôi Chi Lăng, quả to, múi dày, ngọt đậm. Đóng thùng xốp 10–20 kg.",
         ocop=Ocop(4, "LS", 5), lead_time=2),
    Demo(DB, "Na Chi Lăng thùng 10 kg", "Chi Lăng custard apples, 10 kg carton", C.FRESH_PRODUCE, U.THUNG,
         550000, 10, 5, [(50, 520000), (200, 495000)], (8000, Period.SEASON), [7, 8, 9], [VIETGAP, GI],
         "Thùng 10 kg quả loại 1 (3–4 quả/kg), lót giấy chống dập, giao trong 48 giờ sau khi hái.",
         lead_time=2),
    Demo(DB, "Rượu na Chi Lăng", "Custard apple wine (Chi Lăng)", C.BEVERAGES, U.CHAI,
         150000, 24, 12, [(120, 140000), (600, 130000)], (2000, Period.MONTH), [], [],
         "Chai 500 ml, 29 độ, ủ từ na chín và men lá truyền thống.",
         ocop=Ocop(3, "LS", 19, months_ago=26), lead_time=5),
    Demo(DB, "Na sấy dẻo", "Soft-dried custard apple", C.PROCESSED_FOOD, U.TUI,
         45000, 50, 10, [], None, [8, 9], [], "Túi 200 g, đang thử nghiệm công thức.", status=DRAFT),
    Demo(DB, "Cây giống na dai ghép", "Grafted custard apple seedlings", C.OTHER, U.CAI,
         35000, 100, 50, [(1000, 30000)], (20000, Period.YEAR), [2, 3, 8, 9], [],
         "Cây ghép 8–10 tháng tuổi, cao 50–70 cm, bầu đất, kèm hướng dẫn chăm sóc.", lead_time=10),

    # HTX Sản xuất dịch vụ nông lâm nghiệp Hoàng Trung
    Demo(HT, "Hoa hồi khô Lạng Sơn", "Dried star anise (Lạng Sơn)", C.SPICES_HERBS, U.KG,
         160000, 50, 10, [(500, 150000), (2000, 142000)], (50000, Period.YEAR), [8, 9, 10], [GI, ORGANIC],
         "Hồi mùa, cánh đều, màu nâu đỏ, thơm đậm. Sấy bằng lò than đá, độ ẩm dưới 13%.",
         ocop=Ocop(4, "LS", 21), lead_time=5),
    Demo(HT, "Tinh dầu hồi", "Star anise essential oil", C.OTHER, U.CHAI,
         220000, 20, 10, [(100, 205000)], (800, Period.MONTH), [], [],
         "Chai 100 ml, chưng cất hơi nước từ hoa hồi Lạng Sơn, hàm lượng anethol trên 85%.",
         ocop=Ocop(3, "LS", 14, status=EXPIRED, months_ago=40), lead_time=5),
    Demo(HT, "Quế vỏ khô", "Dried cinnamon bark", C.SPICES_HERBS, U.KG,
         85000, 100, 50, [(1000, 78000)], (30000, Period.YEAR), [4, 5, 8, 9], [ORGANIC],
         "Vỏ quế 10–15 năm tuổi, cạo sạch, phơi khô, bó thanh 40 cm.",
         ocop=Ocop(3, "LS", 26), lead_time=7),
    Demo(HT, "Chè xanh Mẫu Sơn", "Mẫu Sơn green tea", C.BEVERAGES, U.KG,
         350000, 5, 1, [(20, 330000), (100, 300000)], (600, Period.SEASON), [3, 4, 5, 8, 9], [VIETGAP],
         "Chè búp hái một tôm hai lá trên núi Mẫu Sơn, sao chảo gang.", lead_time=5),
    Demo(HT, "Mật ong rừng Mẫu Sơn", "Mẫu Sơn forest honey", C.PROCESSED_FOOD, U.LIT,
         450000, 5, 1, [(20, 420000), (50, 400000)], (900, Period.YEAR), [3, 4, 5], [],
         "Mật ong hoa rừng, khai thác tự nhiên, độ ẩm dưới 20%.",
         ocop=Ocop(4, "LS", 33, status=REVOKED, months_ago=18), lead_time=5),
    Demo(HT, "Lạp sườn hun khói", "Smoked pork sausage", C.PROCESSED_FOOD, U.KG,
         320000, 10, 1, [(50, 300000)], (500, Period.MONTH), [1, 2, 11, 12], [],
         "Thịt lợn bản, tẩm mắc khén, hun khói bếp củi. Túi hút chân không 500 g.", lead_time=5),
    Demo(HT, "Giỏ mây tre đan", "Hand-woven bamboo and rattan basket", C.HANDICRAFTS, U.CAI,
         65000, 50, 10, [(200, 60000), (1000, 55000)], (4000, Period.MONTH), [], [],
         "Giỏ đan tay đường kính 30 cm, tre và mây rừng xử lý chống mốc.", lead_time=14),
    Demo(HT, "Cát sâm khô", "Dried Millettia speciosa root", C.MEDICINAL_HERBS, U.KG,
         380000, 5, 1, [(30, 360000)], (400, Period.YEAR), [10, 11, 12], [],
         "Củ cát sâm thái lát, sấy khô, dùng sắc nước hoặc ngâm rượu.", lead_time=7),

    # HTX nông lâm thủy sản Hà Dũng (Than Uyên, Lai Châu)
    Demo(HD, "Chè Shan tuyết cổ thụ Than Uyên", "Ancient Shan tuyet tea (Than Uyên)", C.BEVERAGES, U.KG,
         600000, 5, 1, [(20, 560000), (100, 520000)], (1200, Period.YEAR), [3, 4, 5, 9, 10], [ORGANIC],
         "Búp chè Shan tuyết từ cây cổ thụ trên 100 năm tuổi, vùng cao trên 1.200 m.",
         ocop=Ocop(5, "TW", 1), lead_time=7),
    Demo(HD, "Gạo Séng Cù Than Uyên", "Séng Cù rice (Than Uyên)", C.FRESH_PRODUCE, U.KG,
         28000, 500, 50, [(2000, 26500), (10000, 25000)], (200000, Period.SEASON), [10, 11], [VIETGAP],
         "Gạo Séng Cù hạt dài, dẻo, thơm nhẹ, trồng ở cánh đồng Mường Than.",
         ocop=Ocop(3, "LC", 9), lead_time=5),
    Demo(HD, "Thịt trâu gác bếp", "Smoked buffalo meat", C.PROCESSED_FOOD, U.TUI,
         480000, 10, 1, [(50, 460000)], (800, Period.MONTH), [], [HACCP],
         "Túi 500 g, thịt trâu tẩm mắc khén, gừng, ớt, sấy trên gác bếp.",
         ocop=Ocop(3, "LC", 22, months_ago=22), lead_time=5),
    Demo(HD, "Thảo quả khô", "Dried black cardamom", C.SPICES_HERBS, U.KG,
         260000, 20, 10, [(100, 245000)], (15000, Period.SEASON), [10, 11, 12], [],
         "Thảo quả trồng dưới tán rừng, sấy khô, quả chắc, thơm.", lead_time=7),
    Demo(HD, "Đương quy khô", "Dried angelica root", C.MEDICINAL_HERBS, U.KG,
         180000, 10, 1, [(50, 170000)], (3000, Period.YEAR), [11, 12], [],
         "Rễ đương quy trồng vùng cao Lai Châu, thái lát, sấy lạnh.", lead_time=7),
    Demo(HD, "Túi thổ cẩm dệt tay", "Hand-woven brocade bag", C.HANDICRAFTS, U.CAI,
         250000, 10, 1, [(50, 230000)], (300, Period.MONTH), [], [],
         "Túi đeo vai thổ cẩm dệt tay, hoa văn dân tộc Thái.", lead_time=21),
    Demo(HD, "Bí đỏ hồ lô", "Bottle-shaped pumpkin", C.FRESH_PRODUCE, U.QUA,
         18000, 100, 10, [(500, 16000)], (10000, Period.SEASON), [6, 7, 8], [VIETGAP],
         "Quả 1–1,5 kg, ruột vàng đậm, bở, ngọt.", lead_time=3),
    Demo(HD, "Miến dong Than Uyên", "Arrowroot glass noodles (Than Uyên)", C.PROCESSED_FOOD, U.KG,
         70000, 50, 10, [(300, 65000)], None, [12, 1, 2], [],
         "Miến dong làm thủ công, phơi nắng. Tạm ẩn trong khi chờ lô mới.", status=HIDDEN),

    # HTX Thanh Xuân (waiting for the alliance's verification: drafts only)
    Demo(TX, "Chè xanh Than Uyên", "Than Uyên green tea", C.BEVERAGES, U.KG,
         200000, 10, 1, [(50, 190000)], (2000, Period.YEAR), [3, 4, 5], [],
         "Chè xanh sao suốt, đóng túi 500 g.", status=DRAFT),
    Demo(TX, "Măng tre Bát Độ tươi", "Fresh Bát Độ bamboo shoots", C.FRESH_PRODUCE, U.BO,
         25000, 100, 10, [(500, 22000)], (5000, Period.SEASON), [5, 6, 7, 8], [],
         "Bó 2 kg, măng tre Bát Độ nhổ trong ngày.", status=DRAFT),
    Demo(TX, "Khăn piêu thổ cẩm", "", C.HANDICRAFTS, U.CAI, 320000, 5, 1, [], None, [], [],
         "Khăn piêu thêu tay của phụ nữ Thái.", status=DRAFT),
]

# A soft two-colour gradient per category (top, bottom) and a shape colour.
PALETTES = {
    C.FRESH_PRODUCE: ((236, 247, 224), (196, 228, 170), (120, 176, 92)),
    C.PROCESSED_FOOD: ((253, 240, 222), (244, 206, 160), (212, 140, 80)),
    C.BEVERAGES: ((232, 244, 232), (190, 220, 186), (96, 150, 100)),
    C.SPICES_HERBS: ((250, 232, 222), (226, 178, 150), (160, 84, 52)),
    C.MEDICINAL_HERBS: ((226, 244, 240), (176, 218, 206), (74, 146, 128)),
    C.AQUATIC: ((226, 240, 252), (170, 206, 236), (70, 130, 190)),
    C.HANDICRAFTS: ((248, 240, 226), (222, 200, 160), (164, 124, 72)),
    C.OTHER: ((240, 234, 250), (208, 196, 236), (128, 108, 178)),
}
PHOTO_SIZE = (640, 480)


def demo_photo(category, variant):
    """JPEG bytes of a light picture: a vertical gradient and a few soft circles (no text)."""
    top, bottom, accent = PALETTES[category]
    mask = Image.linear_gradient("L").resize(PHOTO_SIZE)
    image = Image.composite(Image.new("RGB", PHOTO_SIZE, bottom), Image.new("RGB", PHOTO_SIZE, top), mask)
    draw = ImageDraw.Draw(image)
    width, height = PHOTO_SIZE
    cx, cy, r = width // 2 + (variant % 5 - 2) * 30, height // 2 + 20, 120 + (variant % 3) * 15
    body, light = _mix(accent, bottom, 0.35), _mix(accent, top, 0.75)
    if category == C.AQUATIC:  # a fish: body and tail
        draw.polygon([(cx + r - 20, cy), (cx + r + 90, cy - 80), (cx + r + 90, cy + 80)], fill=body)
        draw.ellipse((cx - r - 40, cy - r // 2 - 10, cx + r + 10, cy + r // 2 + 10), fill=body)
        draw.ellipse((cx - r + 10, cy - 30, cx - r + 40, cy), fill=light)
    elif category in (C.SPICES_HERBS, C.MEDICINAL_HERBS, C.BEVERAGES):  # a leaf
        draw.polygon(_leaf(cx, cy, r * 1.3), fill=body)
        draw.line(_leaf(cx, cy, r * 1.3, width=0)[:21], fill=light, width=6)
    elif category == C.HANDICRAFTS:  # a basket
        draw.rounded_rectangle((cx - r, cy - r // 2, cx + r, cy + r), radius=30, fill=body)
        draw.arc((cx - r + 30, cy - r - 40, cx + r - 30, cy + 20), 180, 360, fill=body, width=14)
        for offset in (-r // 2, 0, r // 2):
            draw.line((cx + offset, cy - r // 2 + 10, cx + offset, cy + r - 10), fill=light, width=5)
    else:  # a fruit
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=body)
        draw.ellipse((cx - r // 2, cy - r // 2 - 40, cx + r // 3, cy - 20), fill=light)
    small = 40 + (variant % 4) * 8
    sx, sy = 90 + (variant * 37) % 120, 80 + (variant * 23) % 60
    draw.ellipse((sx, sy, sx + small, sy + small), fill=_mix(accent, top, 0.55))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _leaf(cx, cy, length, width=0.42, angle=-0.5):
    """Points of a leaf outline (a lens tilted by `angle` radians); width=0 gives its midrib."""
    outline = []
    for side in (1, -1):
        for step in range(21) if side == 1 else range(20, -1, -1):
            x = -length + 2 * length * step / 20
            y = side * width * length * math.sin(math.pi * step / 20)
            outline.append((cx + x * math.cos(angle) - y * math.sin(angle),
                            cy + x * math.sin(angle) + y * math.cos(angle)))
    return outline


def _mix(a, b, share_of_b):
    return tuple(round(x * (1 - share_of_b) + y * share_of_b) for x, y in zip(a, b))


def seed_products():
    """Add the demo products that are missing (matched by slug within their cooperative)."""
    alliance = db.session.scalar(db.select(User).filter_by(email="lienminh@demo.chohtx.vn"))
    owners = {u.email: u for u in db.session.scalars(db.select(User).where(
        User.email.in_({item.owner for item in PRODUCTS})))}
    today = services.today()
    stored = []
    try:
        with unit_of_work():
            for variant, item in enumerate(PRODUCTS):
                cooperative = owners[item.owner].organisation
                if db.session.scalar(db.select(Product.id).filter_by(cooperative_id=cooperative.id,
                                                                     slug=slugify(item.name))):
                    continue
                product = _import(alliance, cooperative, item, today)
                if product.status == PUBLISHED:
                    stored.append(_add_photo(product, variant))
    except BaseException:
        images.discard_files(stored, [])  # never committed: remove them now
        raise


def _import(alliance, cooperative, item, today):
    details = services.ProductDetails(
        name=item.name, name_en=item.name_en, description=item.description, category=item.category.value,
        unit=item.unit.value, province_code=cooperative.province_code, commune_code=cooperative.commune_code,
        base_price_vnd=item.price, min_order_qty=item.moq, order_increment=item.step,
        capacity_qty=item.capacity[0] if item.capacity else None,
        capacity_period=item.capacity[1].value if item.capacity else None,
        harvest_months=item.months, lead_time_days=item.lead_time,
        certifications=[c.value for c in item.certifications], tiers=item.tiers,
    )
    certificate = None
    if item.ocop:
        decision = services.add_months(today, -item.ocop.months_ago)
        level = IssuingLevel.CENTRAL if item.ocop.stars == 5 else IssuingLevel.PROVINCE
        number = f"DEMO-OCOP-{item.ocop.region}-{decision.year}-{item.ocop.serial:03d}"
        certificate = services.CertificateDetails(stars=item.ocop.stars, certificate_no=number,
                                                  issuing_level=level.value, decision_date=decision)
    product, _created = services.import_product(alliance, cooperative, details, certificate,
                                                publish=item.status != DRAFT)
    if item.status == HIDDEN and product.status == PUBLISHED:
        product.status = HIDDEN
    if item.ocop and item.ocop.status != CertificateStatus.VERIFIED:
        _set_status(product.certificates[0], item.ocop.status, alliance)
    return product


def _set_status(certificate, status, alliance):
    """The import verifies what the alliance imports; demo data also needs the other states."""
    certificate.status = status
    if status == CertificateStatus.PENDING:
        certificate.reviewed_by, certificate.reviewed_at = None, None
    else:
        certificate.reviewed_by, certificate.reviewed_at = alliance, utcnow()
    if status == CertificateStatus.REVOKED:
        certificate.status_reason = "Dữ liệu demo: quyết định công nhận đã được thay thế."


def _add_photo(product, variant):
    upload = FileStorage(io.BytesIO(demo_photo(product.category, variant)), filename="demo.jpg",
                         content_type="image/jpeg")
    name, width, height = images.store_photo(upload)
    product.images.append(ProductImage(stored_name=name, width=width, height=height, position=0,
                                       alt_text=product.name[:200]))
    return name
