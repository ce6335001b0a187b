"""Vietnam's administrative units in force since 1 July 2025 (province → commune).

The lists come from the maintained `vietnam-provinces` package; we keep only codes in the
database and look names up here, so a data update renames units everywhere at once.
"""
from functools import lru_cache

from vietnam_provinces import Province, ProvinceCode, Ward, WardCode

from marketplace.collation import vietnamese_sort_key


@lru_cache(maxsize=1)
def provinces():
    """All provinces as (code, name), sorted the way Vietnamese readers expect."""
    return sorted(((int(p.code), p.name) for p in Province.iter_all()), key=lambda item: sort_key(item[1]))


@lru_cache(maxsize=64)
def communes(province_code):
    """Communes, wards and special zones of a province as (code, name); empty for an unknown code."""
    try:
        code = ProvinceCode(int(province_code))
    except (TypeError, ValueError):
        return []
    wards = ((int(w.code), w.name) for w in Ward.iter_by_province(code))
    return sorted(wards, key=lambda item: sort_key(item[1]))


def province_name(code):
    try:
        return Province.from_code(ProvinceCode(int(code))).name
    except (TypeError, ValueError):
        return ""


def commune_name(code):
    try:
        return Ward.from_code(WardCode(int(code))).name
    except (TypeError, ValueError):
        return ""


def is_valid_location(province_code, commune_code):
    """True when the commune exists and belongs to the province."""
    try:
        ward = Ward.from_code(WardCode(int(commune_code)))
    except (TypeError, ValueError):
        return False
    return int(ward.province_code) == int(province_code)


def sort_key(name):
    """Vietnamese alphabetical order of a unit's name without its prefix: "Thành phố Hà Nội" sorts under H,
    before "Thành phố Huế"; "Xã An Bình" and "Phường An Lạc" sort together under "An"."""
    for prefix in ("Thành phố ", "Tỉnh ", "Phường ", "Xã ", "Đặc khu "):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return vietnamese_sort_key(name)
