"""Fast reads from whoosh segments: postings as sets of document numbers, per-document numbers,
facet value sets. query.py evaluates queries with C-speed set and dict operations on these.

A segment's documents never change once written (only its deletions grow), so what is derived
from a segment is computed once per process and kept in a small cache keyed by segment id: a
reopened searcher after an edit re-reads only the new, small segment. These caches hold index
structures (like Lucene's per-segment filter bitsets), never query results: every search still
reads its terms' postings.

The one exception is a bounded LRU of the decoded postings of frequent terms (frequent_postings):
words like "sạch", "loại", "htx" or a province are read by most broad or filtered queries, and
decoding their blocks again each time was a sixth of a search. It holds what is on disk, keyed by
segment, field and term, never results: every search still intersects and scores them itself.
"""
import threading
from bisect import bisect_left
from collections import OrderedDict
from datetime import datetime
from itertools import accumulate, chain
from zoneinfo import ZoneInfo

from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.reading import TermNotFound

from marketplace.search.schema import PACKED
from marketplace.text import fold

EMPTY = frozenset()
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_CACHED_SEGMENTS = 64
PUBLISHED_BITS = 34  # Unix seconds fit until the year 2514
ID_BITS = 32
KEPT_DAYS = 2  # SegmentData.stars(): days whose star data stays computed

_cache = OrderedDict()
_cache_lock = threading.Lock()

FREQUENT_TERM = 256  # documents of a segment: a term in at least this many has its postings kept
# Document numbers in the LRU, all segments: about 40 bytes each (a set slot and a half; the numbers
# themselves are shared, _shared_numbers), so some 100 MB at most. 2.5 million hold the frequent words
# of the search benchmark's 240 queries at 50,000 products (2.1 million); at 1 million the LRU dropped a
# frequent word before it was asked again and every search decoded four times what it kept.
MAX_CACHED_POSTINGS = 2_500_000
_postings = OrderedDict()  # (segment id, size, field, term) → frozenset of document numbers
_postings_size = 0
_postings_lock = threading.Lock()
_numbers = ()  # _shared_numbers(): the int objects 0, 1, 2, ... that every kept set points to


def chunks(reader, fieldname, text, info=None):
    """The term's document numbers (local to this segment, deleted ones included), a block at a time.
    `info` is the term's TermInfo when known (from Vocabulary), saving a look-up on disk."""
    field = reader.schema[fieldname]
    if info is None:
        info = term_info(reader, fieldname, text)
        if info is None:
            return
    if info.is_inlined():  # short postings live in the term dictionary itself
        yield info.inlined_postings()[0]
        return
    offset, length = info.extent()
    matcher = W3LeafMatcher(reader._terms._postfile, offset, length, field.format)
    # whoosh decodes document numbers one by one in a Python generator; a block's numbers are
    # delta-encoded, so itertools.accumulate() decodes a whole block at C speed instead.
    while matcher.is_active():
        matcher._read_data()
        deltas = matcher._data[0]
        yield deltas if matcher._byteids else accumulate(deltas)
        matcher._next_block()


def term_info(reader, fieldname, text):
    """The term's TermInfo in the segment, read from the term table on disk; None when absent."""
    try:
        return reader._terms.term_info(fieldname, reader.schema[fieldname].to_bytes(text))
    except (KeyError, TermNotFound):
        return None


def postings(reader, fieldname, text, info=None):
    """The set of document numbers (local to this segment, deleted ones included) having the term."""
    found = set()
    for chunk in chunks(reader, fieldname, text, info):
        found.update(chunk)
    return found


def frequent_postings(reader, fieldname, text, info):
    """The term's document numbers as a frozenset, kept in the process's LRU, when the term is in at
    least FREQUENT_TERM documents of the segment; None for a rarer term (read it with chunks())."""
    global _postings_size
    if info.doc_frequency() < FREQUENT_TERM:
        return None
    key = (reader.segment().segment_id(), reader.doc_count_all(), fieldname, text)
    with _postings_lock:
        found = _postings.get(key)
        if found is not None:
            _postings.move_to_end(key)
            return found
    numbers = _shared_numbers(reader.doc_count_all())
    found = frozenset(map(numbers.__getitem__, chain.from_iterable(chunks(reader, fieldname, text, info))))
    with _postings_lock:
        if key not in _postings:
            _postings[key] = found
            _postings_size += len(found)
            while _postings_size > MAX_CACHED_POSTINGS and len(_postings) > 1:
                _key, dropped = _postings.popitem(last=False)
                _postings_size -= len(dropped)
    return found


