"""Vietnamese alphabetical order (marketplace/collation.py) and the province lists that use it."""
import unicodedata

import pytest

from marketplace import geo
from marketplace.collation import vietnamese_sort_key


def in_order(*names):
    return sorted(names, key=vietnamese_sort_key) == list(names)


@pytest.mark.parametrize("first, second", [
    ("Hà Nội", "Huế"),            # a before u: the tone of "Hà" does not count against the letters
    ("Cà Mau", "Cao Bằng"),       # the space after "Ca" comes before "o"
    ("Cao Bằng", "Cần Thơ"),      # â is a letter after a
    ("d", "đ"),
    ("Dương", "Đà Nẵng"),         # đ after every d, whatever follows
    ("Đồng Tháp", "Gia Lai"),     # ... and before e, g
    ("Lạng Sơn", "Lâm Đồng"),     # a < â
    ("Lào Cai", "Lâm Đồng"),
    ("Hồ Chí Minh", "Huế"),       # ô < u
    ("Huế", "Hưng Yên"),          # u < ư
    ("Quảng Ninh", "Sơn La"),
    ("Tây Ninh", "Thái Nguyên"),  # â < h
])
def test_pairs_in_vietnamese_order(first, second):
    assert in_order(first, second)
    assert not in_order(second, first)


def test_the_alphabet():
    letters = list("aăâbcdđeêghiklmnoôơpqrstuưvxy")
    assert sorted(reversed(letters), key=vietnamese_sort_key) == letters


def test_tones_break_ties_in_dictionary_order():
    assert in_order("ma", "mà", "mả", "mã", "má", "mạ")
    assert in_order("e", "ẹ", "ê", "ế", "ệ")  # the tone counts only after the letters: ẹ before ê
    assert in_order("mạ", "man")  # letters first: "mạ" is shorter


def test_decomposed_text_sorts_like_composed():
    for name in ("Đắk Lắk", "Thừa Thiên Huế", "Quảng Ngãi", "Nghệ An"):
        assert vietnamese_sort_key(unicodedata.normalize("NFD", name)) == vietnamese_sort_key(name)


def test_case_only_breaks_ties():
    assert in_order("an", "An", "ăn")
    assert in_order("hà nội", "Hà Nội")


def test_spaces_and_digits_before_letters():
    assert in_order("Ca Mau", "Ca1", "Caa")


def test_provinces_are_in_vietnamese_order_without_their_prefix():
    names = [name for _, name in geo.provinces()]
    assert names.index("Thành phố Hà Nội") < names.index("Thành phố Huế")
    assert names.index("Cà Mau") < names.index("Cao Bằng")
    assert names.index("Gia Lai") > names.index("Điện Biên") > names.index("Thành phố Cần Thơ")
    assert names[0] == "An Giang" and names[-1] == "Vĩnh Long"
    assert names == sorted(names, key=geo.sort_key)


def test_communes_are_in_vietnamese_order():
    lang_son = next(code for code, name in geo.provinces() if name == "Lạng Sơn")
    names = [name for _, name in geo.communes(lang_son)]
    assert names == sorted(names, key=geo.sort_key)
    assert len(names) > 10
