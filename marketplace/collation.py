"""Vietnamese alphabetical order for lists people read (province and commune names, filter options).

`vietnamese_sort_key(text)` orders strings as a Vietnamese dictionary does, the order of CLDR's Vietnamese
collation (ICU's "vi"), for the letters and marks Vietnamese uses:
- letters: a ă â b c d đ e ê f g h i j k l m n o ô ơ p q r s t u ư v w x y z; ă, â, đ, ê, ô, ơ and ư
  are letters of their own, so "Đà Nẵng" comes after every name in D and "Lâm Đồng" after "Lào Cai";
- tones only break ties between words whose letters are equal (a secondary difference), in the order
  unmarked, huyền (à), hỏi (ả), ngã (ã), sắc (á), nặng (ạ): "Hà Nội" comes before "Huế" (a < u), and
  "ma" < "mà" < "mả" < "mã" < "má" < "mạ";
- case breaks the last ties (lower case first); spaces and punctuation come before digits, digits before
  letters, so "Cà Mau" comes before "Cao Bằng" (the space after "Ca" before the "o").

Why not ICU: PyICU needs the ICU headers and a compiler (its wheels are unofficial repackagings), and the
Unicode Collation Algorithm alone (pyuca) sorts đ with d and ă, â with a. The rules above are the whole of
the Vietnamese tailoring for Vietnamese text; tests/test_collation.py holds the examples.
"""
import unicodedata

ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
LETTER_RANK = {letter: rank for rank, letter in enumerate(ALPHABET)}

# Combining marks (breve, circumflex, horn) that make a letter of its own with the base letter before them.
LETTER_WITH_MARK = {("a", "\u0306"): "ă", ("a", "\u0302"): "â", ("e", "\u0302"): "ê", ("o", "\u0302"): "ô",
                    ("o", "\u031b"): "ơ", ("u", "\u031b"): "ư"}
# The five tone marks in dictionary order (0 is the unmarked level tone, "ngang").
TONE_RANK = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
OTHER_MARK_RANK = 10  # marks Vietnamese does not use (é of a French name, ü): after the tones

# Primary groups, as in the Unicode Collation Algorithm: spaces and punctuation < digits < letters < the rest.
SPACE_OR_PUNCTUATION, DIGIT, LETTER, OTHER = range(4)


def vietnamese_sort_key(text):
    """A key for sorted(): primary (letters), then secondary (tones and other marks), then case."""
    primary, secondary, tertiary = [], [], []
    for letter, marks, upper in _letters(text):
        primary.append(_primary_weight(letter))
        secondary.append(tuple(sorted(TONE_RANK.get(mark, OTHER_MARK_RANK + ord(mark)) for mark in marks)))
        tertiary.append(1 if upper else 0)
    return tuple(primary), tuple(secondary), tuple(tertiary)


def _letters(text):
    """(base letter, other combining marks, was upper case) for each character of `text`, after NFD; a
    letter-making mark (breve, circumflex, horn) is joined to its letter: ("ê", ["\u0301"], False) for "ế"."""
    letters = []
    for character in unicodedata.normalize("NFD", text):
        if unicodedata.combining(character) and letters:
            base, marks, upper = letters[-1]
            joined = LETTER_WITH_MARK.get((base, character))
            if joined:
                letters[-1] = (joined, marks, upper)
            else:
                marks.append(character)
            continue
        lower = character.lower()
        letters.append((lower, [], lower != character))
    return letters


def _primary_weight(letter):
    if letter in LETTER_RANK:
        return LETTER, LETTER_RANK[letter]
    if letter.isdigit():
        return DIGIT, unicodedata.digit(letter, 0), ord(letter)
    if letter.isspace() or unicodedata.category(letter).startswith(("P", "S", "Z")):
        return SPACE_OR_PUNCTUATION, ord(letter)
    return OTHER, ord(letter)