def _shared_numbers(size):
    """A tuple of the ints 0 .. size-1 at least. Python makes a new object for every decoded number
    above 256 (28 bytes each); the kept sets point to these shared ones instead, which saves about 40 %
    of the LRU's memory."""
    global _numbers
    numbers = _numbers
    if len(numbers) < size:
        with _postings_lock:
            if len(_numbers) < size:
                _numbers = _numbers + tuple(range(len(_numbers), max(size, 2 * len(_numbers))))
            numbers = _numbers
    return numbers


class Vocabulary:
    """The words of one field of one segment, in memory: {word: TermInfo}, sorted, and their letters.

    Typo variants and completions are looked up here instead of walking the on-disk term table
    (a binary search of the file per step): the vocabulary of product names is small."""

    def __init__(self, reader, fieldname):
        field = reader.schema[fieldname]
        self.terms = {field.from_bytes(btext): info for btext, info in reader.iter_field(fieldname)}
        self.sorted = sorted(self.terms)
        self.alphabet = "".join(sorted(set().union(*self.terms))) if self.terms else ""
        self._spellings = None  # spellings(): {folded word: [words]}, made when first asked
        self._deletions = None  # within_two_edits(): {word with up to two letters deleted: [words]}

    def frequency(self, word):
        info = self.terms.get(word)
        return info.doc_frequency() if info is not None else 0

    def one_edit(self, word):
        """Words one insertion, deletion or substitution away from `word` (itself excluded)."""
        splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
        letters = self.alphabet
        candidates = {head + tail[1:] for head, tail in splits if tail}
        candidates.update(head + c + tail[1:] for head, tail in splits if tail for c in letters)
        candidates.update(head + c + tail for head, tail in splits for c in letters)
        candidates.discard(word)
        return candidates & self.terms.keys()

    def within_two_edits(self, word):
        """Candidates for the words within two edits of `word`: every word within two edits is among
        them, with some farther ones (check each with an edit distance). Symmetric deletions
        (SymSpell): two words within two edits become the same string once at most two letters are
        deleted from each, so the deletions of every word of the field are indexed once (when first
        asked: some 10 keys a word, under 1 MB for the bench's 50,000 products), and a query looks up
        its own: some fifty dictionary look-ups instead of walking a Levenshtein automaton over the
        vocabulary (7 to 20 ms per field and word in Python at 20,000 products)."""
        if self._deletions is None:
            index = {}
            for term in self.sorted:
                for deleted in _deletions(term):
                    index.setdefault(deleted, []).append(term)
            self._deletions = index
        found = set()
        for deleted in _deletions(word):
            found.update(self._deletions.get(deleted, ()))
        return found

    def spellings(self, folded):
        """The words of this (accent-keeping) field that fold to `folded`: "đen", "đèn" for "den"."""
        if self._spellings is None:
            found = {}
            for term in self.sorted:
                found.setdefault(fold(term), []).append(term)
            self._spellings = found
        return self._spellings.get(folded, ())

    def prefixed(self, prefix, limit):
        """Up to `limit` words starting with `prefix`, in order."""
        start = bisect_left(self.sorted, prefix)
        found = []
        for term in self.sorted[start:start + limit]:
            if not term.startswith(prefix):
                break
            found.append(term)
        return found


def _deletions(word):
    """`word` and every string made by deleting one or two of its letters."""
    once = {word[:i] + word[i + 1:] for i in range(len(word))}
    twice = {shorter[:i] + shorter[i + 1:] for shorter in once for i in range(len(shorter))}
    return once | twice | {word}


