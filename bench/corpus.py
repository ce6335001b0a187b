"""A deterministic corpus of realistic synthetic Vietnamese OCOP products for the search benchmark.

`generate(n, seed)` returns `n` product dicts (ids 1..n) built from real OCOP vocabulary, real
province names (marketplace.geo: the 34 units in force since 07/2025) and real local place names.
The same (n, seed) always gives the same corpus, in any process.

Near-duplicates that differ only by diacritics are there on purpose ("dâu tây" strawberry,
"đậu tương" soybean, "dầu lạc" peanut oil), so a search that folds accents away cannot rank them.
The first products cover every base product once, then a few deliberate look-alikes
(DISTRACTORS), so even a 300-product smoke corpus holds a correct answer and its traps for every
labelled relevance query.

Everything here is demo data: no certificate numbers, no real cooperative's figures.
"""
import random
from dataclasses import dataclass

from marketplace import geo
from marketplace.text import fold

CATEGORIES = ("fresh_produce", "processed_food", "beverages", "spices_herbs", "medicinal_herbs",
              "aquatic", "handicrafts", "other")
CERTIFICATIONS = ("vietgap", "globalgap", "organic", "geographical_indication", "haccp", "iso_22000")
CERTIFICATION_WEIGHTS = (35, 8, 20, 15, 12, 10)
COOPERATIVE_TYPES = ("hop_tac_xa", "to_hop_tac", "ho_kinh_doanh")
COOPERATIVE_TYPE_WEIGHTS = (60, 25, 15)
STARS = (None, 3, 4, 5)
STAR_WEIGHTS = (45, 35, 15, 5)

# Local place names (old districts, communes, regions) by the province that holds them since 07/2025.
PLACES = {
    20: ("Tràng Định", "Chi Lăng", "Bắc Sơn", "Văn Quan", "Bình Gia", "Đồng Bành", "Hữu Lũng", "Lộc Bình",
         "Đình Lập", "Hoàng Đồng"),
    4: ("Trùng Khánh", "Bảo Lạc", "Thạch An", "Hà Quảng", "Nguyên Bình"),
    12: ("Than Uyên", "Tam Đường", "Sìn Hồ", "Phong Thổ", "Mường Tè"),
    15: ("Văn Yên", "Bắc Hà", "Sa Pa", "Bát Xát", "Mù Cang Chải", "Trạm Tấu", "Y Tý"),
    14: ("Mộc Châu", "Vân Hồ", "Thuận Châu", "Bắc Yên"),
    11: ("Mường Nhé", "Tủa Chùa", "Mường Ảng"),
    8: ("Hàm Yên", "Đồng Văn", "Hoàng Su Phì", "Na Hang", "Mèo Vạc"),
    19: ("Tân Cương", "Na Rì", "Ba Bể", "Đại Từ"),
    25: ("Tam Đảo", "Thanh Sơn", "Mai Châu", "Tân Sơn"),
    22: ("Ba Chẽ", "Bình Liêu", "Tiên Yên", "Đầm Hà"),
    24: ("Lục Ngạn", "Yên Thế", "Lục Nam"),
    33: ("Khoái Châu", "Phố Hiến"),
    1: ("Ba Vì", "Quốc Oai", "Đoài"),
    68: ("Đà Lạt", "Đơn Dương", "Bảo Lộc"),
    66: ("Buôn Ma Thuột", "Krông Pắc"),
    52: ("Chư Sê", "Pleiku"),
    91: ("Tri Tôn", "Châu Đốc"),
    96: ("Năm Căn", "Ngọc Hiển"),
    82: ("Lai Vung", "Cao Lãnh"),
    38: ("Ngọc Lặc", "Thường Xuân"),
    40: ("Con Cuông", "Quỳ Châu"),
    42: ("Vũ Quang", "Hương Khê"),
    51: ("Kon Tum", "Ba Tơ"),
    56: ("Cam Lâm", "Ninh Sơn"),
}


@dataclass(frozen=True)
class Base:
    """A kind of product as cooperatives name it, with where it typically comes from."""

    vi: str
    en: str
    category: str
    unit: str
    price: tuple  # (low, high) VND per unit
    provinces: tuple  # typical province codes
    place_in_name: bool = False  # the name already says where it is from ("Quế Văn Yên")


