"""Vietnamese text analysis of the search index (marketplace/search/analysis.py): no database needed."""
import unicodedata

import pytest

from marketplace.search.analysis import EXACT, FOLDING, exact, fold, folded_words, word_spans

VOWELS = "aăâeêioôơuưy"
TONES = {"ngang": "", "huyền": "\u0300", "sắc": "\u0301", "ngã": "\u0303", "hỏi": "\u0309", "nặng": "\u0323"}
BASE = {"a": "a", "ă": "a", "â": "a", "e": "e", "ê": "e", "i": "i", "o": "o", "ô": "o", "ơ": "o", "u": "u", "ư": "u",
        "y": "y"}


def vietnamese_letters():
    """Every Vietnamese vowel with every tone, lower and upper case, composed (NFC), and its plain letter."""
    for vowel in VOWELS:
        for tone in TONES.values():
            for letter in (vowel, vowel.upper()):
                yield unicodedata.normalize("NFC", letter + tone), BASE[vowel]


@pytest.mark.parametrize("letter, plain", list(vietnamese_letters()))
def test_every_vowel_with_every_tone_folds_to_its_plain_letter(letter, plain):
    assert len(letter) == 1, "NFC gives one code point per Vietnamese letter"
    assert fold(letter) == plain
    assert [t.text for t in FOLDING(f"x{letter}x")] == [f"x{plain}x"]


def test_the_count_of_letters_checked():
    assert len(list(vietnamese_letters())) == 12 * 6 * 2


@pytest.mark.parametrize("letter", ["đ", "Đ", "Ð"])  # the last one is the Icelandic eth, often typed for Đ
def test_d_with_stroke_folds_to_d(letter):
    assert fold(letter) == "d"
    assert fold(f"{letter}ậu") == "dau"


def test_decomposed_text_is_composed_before_splitting_into_words():
    decomposed = unicodedata.normalize("NFD", "Nông sản sạch")
    assert decomposed != "Nông sản sạch"
    assert folded_words(decomposed) == ["nong", "san", "sach"]
    assert [t.text for t in FOLDING(decomposed)] == ["nong", "san", "sach"]
    assert [t.text for t in EXACT(decomposed)] == ["nông", "sản", "sạch"]


def test_case_is_ignored_and_diacritics_kept_in_the_exact_form():
    assert fold("MẬT ONG Rừng") == "mat ong rung"
    assert exact("MẬT ONG Rừng") == "mật ong rừng"
    assert [t.text for t in EXACT("Dâu tây, Đậu và Dầu")] == ["dâu", "tây", "đậu", "và", "dầu"]
    assert [t.text for t in FOLDING("Dâu tây, Đậu và Dầu")] == ["dau", "tay", "dau", "va", "dau"]


def test_short_vietnamese_words_are_not_dropped_as_english_stop_words():
    # StandardAnalyzer's stop list would drop "an" (an toàn) and "to" (tô, tỏ); ours keeps every word.
    assert folded_words("an toàn to lớn") == ["an", "toan", "to", "lon"]


def test_word_spans_point_into_the_original_text():
    text = "Thạch đen Tràng Định"
    spans = word_spans(text)
    assert [(text[start:end], folded) for start, end, folded in spans] == [
        ("Thạch", "thach"), ("đen", "den"), ("Tràng", "trang"), ("Định", "dinh")]