class SegmentData:
    """What one segment says about its documents, computed once."""

    def __init__(self, reader):
        self.size = reader.doc_count_all()
        self.pids, self.price, self.published, self.name_len = _packed_columns(reader, self.size)
        # Sort keys as single integers, so heapq can take list.__getitem__ (a C call) as the key.
        self.price_key = [(p << ID_BITS) | i for p, i in zip(self.price, self.pids)]
        self.newest_key = [(t << ID_BITS) | i for t, i in zip(self.published, self.pids)]
        self._facets = {}
        self._vocabularies = {}
        self._stars = {}
        self._live = (None, None)
        self._lock = threading.Lock()

    def live(self, reader):
        """Document numbers not deleted (deletions only grow, so the live count identifies them)."""
        count = reader.doc_count()
        known_count, known = self._live
        if known_count != count:
            known = frozenset(range(self.size))
            if count != self.size:
                known = known - reader.deleted_docs_set
            self._live = (count, known)
        return known

    def vocabulary(self, reader, fieldname):
        found = self._vocabularies.get(fieldname)
        if found is None:
            found = Vocabulary(reader, fieldname)
            with self._lock:
                self._vocabularies[fieldname] = found
        return found

    def values(self, reader, fieldname):
        """{value: set of document numbers} of an ID/KEYWORD field (deleted documents included)."""
        found = self._facets.get(fieldname)
        if found is None:
            found = {}
            field = reader.schema[fieldname]
            for btext in reader.lexicon(fieldname):
                text = field.from_bytes(btext)
                found[text] = frozenset(postings(reader, fieldname, text))
            with self._lock:
                self._facets[fieldname] = found
        return found

    def stars(self, reader, today):
        """Per-document data that depends on the day, because certificates past their expiry date
        stop counting at once (before the daily `flask catalog expire-certificates` run):
        ({stars: document numbers}, browse key, relevance tie key, facet ids (see below)).
        """
        found = self._stars.get(today)
        if found is None:
            best = [0] * self.size
            limit = today.strftime("%Y%m%d")
            for value, docs in self.values(reader, "ocop").items():
                stars, _, expires = value.partition("-")
                if expires >= limit:
                    stars = int(stars)
                    for docnum in docs:
                        if best[docnum] < stars:
                            best[docnum] = stars
            by_stars = {}
            for docnum, stars in enumerate(best):
                if stars:
                    by_stars.setdefault(stars, set()).add(docnum)
            # Browsing (no query words) and "stars" sorting: stars, then recency, then id.
            browse_key = [(s << (PUBLISHED_BITS + ID_BITS)) | k for s, k in zip(best, self.newest_key)]
            # Relevance ties: a shorter name is a closer match, then stars, then recency.
            tie_key = [((64 - min(n, 63)) << 80) | k for n, k in zip(self.name_len, browse_key)]
            facet_key = self._facet_combinations(reader, best)
            found = ({s: frozenset(d) for s, d in by_stars.items()}, browse_key, tie_key, facet_key)
            with self._lock:
                # Today's and the day before's: callers may disagree on the date for some hours
                # (the bench's UTC date, the web's Vietnamese date); one entry made them rebuild
                # this on every alternating call.
                kept = sorted(self._stars.items())[-(KEPT_DAYS - 1):] if KEPT_DAYS > 1 else []
                self._stars = {**dict(kept), today: found}
        return found

    def _facet_combinations(self, reader, stars):
        """Facet values of each document as two small integers: an id of its (category, province,
        stars, cooperative type) combination, and an id of its set of certifications. Counting
        these ints over the matching documents is one C-speed pass each (collections.Counter)."""
        columns = {}
        for name in ("category", "province", "cooperative_type"):
            column = [""] * self.size
            for value, docs in self.values(reader, name).items():
                for docnum in docs:
                    column[docnum] = value
            columns[name] = column
        certifications = [()] * self.size
        for value, docs in sorted(self.values(reader, "certification").items()):
            for docnum in docs:
                certifications[docnum] += (value,)
        combos, combo_ids = _interned(zip(columns["category"], columns["province"], stars, columns["cooperative_type"]))
        sets, set_ids = _interned(certifications)
        return combo_ids, combos, set_ids, sets


def _interned(values):
    """(distinct values, the id of each value in that list)."""
    ids, distinct = {}, []
    numbers = []
    for value in values:
        number = ids.get(value)
        if number is None:
            number = ids[value] = len(distinct)
            distinct.append(value)
        numbers.append(number)
    return distinct, numbers


def _packed_columns(reader, size):
    rows = []
    if reader.has_column("packed"):
        column = reader.column_reader("packed", translate=False)
        try:  # one read of the whole column instead of one struct.unpack per document
            data = column._dbfile.get(column._basepos, column._count * PACKED.size)
            rows = list(PACKED.iter_unpack(data))
        except AttributeError:
            rows = [PACKED.unpack(column[docnum]) for docnum in range(size)]
    rows.extend([(0, 0, 0, 0)] * (size - len(rows)))  # trailing documents without a value
    if not rows:
        return [], [], [], []
    return tuple(list(column) for column in zip(*rows))


def leaf_readers(searcher):
    """(segment reader, document number offset) of each non-empty segment."""
    return [(reader, offset) for reader, offset in searcher.reader().leaf_readers() if reader.doc_count_all()]


def segment_data(reader):
    """The cached SegmentData of a segment reader."""
    key = (reader.segment().segment_id(), reader.doc_count_all())
    with _cache_lock:
        data = _cache.get(key)
        if data is not None:
            _cache.move_to_end(key)
            return data
    data = SegmentData(reader)
    with _cache_lock:
        _cache[key] = data
        while len(_cache) > MAX_CACHED_SEGMENTS:
            _cache.popitem(last=False)
    return data


def today_default():
    """Today in Vietnam, where certificates expire at the end of the local day."""
    return datetime.now(VIETNAM).date()