B = Base
BASES = (
    # fresh produce
    B("Na dai", "Custard apple", "fresh_produce", "kg", (35000, 90000), (20,)),
    B("Na bở", "Soft custard apple", "fresh_produce", "kg", (25000, 60000), (20, 24)),
    B("Dâu tây", "Strawberry", "fresh_produce", "kg", (120000, 300000), (68, 14)),
    B("Dâu tằm", "Mulberry", "fresh_produce", "kg", (40000, 80000), (68, 20)),
    B("Cam sành", "King orange", "fresh_produce", "kg", (20000, 45000), (8, 86)),
    B("Quýt vàng", "Golden mandarin", "fresh_produce", "kg", (30000, 60000), (20,)),
    B("Bưởi Diễn", "Dien pomelo", "fresh_produce", "qua", (40000, 80000), (1,), True),
    B("Mận hậu", "Hau plum", "fresh_produce", "kg", (20000, 50000), (14,)),
    B("Vải thiều", "Lychee", "fresh_produce", "kg", (25000, 60000), (24,)),
    B("Nhãn lồng", "Longan", "fresh_produce", "kg", (30000, 70000), (33,)),
    B("Hồng không hạt", "Seedless persimmon", "fresh_produce", "kg", (30000, 60000), (4,)),
    B("Su su", "Chayote", "fresh_produce", "kg", (8000, 20000), (25,)),
    B("Rau cải mèo", "Hmong mustard greens", "fresh_produce", "bo", (10000, 25000), (8, 15)),
    B("Khoai môn", "Taro", "fresh_produce", "kg", (20000, 45000), (20, 19)),
    B("Táo mèo", "Wild apple", "fresh_produce", "kg", (20000, 45000), (15, 11)),
    B("Chuối tiêu hồng", "Pink banana", "fresh_produce", "kg", (15000, 30000), (33, 1)),
    B("Dưa hấu", "Watermelon", "fresh_produce", "kg", (8000, 18000), (91, 82)),
    # processed food
    B("Thạch đen", "Black jelly grass", "processed_food", "kg", (50000, 90000), (20, 4)),
    B("Mật ong rừng", "Wild honey", "processed_food", "chai", (250000, 600000), (20, 8, 12)),
    B("Mật ong bạc hà", "Mint honey", "processed_food", "chai", (300000, 600000), (8,)),
    B("Thịt trâu gác bếp", "Smoked buffalo meat", "processed_food", "kg", (800000, 1300000), (14, 12, 11)),
    B("Lạp xưởng", "Lap xuong sausage", "processed_food", "kg", (180000, 300000), (4, 20)),
    B("Măng khô", "Dried bamboo shoots", "processed_food", "kg", (250000, 450000), (20, 12, 19)),
    B("Gạo nếp cái hoa vàng", "Yellow-flower glutinous rice", "processed_food", "kg", (35000, 60000), (33, 19)),
    B("Gạo Séng Cù", "Seng Cu rice", "processed_food", "kg", (25000, 40000), (15,)),
    B("Miến dong", "Arrowroot vermicelli", "processed_food", "kg", (70000, 120000), (4, 19, 22)),
    B("Đậu tương", "Soybean", "processed_food", "kg", (30000, 50000), (4, 12)),
    B("Đậu phộng rang", "Roasted peanuts", "processed_food", "tui", (40000, 70000), (8, 40)),
    B("Đậu đen xanh lòng", "Green-core black beans", "processed_food", "kg", (45000, 80000), (4, 8)),
    B("Đậu phụ", "Tofu", "processed_food", "kg", (25000, 40000), (1, 33)),
    B("Hạt dẻ Trùng Khánh", "Trung Khanh chestnut", "processed_food", "kg", (120000, 200000), (4,), True),
    B("Khau nhục", "Braised pork belly", "processed_food", "hop", (150000, 250000), (20,)),
    B("Nấm hương rừng", "Wild shiitake", "processed_food", "kg", (300000, 500000), (20, 15)),
    B("Mộc nhĩ", "Wood ear mushroom", "processed_food", "kg", (150000, 250000), (20, 12)),
    B("Tương ớt", "Chilli sauce", "processed_food", "chai", (25000, 45000), (38,)),
    B("Dầu lạc", "Peanut oil", "processed_food", "chai", (80000, 150000), (40, 8)),
    B("Dầu vừng", "Sesame oil", "processed_food", "chai", (120000, 200000), (40, 42)),
    # beverages
    B("Chè Shan tuyết", "Shan Tuyet tea", "beverages", "kg", (400000, 1500000), (8, 15, 12)),
    B("Trà hoa vàng", "Golden camellia tea", "beverages", "hop", (500000, 1200000), (8, 25)),
    B("Chè Tân Cương", "Tan Cuong tea", "beverages", "kg", (250000, 600000), (19,), True),
    B("Rượu ngô men lá", "Leaf-yeast corn liquor", "beverages", "chai", (80000, 150000), (15, 8)),
    B("Rượu táo mèo", "Wild apple wine", "beverages", "chai", (90000, 180000), (15,)),
    B("Cà phê Arabica", "Arabica coffee", "beverages", "kg", (180000, 350000), (14, 68, 66)),
    B("Nước ép dâu tằm", "Mulberry juice", "beverages", "chai", (40000, 70000), (68,)),
    B("Cà phê Robusta", "Robusta coffee", "beverages", "kg", (120000, 220000), (66, 52)),
    # spices and herbs
    B("Hồi khô", "Dried star anise", "spices_herbs", "kg", (100000, 200000), (20,)),
    B("Quế Văn Yên", "Van Yen cinnamon", "spices_herbs", "kg", (60000, 120000), (15,), True),
    B("Thảo quả", "Black cardamom", "spices_herbs", "kg", (200000, 350000), (15, 12)),
    B("Mắc khén", "Mac khen pepper", "spices_herbs", "kg", (250000, 450000), (14, 11)),
    B("Gừng", "Ginger", "spices_herbs", "kg", (25000, 50000), (20, 4)),
    B("Nghệ vàng", "Yellow turmeric", "spices_herbs", "kg", (30000, 60000), (40, 25)),
    B("Tinh dầu hồi", "Star anise essential oil", "spices_herbs", "chai", (250000, 500000), (20,)),
    B("Tinh dầu quế", "Cinnamon essential oil", "spices_herbs", "chai", (200000, 400000), (15,)),
    B("Tinh dầu sả chanh", "Lemongrass essential oil", "spices_herbs", "chai", (120000, 250000), (38,)),
    B("Hạt tiêu", "Black pepper", "spices_herbs", "kg", (120000, 200000), (52, 66)),
    # medicinal herbs
    B("Ba kích", "Morinda root", "medicinal_herbs", "kg", (250000, 500000), (22,)),
    B("Sâm Lai Châu", "Lai Chau ginseng", "medicinal_herbs", "kg", (30000000, 80000000), (12,), True),
    B("Tam thất", "Notoginseng", "medicinal_herbs", "kg", (800000, 1500000), (15, 8)),
    B("Giảo cổ lam", "Jiaogulan tea", "medicinal_herbs", "tui", (80000, 150000), (25, 8)),
    B("Cà gai leo", "Climbing nightshade", "medicinal_herbs", "tui", (60000, 120000), (42, 38)),
    B("Chè dây", "Ampelopsis tea", "medicinal_herbs", "tui", (60000, 120000), (4, 20)),
    B("Hà thủ ô", "Fleeceflower root", "medicinal_herbs", "kg", (200000, 400000), (8, 15)),
    B("Đương quy", "Angelica root", "medicinal_herbs", "kg", (150000, 300000), (15, 8)),
    # aquatic
    B("Cá suối", "Stream fish", "aquatic", "kg", (150000, 300000), (12, 14)),
    B("Cá tầm", "Sturgeon", "aquatic", "kg", (250000, 450000), (15, 68)),
    B("Cá hồi vân", "Rainbow trout", "aquatic", "kg", (250000, 400000), (15, 68)),
    B("Tôm càng xanh", "Giant freshwater prawn", "aquatic", "kg", (250000, 450000), (91, 96)),
    B("Ốc suối", "Stream snails", "aquatic", "kg", (80000, 150000), (20, 12)),
    B("Cá chép", "Common carp", "aquatic", "kg", (50000, 90000), (20, 25)),
    B("Cá rô đồng", "Climbing perch", "aquatic", "kg", (60000, 100000), (82, 91)),
    B("Tôm khô", "Dried shrimp", "aquatic", "kg", (600000, 1000000), (96, 22)),
    # handicrafts
    B("Thổ cẩm", "Brocade fabric", "handicrafts", "cai", (200000, 800000), (12, 8, 15)),
    B("Khăn thổ cẩm", "Brocade scarf", "handicrafts", "cai", (80000, 250000), (12, 8)),
    B("Mây tre đan", "Rattan and bamboo ware", "handicrafts", "cai", (50000, 300000), (1, 38)),
    B("Chổi chít", "Tiger-grass broom", "handicrafts", "cai", (20000, 50000), (20, 19)),
    B("Nón lá", "Conical hat", "handicrafts", "cai", (40000, 120000), (46, 38)),
    B("Giỏ mây", "Rattan basket", "handicrafts", "cai", (60000, 200000), (38, 1)),
    # other
    B("Hương trầm", "Agarwood incense", "other", "hop", (100000, 400000), (56, 42)),
    B("Xà phòng thảo dược", "Herbal soap", "other", "hop", (30000, 80000), (15, 1)),
)

