"""One folding table (marketplace/text.py): every character folds the same in a slug, in import
matching and in the search index, and the table keeps what search always folded (whoosh's accent_map).

Every code point is checked at once: the characters are joined into one text, each path runs once
over it, and only a failure goes through the characters one by one to name them.
"""
import re
import unicodedata
from itertools import chain, compress
from operator import not_

import pytest
from whoosh.support.charset import accent_map

from marketplace import text
from marketplace.catalog import importing
from marketplace.search import analysis
from marketplace.text import COMBINING_DIACRITICS, FOLD_TABLE, fold, slugify

SEPARATOR = "\x00"  # a starter that no character composes with, lower() keeps and no path keeps in a word
UNICODE_PLANES = (range(0x0000, 0xD800), range(0xE000, 0x40000), range(0xE0000, 0xF0000))
UNASSIGNED_PLANES = (range(0x40000, 0xE0000), range(0xF0000, 0x110000))  # and private use
DIACRITICS = {chr(code) for start, end in COMBINING_DIACRITICS for code in range(start, end + 1)}


def _characters():
    """(assigned characters, the rest: unassigned and private-use code points, which no step changes).

    Built with C-level iterators: a Python loop over 1.1 million code points takes most of a second.
    Surrogates cannot be in a str of text; the separator is checked on its own.
    """
    skipped = {SEPARATOR, *DIACRITICS}
    characters = [c for c in map(chr, chain(*UNICODE_PLANES)) if c not in skipped]
    unassigned = list(map({"Cn", "Co"}.__contains__, map(unicodedata.category, characters)))
    assigned = [*compress(characters, map(not_, unassigned)), *sorted(DIACRITICS)]
    rest = "".join(compress(characters, unassigned)) + "".join(map(chr, chain(*UNASSIGNED_PLANES)))
    return assigned, rest


ASSIGNED, REST = _characters()
TEXT = SEPARATOR.join(ASSIGNED)
FOLDED = fold(TEXT)
FOLDED_EACH = FOLDED.split(SEPARATOR)
# The characters folding changes. Any other is its own NFC and lower case, and not a diacritic: the
# same words whether a path folds it or not.
CHANGED = [c for c, folded in zip(ASSIGNED, FOLDED_EACH) if c != folded]

# The folding search did before the one table: NFC, lower case, whoosh's accent_map, ð/Ð → d.
OLD_SEARCH_TABLE = {**accent_map, ord("ð"): "d", ord("Ð"): "d"}


def old_search_fold(value):
    return unicodedata.normalize("NFC", value).lower().translate(OLD_SEARCH_TABLE)


def slug_path(value):
    return slugify(value, max_length=len(value) * 4)


def letters(folded, joiner):
    return joiner.join(re.sub(r"[^a-z0-9]+", " ", folded).split())


def differing(path, expected, characters):
    """The first characters on which `path(character)` differs from `expected(character)`: a failure's
    message, computed one character at a time only when a check over all of them has failed."""
    found = []
    for character in characters:
        if path(character) != expected(character):
            found.append(f"U+{ord(character):04X} {path(character)!r} != {expected(character)!r}")
            if len(found) == 10:
                break
    return found


def test_search_and_the_rest_of_the_marketplace_share_one_function_and_one_table():
    assert analysis.fold is text.fold
    assert analysis.FOLD_TABLE is text.FOLD_TABLE
    assert len(ASSIGNED) + len(REST) + 1 == 0x110000 - 0x800  # every code point but the surrogates
    assert len(FOLDED_EACH) == len(ASSIGNED), "no character folds into the separator or swallows it"


def test_every_code_point_folds_the_same_in_slugs_import_matching_and_search():
    everything = [SEPARATOR, *ASSIGNED]
    assert slug_path(TEXT) == (letters(FOLDED, "-") or "san-pham"), differing(
        slug_path, lambda c: letters(analysis.fold(c), "-") or "san-pham", everything)
    assert importing._key(TEXT) == letters(FOLDED, " "), differing(
        importing._key, lambda c: letters(analysis.fold(c), " "), everything)
    # Unassigned and private-use code points: search keeps them as they are, slugs and imports drop them.
    assert analysis.fold(REST) == REST
    assert (slug_path(REST), importing._key(REST)) == ("san-pham", "")
    assert (analysis.fold(SEPARATOR), slug_path(SEPARATOR), importing._key(SEPARATOR)) == (SEPARATOR, "san-pham", "")


def test_every_character_gives_the_same_words_to_the_index_the_query_and_the_highlight():
    changed = SEPARATOR.join(CHANGED)
    indexed = analysis.folded_words(changed)
    # A query folds each word as written (query.parse); a highlight folds each word of the stored text.
    queried = [word for word in fold("\n".join(analysis.exact_words(changed))).split("\n") if word]
    assert queried == indexed, differing(
        lambda c: [w for w in map(fold, analysis.exact_words(c)) if w], analysis.folded_words, CHANGED)
    highlighted = [word for _start, _end, word in analysis.iter_word_spans(analysis.nfc(changed)) if word]
    assert highlighted == indexed, differing(
        lambda c: [w for _s, _e, w in analysis.word_spans(analysis.nfc(c)) if w], analysis.folded_words, CHANGED)
    assert [token.text for token in analysis.FOLDING(changed)] == indexed


