"""Vietnamese text analysis: how product text and queries become index terms.

Two forms of every word:
- folded: marketplace.text.fold, the one folding table of the marketplace (NFC, lower case, diacritics
  removed as whoosh's accent_map removes them: "Đậu" → "dau"), so buyers who type without diacritics on
  a phone find everything, and a slug, an import and the index agree on every character;
- exact: NFC and lower case only ("Đậu" → "đậu"), so "dâu" can rank "Dâu tây" above "Đậu" and "Dầu".

NFC comes first: text typed on some keyboards arrives decomposed ("o" + U+0302 + U+0301), and a
combining mark is not a word character, so "Nông" would otherwise split into pieces. A combining
diacritic that NFC cannot attach to a letter stays inside its word (WORD) and folding removes it.
"""
import re

from whoosh.analysis import Token, Tokenizer

from marketplace.text import FOLD_TABLE, WORD_CHARACTERS, fold, nfc

# A word of unfolded text: a diacritic left over after NFC ("m" + U+0303) belongs to its word, which
# folding keeps whole ("m̃a" → "ma"). Folded text has no diacritics left, so plain \w+ splits it the same
# way, faster: the folded fields are most of what a rebuild analyses.
WORD = re.compile(f"[{WORD_CHARACTERS}]+")
FOLDED_WORD = re.compile(r"\w+")


def exact(text):
    """Lower case with diacritics kept: "Dâu Tây" → "dâu tây"."""
    return nfc(text).lower()


def words(text):
    """The words of a text, as written (after NFC)."""
    return WORD.findall(nfc(text))


def folded_words(text):
    return FOLDED_WORD.findall(fold(text))


def exact_words(text):
    return WORD.findall(exact(text))


def iter_word_spans(text):
    """(start, end, folded word) for each word of an NFC text, lazily: for highlighting the original text."""
    for match in WORD.finditer(text):
        yield match.start(), match.end(), match.group(0).lower().translate(FOLD_TABLE)


def word_spans(text):
    return list(iter_word_spans(text))


class VietnameseTokenizer(Tokenizer):
    """A whoosh analyzer in one step: normalise the whole text once, then split it into words.

    Normalising the whole string before splitting is several times faster than whoosh's per-token
    filters, which matters for a full rebuild. Character offsets refer to the normalised text;
    highlighting re-reads the stored text with word_spans() instead.
    """

    def __init__(self, folding=True):
        self.folding = folding

    def __eq__(self, other):
        return type(self) is type(other) and self.folding == other.folding

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        text, word = (fold(value), FOLDED_WORD) if self.folding else (exact(value), WORD)
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        matches = word.finditer(text) if tokenize else [None]
        for position, match in enumerate(matches):
            token.text = match.group(0) if match else text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = token.text
            if positions:
                token.pos = start_pos + position
            if chars:
                token.startchar = start_char + (match.start() if match else 0)
                token.endchar = start_char + (match.end() if match else len(text))
            yield token


FOLDING = VietnameseTokenizer(folding=True)
EXACT = VietnameseTokenizer(folding=False)