# Products whose names fold like another's ("Bắc Hà" the place, "bạc hà" mint), placed right after
# the base products so that every labelled relevance query meets its trap in any corpus size.
DISTRACTORS = (
    ("Mật ong rừng", "Mật ong rừng Bắc Hà"),
    ("Hồi khô", "Hồi khô Văn Quan"),
    ("Đậu phộng rang", "Đậu phộng rang Bắc Hà"),
    ("Tinh dầu quế", "Tinh dầu quế Văn Yên"),
)

QUALIFIERS = {
    "*": ("loại 1", "đặc sản", "thượng hạng", "xuất khẩu", "hữu cơ", "sạch", "VietGAP", "loại đặc biệt"),
    "fresh_produce": ("tươi", "quả to", "chín cây", "vụ mới"),
    "processed_food": ("sấy khô", "hút chân không", "hộp quà", "túi 500g", "gói 1kg", "đóng hộp", "nguyên chất"),
    "beverages": ("hộp quà", "túi 200g", "chai 500ml", "nguyên chất", "búp non"),
    "spices_herbs": ("sấy khô", "túi 500g", "nguyên chất", "xay bột"),
    "medicinal_herbs": ("sấy khô", "túi 500g", "thái lát", "ngâm rượu"),
    "aquatic": ("tươi sống", "làm sạch", "đông lạnh", "một nắng"),
    "handicrafts": ("thủ công", "dệt tay", "hoa văn truyền thống", "cỡ lớn"),
    "other": ("hộp quà", "thủ công", "thiên nhiên"),
}
QUALIFIERS_EN = {"sấy khô": "dried", "hữu cơ": "organic", "tươi": "fresh", "hộp quà": "gift box",
                 "xuất khẩu": "export grade", "loại 1": "grade 1", "tươi sống": "live", "dệt tay": "handwoven",
                 "đông lạnh": "frozen", "nguyên chất": "pure", "thủ công": "handmade"}