def test_folding_is_idempotent_and_leaves_no_diacritic():
    assert fold(FOLDED) == FOLDED
    assert set(FOLDED).isdisjoint(DIACRITICS)
    assert all(value is None or re.fullmatch(r"[a-z0-9]", value) for value in FOLD_TABLE.values())


# The characters that fold differently from the old search folding, on purpose:
CHANGED_ON_PURPOSE = {
    "İ": "i",  # lower() gives "i" + U+0307, whose dot is now removed (it split the word)
    "Ə": "e", "ə": "e", "Ᵽ": "p", "ᵽ": "p",  # accent_map lists the capitals only, and lower() came first
    "\u2adc": "\u2add",  # FORKING: NFC gives U+2ADD + U+0338, whose stroke is removed
}


def test_letters_fold_as_search_folded_them_with_whoosh_accent_map():
    changed = {}
    for character, folded, old in zip(ASSIGNED, FOLDED_EACH, old_search_fold(TEXT).split(SEPARATOR)):
        if folded != old:
            changed[character] = folded
    diacritics = changed.keys() & DIACRITICS
    # A diacritic that NFC left alone is removed; accent_map kept most and made seven of them letters
    # (U+0303 → "p", U+0308 → "t"...): "m" + U+0303 folded to "mp".
    assert all(changed[c] == "" for c in diacritics)
    assert old_search_fold("m\u0303a") == "mpa" and fold("m\u0303a") == "ma"
    assert {c: f for c, f in changed.items() if c not in diacritics} == CHANGED_ON_PURPOSE


def test_every_letter_made_of_an_ascii_letter_and_diacritics_folds_to_that_letter():
    decomposed = unicodedata.normalize("NFD", TEXT).split(SEPARATOR)
    checked = 0
    for character, parts, folded in zip(ASSIGNED, decomposed, FOLDED_EACH):
        base, marks = parts[0], parts[1:]
        if marks and base.isascii() and base.isalpha() and DIACRITICS.issuperset(marks):
            assert folded == base.lower(), f"U+{ord(character):04X}"
            checked += 1
    assert checked > 400  # 489 in Unicode 14


VOWELS = {"a": "aăâ", "e": "eê", "i": "i", "o": "oôơ", "u": "uư", "y": "y"}
TONES = ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")  # ngang, huyền, sắc, ngã, hỏi, nặng


@pytest.mark.parametrize("plain, vowels", VOWELS.items())
def test_every_vietnamese_vowel_with_every_tone_folds_to_its_plain_letter_on_every_path(plain, vowels):
    for vowel in vowels:
        for tone in TONES:
            for letter in (vowel + tone, (vowel + tone).upper()):
                composed = unicodedata.normalize("NFC", letter)
                for written in (composed, unicodedata.normalize("NFD", letter)):
                    assert fold(written) == plain
                    assert slugify(f"x{written}x") == f"x{plain}x"
                    assert importing._key(f"x{written}x") == f"x{plain}x"
                    assert analysis.folded_words(f"x{written}x") == [f"x{plain}x"]
                    assert [fold(w) for w in analysis.exact_words(f"x{written}x")] == [f"x{plain}x"]


@pytest.mark.parametrize("letter", ["đ", "Đ", "ð", "Ð"])  # Ð (U+00D0, the Icelandic eth) is often typed for Đ
def test_d_with_stroke_folds_to_d_on_every_path(letter):
    assert fold(f"{letter}ậu phộng") == "dau phong"
    assert slugify(f"{letter}ậu phộng") == "dau-phong"
    assert importing._key(f"{letter}ậu phộng") == "dau phong"
    assert analysis.folded_words(f"{letter}ậu phộng") == ["dau", "phong"]


def test_the_slug_of_the_issue():
    assert slugify("Ðậu phộng") == "dau-phong"


@pytest.mark.parametrize("written, slug", [
    ("Mật ong rừng Bắc Sơn", "mat-ong-rung-bac-son"),
    ("ĐẶC SẢN Điện Biên: gạo Séng Cù", "dac-san-dien-bien-gao-seng-cu"),
    ("Nước mắm Phú Quốc 40°N", "nuoc-mam-phu-quoc-40-n"),
    ("Chè Shan tuyết cổ thụ – Hà Giang", "che-shan-tuyet-co-thu-ha-giang"),
    ("Bưởi Diễn, Quýt Bắc Kạn, Ổi Đông Dư", "buoi-dien-quyt-bac-kan-oi-dong-du"),
    ("Ｍật ong ２０２６", "mat-ong-2026"),  # fullwidth letters and digits, as some keyboards type them
])
def test_vietnamese_samples(written, slug):
    for form in ("NFC", "NFD"):
        assert slugify(unicodedata.normalize(form, written)) == slug
        assert importing._key(unicodedata.normalize(form, written)) == slug.replace("-", " ")
        assert analysis.folded_words(unicodedata.normalize(form, written)) == slug.split("-")


def test_a_text_without_letters_or_digits_has_the_default_slug():
    assert (slugify(""), slugify(None), slugify("★ ♥ —")) == ("san-pham", "san-pham", "san-pham")


def test_a_diacritic_nfc_cannot_attach_stays_in_its_word_everywhere():
    written = "Cà phê g\u0303o"  # g + combining tilde: no precomposed letter
    assert analysis.exact_words(written) == ["cà", "phê", "g\u0303o"]
    assert analysis.folded_words(written) == ["ca", "phe", "go"]
    assert slugify(written) == "ca-phe-go"
    assert [word for _s, _e, word in analysis.word_spans(written)] == ["ca", "phe", "go"]
