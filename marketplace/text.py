"""Vietnamese without diacritics: the one folding table that slugs, import matching and the search index
share, so a character folds the same everywhere ("Ðậu" is "dau" in a slug and in a query).

fold() is NFC, then str.lower(), then FOLD_TABLE:
- every Latin letter that decomposes into an ASCII letter and combining diacritics folds to that letter:
  all Vietnamese vowels with all tones ("ặ" → "a", "ữ" → "u"), and the other European accents;
- Latin letters with a stroke, a hook or a bar, which have no decomposition, fold as whoosh's accent_map
  (the search index's reference since its start) folds them: đ, ð (Ð is often typed for Đ) → d, ø → o,
  ł → l, ß → s, þ → t...; fullwidth letters and digits fold to ASCII;
- combining diacritics that NFC could not attach to a letter ("m" + U+0303) are removed, so the rest of
  the word stays one word (WORD_CHARACTERS counts them as part of a word).
Other scripts (Greek, Cyrillic, Thai, CJK...) are left as they are: lower case only.

Only marketplace/search/ imports whoosh, so the table is built here from unicodedata and the explicit
list below; tests/test_text_folding.py checks it against whoosh's accent_map and over every code point.
"""
import re
import unicodedata

# The blocks of combining diacritics, the marks that accent Latin letters (Vietnamese tones, hooks, horns).
COMBINING_DIACRITICS = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))

# Lower-case Latin letters without a decomposition into an ASCII letter, by the letter they fold to,
# as in whoosh's accent_map (plus ə and ᵽ, whose upper-case forms it lists).
OTHER_LATIN = {
    "a": "ǣǽẚⱥ", "b": "ƀƃɓᵬ", "c": "ƈȼɕ", "d": "ðđƌȡɖɗᵭ", "e": "ǝəɇɚɝ", "f": "ƒᵮ", "g": "ǥɠ", "h": "ħⱨ",
    "i": "ıɨ", "j": "ȷɉɟʄʝ", "k": "ƙⱪ", "l": "ŀłƚȴɫɬɭⱡ", "m": "ɱ", "n": "ƞȵɲɳ", "o": "øǿɵ", "p": "ƥᵽ",
    "q": "ɋʠ", "r": "ɍɼɽɾᵲᵳ", "s": "ßʂẛ", "t": "þŧƫƭȶʈᵵⱦ", "u": "ʉ", "v": "ʋ", "y": "ƴɏʏ", "z": "ƶƺǯȥʐʑⱬ",
}

# Where precomposed Latin letters live: Latin-1 Supplement to Latin Extended Additional.
_PRECOMPOSED_LATIN = range(0x00C0, 0x2000)


def _is_diacritic(character):
    return any(start <= ord(character) <= end for start, end in COMBINING_DIACRITICS)


def _fold_table():
    table = {code: None for start, end in COMBINING_DIACRITICS for code in range(start, end + 1)}
    for code in _PRECOMPOSED_LATIN:
        letter = chr(code)
        base, *marks = unicodedata.normalize("NFD", letter)
        if marks and letter == letter.lower() and base.isascii() and base.isalpha() and all(map(_is_diacritic, marks)):
            table[code] = base
    for plain, letters in OTHER_LATIN.items():
        table.update((ord(letter), plain) for letter in letters)
    fullwidth = [*range(ord("０"), ord("９") + 1), *range(ord("ａ"), ord("ｚ") + 1)]
    table.update((code, chr(code - 0xFEE0)) for code in fullwidth)
    return table


FOLD_TABLE = _fold_table()

# A regular expression class of the characters a word is made of: \w and the combining diacritics.
WORD_CHARACTERS = r"\w" + "".join(f"\\u{start:04x}-\\u{end:04x}" for start, end in COMBINING_DIACRITICS)


def nfc(text):
    return unicodedata.normalize("NFC", text or "")


def fold(text):
    """Lower case without diacritics: "Đậu phộng" → "dau phong"."""
    return nfc(text).lower().translate(FOLD_TABLE)


def slugify(text, max_length=170):
    """An ASCII URL slug: "Mật ong rừng Bắc Sơn" → "mat-ong-rung-bac-son"."""
    slug = re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")
    return slug[:max_length].rstrip("-") or "san-pham"