SECTORS = ("Nông sản sạch", "Nông lâm nghiệp", "Dược liệu", "Thủy sản", "Chè", "Nuôi ong",
           "Dịch vụ nông nghiệp", "Sản xuất và thương mại", "Nông lâm thủy sản", "Thủ công mỹ nghệ",
           "Rau an toàn", "Cây ăn quả", "Sản xuất dịch vụ nông lâm nghiệp")
VILLAGES = ("Nà Pàn", "Bản Chắt", "Khuổi Phầy", "Nà Lừa", "Pác Nặm", "Bản Vàng", "Nà Tồng", "Lũng Cú",
            "Phiêng Lằm", "Bản Hon", "Nà Hin", "Cốc Lầy")
SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vi", "Nông", "Lường", "Hà", "Lò", "Vàng", "Giàng",
            "Sùng", "Lục", "Triệu", "Đặng", "Mông", "Lăng")
GIVEN = ("Văn An", "Thị Bình", "Văn Dũng", "Thị Hoa", "Văn Hùng", "Thị Lan", "Văn Minh", "Thị Mai",
         "Văn Phúc", "Thị Thu", "Văn Tâm", "Thị Hằng", "A Páo", "Seo Mỷ", "Văn Thắng", "Thị Nga")

SENTENCES = (
    "{base} được {verb} tại {place}, {province}.",
    "Sản phẩm của {coop}, vùng nguyên liệu tập trung do các thành viên tự chăm sóc.",
    "Hợp tác xã cam kết nông sản sạch, an toàn vệ sinh thực phẩm và truy xuất được nguồn gốc.",
    "Đóng gói theo yêu cầu, bảo quản nơi khô ráo, thoáng mát, tránh ánh nắng trực tiếp.",
    "Nhận đơn hàng sỉ cho doanh nghiệp, siêu thị, bếp ăn tập thể và nhà phân phối.",
    "Quy trình sản xuất theo tiêu chuẩn {cert}, có nhật ký đồng ruộng đầy đủ.",
    "Hương vị đặc trưng của vùng núi phía Bắc, được khách hàng trong và ngoài tỉnh tin dùng.",
    "Thu hoạch chính vụ từ tháng {m1} đến tháng {m2} hằng năm.",
    "Giao hàng toàn quốc, hỗ trợ vận chuyển cho đơn hàng số lượng lớn.",
    "Sản lượng khoảng {tons} tấn mỗi năm, đáp ứng hợp đồng bao tiêu dài hạn.",
    "Đạt chứng nhận OCOP {stars} sao cấp tỉnh.",
    "Phù hợp làm quà biếu dịp lễ Tết và hội nghị.",
    "Không sử dụng chất bảo quản, không phẩm màu.",
    "Liên kết chuỗi giá trị với doanh nghiệp thu mua và chế biến.",
    "Người dân tộc Tày, Nùng, Dao, Mông trong bản cùng tham gia sản xuất.",
)
VERBS = {"fresh_produce": "trồng", "processed_food": "chế biến", "beverages": "sản xuất",
         "spices_herbs": "trồng và sơ chế", "medicinal_herbs": "trồng dưới tán rừng", "aquatic": "nuôi",
         "handicrafts": "làm thủ công", "other": "làm thủ công"}


