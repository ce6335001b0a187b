"""The index's fields. Few fields are searched (name, name_exact, meta, description); the others
serve filters, facets and sorting, and are read per segment once, not per query.

Changing this schema, or how text becomes terms (analysis.py, marketplace/text.py's folding table),
changes what is on disk: bump SCHEMA_VERSION so `flask search check` reports the old index and
`flask search rebuild` replaces it.
"""
import struct

from whoosh import columns, formats
from whoosh.fields import COLUMN, ID, KEYWORD, STORED, TEXT, Schema

from marketplace.search.analysis import EXACT, FOLDING

SCHEMA_VERSION = 3  # 3: one folding table (leftover combining diacritics folded away, ə → e, ᵽ → p)

# Per-document numbers, packed in one fixed-width column so a segment's values load in one read:
# product id, "price from" in VND, publication time (Unix seconds), number of words in the name.
PACKED = struct.Struct("!qqqq")


class Words(TEXT):
    """A searched text field that records only which documents contain a term.

    Ranking is by the rules in query.py (words matched, typos, field, diacritics), not by term
    frequencies, so postings without frequencies or lengths are enough: smaller and faster.
    """

    def __init__(self, analyzer, stored=False):
        super().__init__(analyzer=analyzer, phrase=False, stored=stored)
        self.format = formats.Existence()
        self.scorable = False


def build_schema():
    return Schema(
        id=ID(unique=True, stored=True),  # the product id, as text (update_document's key)
        # Searched: folded name (Vietnamese and English), exact name, other words, description.
        name=Words(FOLDING),
        name_exact=Words(EXACT),
        name_first=ID(),  # the folded first word of the name: "starts with the query" ranks higher
        meta=Words(FOLDING),  # category words, cooperative name and type, province, certifications
        pairs=KEYWORD(),  # adjacent folded words of the name and meta: "nong_san" (documents.word_pairs)
        description=Words(FOLDING, stored=True),
        # Filters and facets: each value's postings are the set of documents having it.
        category=ID(),
        province=ID(),
        certification=KEYWORD(),
        cooperative_type=ID(),
        ocop=KEYWORD(),  # "<stars>-<YYYYMMDD expiry>" of each verified certificate
        packed=COLUMN(columns.FixedBytesColumn(PACKED.size)),
        # Shown in snippets and used by `flask search check`.
        name_vi=STORED(),
        name_en=STORED(),
        cooperative=STORED(),
        fingerprint=STORED(),
    )


SCHEMA = build_schema()
SEARCHED_FIELDS = ("name", "meta", "description")
FACET_FIELDS = ("category", "province", "stars", "certification", "cooperative_type")