@dataclass
class Cooperative:
    id: int
    name: str
    type: str
    province_code: int
    specialties: tuple


def _places(province_code):
    return PLACES.get(province_code, ())


def _cooperatives(rng, count, province_codes):
    base_weights_by_province = {}
    cooperatives = []
    for index in range(count):
        kind = rng.choices(COOPERATIVE_TYPES, COOPERATIVE_TYPE_WEIGHTS)[0]
        # Most cooperatives are in the northern mountain provinces the alliance serves.
        province = rng.choice((20, 20, 20, 4, 12, 15, 14, 8, 19)) if rng.random() < 0.6 else rng.choice(province_codes)
        place = rng.choice(_places(province) or VILLAGES)
        if kind == "hop_tac_xa":
            name = f"HTX {rng.choice(SECTORS)} {place}"
        elif kind == "to_hop_tac":
            name = f"Tổ hợp tác {rng.choice(SECTORS).lower()} thôn {rng.choice(VILLAGES)}"
        else:
            name = f"Hộ kinh doanh {rng.choice(SURNAMES)} {rng.choice(GIVEN)}"
        if province not in base_weights_by_province:
            base_weights_by_province[province] = [6 if province in b.provinces else 1 for b in BASES]
        specialties = tuple(sorted(set(rng.choices(range(len(BASES)), base_weights_by_province[province],
                                                   k=rng.randint(2, 6)))))
        cooperatives.append(Cooperative(index + 1, name, kind, province, specialties))
    return cooperatives


def _name(rng, base, place):
    parts = [base.vi]
    qualifier = None
    if rng.random() < 0.55:
        pool = QUALIFIERS["*"] + QUALIFIERS[base.category]
        qualifier = rng.choice(pool)
        parts.append(qualifier)
    if place and not base.place_in_name and rng.random() < 0.45:
        parts.append(place)
    return " ".join(parts), qualifier


def _name_en(rng, base, qualifier, place):
    if rng.random() >= 0.4:
        return ""
    words = [QUALIFIERS_EN[qualifier]] if qualifier in QUALIFIERS_EN else []
    words.append(base.en.lower() if words else base.en)
    text = " ".join(words)
    if place and rng.random() < 0.5:
        text += " from " + fold(place).title()
    return text[0].upper() + text[1:]


def _description(rng, base, place, province_name, cooperative, stars, certifications):
    values = {
        "base": base.vi, "verb": VERBS[base.category], "place": place or province_name,
        "province": province_name, "coop": cooperative.name,
        "cert": "VietGAP" if "vietgap" in certifications else ("hữu cơ" if "organic" in certifications else "an toàn"),
        "m1": rng.randint(1, 6), "m2": rng.randint(7, 12), "tons": rng.randint(2, 300), "stars": stars or 3,
    }
    order = [0] + rng.sample(range(1, len(SENTENCES)), len(SENTENCES) - 1)
    target = rng.randint(20, 60)
    words = []
    skip = {10} if not stars else set()
    if base.category in ("handicrafts", "other"):
        skip |= {2, 7, 12}  # nothing to harvest, no preservatives in a broom
    for index in order:
        if index in skip:
            continue
        sentence = SENTENCES[index].format(**values).split()
        if len(words) + len(sentence) > 60:
            continue
        words.extend(sentence)
        if len(words) >= target:
            break
    return " ".join(words)


def _corpus_order(province):
    """The order the corpus draws provinces in: fixed here (names without their prefix, case-folded, as geo sorted
    them until November 2026) so that the pages' Vietnamese alphabetical order does not change the corpus, and
    runs before and after stay comparable."""
    name = province[1]
    for prefix in ("Thành phố ", "Tỉnh "):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return name.casefold()


def generate(n, seed=20261):
    """`n` products as dicts, ids 1..n; deterministic for (n, seed)."""
    rng = random.Random(seed)
    province_codes = [code for code, _ in sorted(geo.provinces(), key=_corpus_order)]
    cooperatives = _cooperatives(rng, max(30, n // 12), province_codes)
    products = []
    for index in range(n):
        if index < len(BASES):  # every base product at least once, whatever n is
            base = BASES[index]
            suitable = [c for c in cooperatives if c.province_code in base.provinces]
            cooperative = rng.choice(suitable or cooperatives)
        else:
            cooperative = rng.choice(cooperatives)
            base = BASES[rng.choice(cooperative.specialties)]
        distractor = index - len(BASES)
        if 0 <= distractor < len(DISTRACTORS):
            base = next(b for b in BASES if b.vi == DISTRACTORS[distractor][0])
        if rng.random() < 0.85:
            province = cooperative.province_code
        else:
            province = rng.choice(base.provinces + (rng.choice(province_codes),))
        province_name = geo.province_name(province)
        places = _places(province)
        place = rng.choice(places) if places else None
        name, qualifier = _name(rng, base, place)
        if 0 <= distractor < len(DISTRACTORS):
            name, qualifier = DISTRACTORS[distractor][1], None
        stars = rng.choices(STARS, STAR_WEIGHTS)[0]
        certifications = sorted(set(rng.choices(CERTIFICATIONS, CERTIFICATION_WEIGHTS,
                                                k=rng.choices((0, 1, 2), (50, 35, 15))[0])))
        low, high = base.price
        products.append({
            "id": index + 1,
            "name": name[0].upper() + name[1:],
            "name_en": _name_en(rng, base, qualifier, place),
            "description": _description(rng, base, place, province_name, cooperative, stars, certifications),
            "category": base.category,
            "unit": base.unit,
            "base_price_vnd": rng.randint(low // 1000, high // 1000) * 1000,
            "province_code": province,
            "province_name": province_name,
            "cooperative_id": cooperative.id,
            "cooperative_name": cooperative.name,
            "cooperative_type": cooperative.type,
            "stars": stars,
            "certifications": certifications,
        })
    return products


def vocabulary(products):
    """Every folded word of the corpus (to prove that a 'non-matching' query word really matches nothing)."""
    words = set()
    for product in products:
        for field in ("name", "name_en", "description", "cooperative_name", "province_name"):
            words.update(fold(product[field]).replace(",", " ").replace(".", " ").split())
    return words
