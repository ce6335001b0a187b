"""Searching: query words → matching products, ranked, with facet counts, highlights and hints.

Ranking follows the rules buyers know from Algolia and Meilisearch, in this order:
1. more query words matched (only differs when the query falls back to partial matches);
2. fewer typos;
3. query words side by side in the product's text ("nông sản" as one word, not two syllables apart);
4. the field a word matched in: name (Vietnamese or English) > category, cooperative, province,
   certifications > description;
5. exact diacritics: "dâu" ranks "Dâu tây" above "Đậu" and "Dầu";
6. the name starts with the first query word; a shorter name (a closer match);
7. only then OCOP stars, recency and the product id break ties: they never beat relevance.

Typo tolerance: a word of 5+ letters also matches words one edit away (a wrong, missing or extra
letter) in names and the other short fields, 9+ letters two edits (an index of deletions, SymSpell),
looked up in each segment's vocabulary. A query whose words do not all match falls back to partial
matches: products matching at least half of the words, one of them in the name (a product that only
shares a syllable with the query in its description or its cooperative's name is no related product:
"gao tam" must not bring "thịt trâu tẩm mắc khén"). Words of a buying request ("cần mua", "giá sỉ", "số
lượng lớn": request_words.py) are set aside first and reported in SearchResult.ignored. Each result
says how it matched (SearchResult.matches): ALL, TYPO or PARTIAL.

Facet counts are computed for every facet from the set of matching documents, each facet ignoring its
own filter so buyers see what they can switch to.

Evaluation works on sets and dicts of document numbers built from the postings at C speed
(segments.py), per segment; nothing here caches results.
"""
import heapq
import os
import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache, partial, reduce
from itertools import chain, repeat
from operator import add, lshift

from marketplace.search import index as search_index
from marketplace.search.analysis import exact_words, fold, iter_word_spans
from marketplace.search.request_words import request_positions
from marketplace.search.segments import (
    EMPTY,
    chunks,
    frequent_postings,
    leaf_readers,
    postings,
    segment_data,
    term_info,
    today_default,
)
from marketplace.text import FOLD_TABLE

SORTS = ("relevance", "price_asc", "price_desc", "stars", "newest")
FILTERS = ("category", "province", "stars", "certification", "cooperative_type")
MAX_QUERY_WORDS = 10
MAX_RESULTS = 1000  # the deepest result paging reaches; `total` still counts every match
MAX_VARIANTS = 12  # typo variants of one word in one field
TYPO_FIELDS = ("meta", "name")  # lowest score first
SNIPPET_CHARS = 160

# How a result matched the query's words (the API's `match`): every word, as typed or without diacritics;
# every word, some only through typo tolerance; only some of the words (a partial-match fallback).
ALL, TYPO, PARTIAL = "all", "typo", "partial"
NAME_FIELDS = ("name", "name_exact")  # a partial match must match one of its words here

# A word's score: base-100 digits, most significant first, so that summing over the query's words
# keeps the lexicographic order (words matched, typos, adjacent pairs, field, exact diacritics). Each
# pair of consecutive query words found side by side in the name or the other words adds PAIR.
WORD, NO_TYPO, PAIR, FIELD, EXACT = 10**8, 10**6, 10**4, 10**2, 1
NEAR_MISS, MIN_NEAR_MISS = PAIR, 3  # _Leaf._near_misses: an unknown word of 3+ letters
FIELD_RANK = {"name": 2, "meta": 1, "description": 0}
TIE_BITS = 96  # segments.SegmentData.stars(): tie keys are below 2**96


@dataclass(frozen=True)
class Word:
    folded: str  # "dau"
    exact: str  # "dâu"
    typos: int  # edits tolerated: 0, 1 (5+ letters) or 2 (9+ letters)


@dataclass
class SearchResult:
    ids: list  # product ids of the requested page, best first
    total: int  # every match, not only the reachable pages
    page: int
    per_page: int
    facets: dict  # {"category": {"fresh_produce": 12, ...}, "province": {"20": 3}, "stars": {"4": 2}, ...}
    highlights: dict = field(default_factory=dict)  # id → {"name": parts, "name_en": parts, "snippet": parts}
    suggestion: str | None = None  # "did you mean" query, with the index's diacritics, or None
    partial: bool = False  # True when no product matched every word
    terms: frozenset = frozenset()  # folded index words that matched (query words and typo variants)
    matches: dict = field(default_factory=dict)  # id → ALL, TYPO or PARTIAL, for the page's ids
    ignored: tuple = ()  # words of a buying request set aside ("cần", "mua", "giá", "sỉ"), as typed

    @property
    def pages(self):
        reachable = min(self.total, MAX_RESULTS)
        return max(1, -(-reachable // self.per_page))


def minimum_words(words):
    """Partial matches must match at least half of the query's words."""
    return (len(words) + 1) // 2


def allowed_typos(folded):
    return 2 if len(folded) >= 9 else 1 if len(folded) >= 5 else 0


def searched_words(words):
    """(words to search, words set aside as typed): the request words of request_words.py go aside."""
    aside = set(request_positions(words))
    return (tuple(word for i, word in enumerate(words) if i not in aside),
            tuple(word.exact for i, word in enumerate(words) if i in aside))


def match_kind(score, count):
    """ALL, TYPO or PARTIAL for a document's summed score (_Leaf.summed) over `count` query words."""
    if score // WORD < count:
        return PARTIAL
    return TYPO if score % WORD // NO_TYPO < 2 * count else ALL


@lru_cache(maxsize=512)
def parse(text):
    """The distinct words of a query (at most MAX_QUERY_WORDS), each in folded and exact form."""
    seen, words = set(), []
    for written in exact_words(text or "")[:MAX_QUERY_WORDS]:
        folded = fold(written)
        if folded and (folded, written) not in seen:
            seen.add((folded, written))
            words.append(Word(folded, written, allowed_typos(folded)))
    return tuple(words)


def _distance(a, b):
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def variants(vocabulary, word, maxdist):
    """Words of a segment's field within `maxdist` edits of `word` (itself excluded), as (distance,
    word), closest and then most frequent first, at most MAX_VARIANTS. One edit: the word's edit
    neighbourhood looked up in the vocabulary; two: the vocabulary's index of deletions, each
    candidate checked with an edit distance."""
    if maxdist == 1:
        found = [(1, -vocabulary.frequency(term), term) for term in vocabulary.one_edit(word)]
    else:
        distances = ((_distance(term, word), term) for term in vocabulary.within_two_edits(word) if term != word)
        found = [(distance, -vocabulary.frequency(term), term) for distance, term in distances if distance <= maxdist]
    found.sort()
    return [(distance, term) for distance, _frequency, term in found[:MAX_VARIANTS]]


# ---------------------------------------------------------------- per segment

class _Leaf:
    """One segment's share of a search.

    Each query word's ways of matching (its "layers": field, index word, score) are listed first,
    from the vocabulary alone. Their postings are then read rarest word first; when every word must
    match, a later word keeps only the documents the earlier ones matched, which for common words
    (HTX, sản, xuất...) is a set look-up instead of a dict insertion per posting. A partial-match
    fallback or a "did you mean" needs more of each word's documents: widen() reads them.
    """

    def __init__(self, reader, offset, words, today):
        self.reader, self.offset = reader, offset
        self.data = segment_data(reader)
        self.live = self.data.live(reader)
        self.stars_sets, self.browse_key, self.tie_key, self.facet_key = self.data.stars(reader, today)
        self.matched_terms = set()
        self._variants = {}  # variants(), for this search
        self.named = None  # after widen(): documents matching some query word in a name field
        self.layers = [self._layers(word) for word in words]
        self.has_typo_layers = any(score < WORD + 2 * NO_TYPO for layers in self.layers for *_rest, score in layers)
        self.scores = self._all_scores()
        # Ranking only, never required to match: the pairs of consecutive query words, and the unknown words
        # whose near misses rank names (_near_misses). Read when the documents to rank are known
        # (matching_all() or widen() set `ranked`), and only for those: ranking_scores().
        self.pairs = [f"{first.folded}_{second.folded}" for first, second in zip(words, words[1:])]
        self.unknown = [word for word, layers in zip(words, self.layers)
                        if not layers and len(word.folded) >= MIN_NEAR_MISS]
        self.ranked = None
        self._ranking = None

    def ranking_scores(self):
        """[{docnum: score}] of the adjacent pairs and near misses, among the documents to rank."""
        if self._ranking is None:
            self._ranking = []
            for term in self.pairs:
                info = term_info(self.reader, "pairs", term)
                if info is not None:
                    self._ranking.append(self._word_scores([("pairs", term, info, PAIR)], self.ranked))
            for word in self.unknown:
                self._ranking.append(self._near_misses(word))
            self._ranking = [scores for scores in self._ranking if scores]
        return self._ranking

    def _near_misses(self, word):
        """A word the segment does not know, too short for typo tolerance ("dden"), matches nothing,
        but among the partial matches the names holding a word one edit away ("đen") rank first,
        as a pair of adjacent words would: "thach dden" lists thạch đen before thạch trắng."""
        vocabulary = self.vocabulary("name")
        return self._word_scores([("name", term, vocabulary.terms[term], NEAR_MISS)
                                  for _distance, term in self.variants("name", word.folded, 1)], self.ranked)

    def _layers(self, word):
        """(field, index word, TermInfo, score) of each way `word` can match, lowest score first, so
        that writing them in order leaves each document's best. Typo variants are looked for in the
        names and the other short fields, not in descriptions (long texts whose many near-words
        would only add noise below the exact matches)."""
        layers = []
        for typos in range(word.typos, 0, -1):
            for fieldname in TYPO_FIELDS:
                vocabulary = self.vocabulary(fieldname)
                score = WORD + (2 - typos) * NO_TYPO + FIELD_RANK[fieldname] * FIELD
                layers.extend((fieldname, term, vocabulary.terms[term], score)
                              for distance, term in self.variants(fieldname, word.folded, typos) if distance == typos)
        for fieldname in ("description", "meta", "name"):
            info = self.vocabulary(fieldname).terms.get(word.folded)
            if info is not None:
                layers.append((fieldname, word.folded, info, WORD + 2 * NO_TYPO + FIELD_RANK[fieldname] * FIELD))
        if word.exact != word.folded:
            info = self.vocabulary("name_exact").terms.get(word.exact)
            if info is not None:
                layers.append(("name_exact", word.exact, info, WORD + 2 * NO_TYPO + 2 * FIELD + EXACT))
        self.matched_terms.update(term for fieldname, term, _info, _score in layers if fieldname != "name_exact")
        return layers

    def _all_scores(self):
        """{docnum: score} per query word when every word must match: read rarest word first, each
        word keeps only the documents of the words before it."""
        scores, candidates = [None] * len(self.layers), None
        for position in sorted(range(len(self.layers)), key=self.frequency):
            scores[position] = self._word_scores(self.layers[position], candidates)
            candidates = set(scores[position])
        return scores

    def _word_scores(self, layers, only=None):
        """{docnum: best score} of one word's layers (among `only` when given)."""
        scores = {}
        if only is not None and not only:
            return scores
        for fieldname, term, info, score in layers:
            docs = frequent_postings(self.reader, fieldname, term, info)
            if docs is not None:  # a frequent term, decoded once (an intersection walks the smaller set)
                scores.update(zip(docs if only is None else only.intersection(docs), repeat(score)))
                continue
            for chunk in chunks(self.reader, fieldname, term, info):
                scores.update(zip(chunk if only is None else only.intersection(chunk), repeat(score)))
        return scores

    def _named(self):
        """Documents matching some query word (or a typo variant of it) in a name field."""
        named = set()
        for layers in self.layers:
            for fieldname, term, info, _score in layers:
                if fieldname in NAME_FIELDS:
                    docs = frequent_postings(self.reader, fieldname, term, info)
                    for chunk in ((docs,) if docs is not None else chunks(self.reader, fieldname, term, info)):
                        named.update(chunk)
        return named

    def frequency(self, position):
        """Postings to read for the query word at `position` (its layers' documents, with repeats)."""
        return sum(info.doc_frequency() for _field, _term, info, _score in self.layers[position])

    def widen(self):
        """Score every word for the only documents a partial match may list: those with some query
        word in a name field (then matching_at_least() counts their words). Reading each word for
        these alone, instead of its whole postings, keeps a fallback as cheap as a full match."""
        if self.named is None:
            self.named = self.ranked = self._named()
            self._ranking = None
            self.scores = [self._word_scores(layers, self.named) for layers in self.layers]

    def vocabulary(self, fieldname):
        return self.data.vocabulary(self.reader, fieldname)

    def variants(self, fieldname, word, maxdist):
        """variants() of a word in one of the segment's fields, looked up once per search: the typo
        layers and "did you mean" ask for the same ones."""
        key = (fieldname, word, maxdist)
        found = self._variants.get(key)
        if found is None:
            found = self._variants[key] = variants(self.vocabulary(fieldname), word, maxdist)
        return found

    @property
    def has_deletions(self):
        return len(self.live) != self.data.size

    def matching_all(self):
        if not self.scores:
            return self.live
        keys = sorted((s.keys() for s in self.scores), key=len)
        found = set(keys[0])
        for more in keys[1:]:
            found = more & found  # a dict view & a smaller set walks the set
        if self.has_deletions:
            found &= self.live
        self.ranked = found
        return found

    def matching_at_least(self, count):
        """Documents matching `count` query words or more, one of them in the name (after widen())."""
        matched = Counter(chain.from_iterable(self.scores))  # each word's documents, all named ones
        found = {docnum for docnum, words in matched.items() if words >= count}
        if self.has_deletions:
            found &= self.live
        return found

    def summed(self, docs):
        """The query's score of each of `docs` (a list): the sum of its words' scores (C-speed maps)."""
        every = self.scores + self.ranking_scores()
        columns = [map(scores.get, docs, repeat(0)) for scores in every]
        return list(reduce(partial(map, add), columns[1:], columns[0]))

    def filter_set(self, name, value):
        if name == "stars":
            return self.stars_sets.get(int(value), EMPTY)
        return self.data.values(self.reader, name).get(str(value), EMPTY)

    def top(self, candidates, sort, count, starts):
        """The best `count` candidates of this segment as (key, global docnum); larger key = better,
        except for price_asc where smaller is better. Keys are single integers, comparable across
        segments."""
        data, offset = self.data, self.offset
        if sort == "price_asc":
            best = heapq.nsmallest(count, candidates, key=data.price_key.__getitem__)
            return [(data.price_key[d], offset + d) for d in best]
        if sort in ("price_desc", "newest", "stars") or not self.scores:
            key = {"price_desc": data.price_key, "newest": data.newest_key}.get(sort, self.browse_key)
            best = heapq.nlargest(count, candidates, key=key.__getitem__)
            return [(key[d], offset + d) for d in best]
        docs = list(candidates)
        # (score, starts with the first word, tie key) packed into one integer per document.
        relevance = map(add, map(lshift, self.summed(docs), repeat(1)), map(starts.__contains__, docs))
        keys = map(add, map(lshift, relevance, repeat(TIE_BITS)), map(self.tie_key.__getitem__, docs))
        return [(key, offset + d) for key, d in heapq.nlargest(count, zip(keys, docs))]


# ---------------------------------------------------------------- the search

def _searcher(index):
    if isinstance(index, (str, os.PathLike)):
        return search_index.searcher(index)
    return index  # an open whoosh Searcher


def _clean_filters(filters):
    cleaned = {}
    for name, value in (filters or {}).items():
        if name not in FILTERS:
            raise ValueError(f"unknown filter {name!r}; use one of {FILTERS}")
        if value not in (None, ""):
            cleaned[name] = str(value)
    return cleaned


def search(index, q="", filters=None, sort="relevance", page=1, per_page=20, today=None, highlight=True):
    """Search the index (a directory path, or an open whoosh Searcher) and return a SearchResult.

    `filters` maps any of FILTERS to one value each (stars: 3, 4 or 5, counting only certificates
    valid on `today`). An empty `q` lists every product matching the filters.
    Raises ValueError for an unknown filter or sort; index.IndexUnavailable when there is no index.
    """
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; use one of {SORTS}")
    filters = _clean_filters(filters)
    page, per_page = max(1, int(page)), max(1, int(per_page))
    today = today or today_default()
    searcher = _searcher(index)
    words, ignored = searched_words(parse(q))
    leaves = [_Leaf(reader, offset, words, today) for reader, offset in leaf_readers(searcher)]

    matched = [leaf.matching_all() for leaf in leaves]
    filtered = [_apply_filters(leaf, docs, filters) for leaf, docs in zip(leaves, matched)]
    partial = False
    if len(words) > 1 and not any(filtered):
        partial = True
        for leaf in leaves:
            leaf.widen()
        matched = [leaf.matching_at_least(minimum_words(words)) for leaf in leaves]
        filtered = [_apply_filters(leaf, docs, filters) for leaf, docs in zip(leaves, matched)]
    total = sum(len(docs) for docs in filtered)
    facets = _facets(leaves, matched, filters)

    start = (page - 1) * per_page
    wanted = min(start + per_page, MAX_RESULTS)
    docnums, best = [], None  # best: the summed score of the most relevant match, when ranked by relevance
    if start < wanted:
        ranked = []
        for leaf, docs in zip(leaves, filtered):
            if docs:
                ranked.extend(leaf.top(docs, sort, wanted, _starts(leaf, words)))
        order = heapq.nsmallest if sort == "price_asc" else heapq.nlargest
        docnums = [docnum for _key, docnum in order(wanted, ranked)][start:wanted]
        if sort == "relevance" and words and ranked:
            best = max(ranked)[0] >> (TIE_BITS + 1)

    terms = frozenset().union(*(leaf.matched_terms for leaf in leaves)) if leaves else frozenset()
    ids, highlights = [], {}
    for docnum in docnums:
        stored = searcher.stored_fields(docnum)
        product_id = int(stored["id"])
        ids.append(product_id)
        if highlight:
            highlights[product_id] = highlights_for(stored, terms)
    matches = dict(zip(ids, _match_kinds(leaves, docnums, words)))
    suggestion = None
    if words and (partial or not total or _best_kind(leaves, filtered, words, best) != ALL):
        suggestion = did_you_mean(leaves, words)
    return SearchResult(ids=ids, total=total, page=page, per_page=per_page, facets=facets,
                        highlights=highlights, suggestion=suggestion, partial=partial, terms=terms,
                        matches=matches, ignored=ignored)


def _starts(leaf, words):
    """Documents of the leaf whose name starts with the first query word."""
    return postings(leaf.reader, "name_first", words[0].folded) if words else EMPTY


def _leaf_of(leaves, docnum):
    """The leaf holding a global document number, and the number inside it."""
    position = bisect_right([leaf.offset for leaf in leaves], docnum) - 1
    return leaves[position], docnum - leaves[position].offset


def _match_kinds(leaves, docnums, words):
    """ALL, TYPO or PARTIAL for each of `docnums` (global), from the scores of their words."""
    if not words:
        return [ALL] * len(docnums)
    kinds = []
    for docnum in docnums:
        leaf, local = _leaf_of(leaves, docnum)
        kinds.append(match_kind(leaf.summed([local])[0], len(words)))
    return kinds


def _best_kind(leaves, filtered, words, best=None):
    """How the most relevant of the matches matched: ALL unless every match needed a typo. `best` is
    its summed score when the page was ranked by relevance; otherwise it is looked for, but only when
    some word matched through a typo variant at all."""
    if best is None:
        if not any(leaf.has_typo_layers for leaf in leaves):
            return ALL
        tops = [leaf.top(docs, "relevance", 1, _starts(leaf, words)) for leaf, docs in zip(leaves, filtered) if docs]
        best = max(chain.from_iterable(tops))[0] >> (TIE_BITS + 1)
    return match_kind(best, len(words))


def _apply_filters(leaf, docs, filters, skip=None):
    for name, value in filters.items():
        if name != skip and docs:
            docs = docs & leaf.filter_set(name, value)
    return docs


COMBO_FIELDS = ("category", "province", "stars", "cooperative_type")  # segments._facet_combinations


def _facets(leaves, matched, filters):
    """Counts per value of every facet. Each facet ignores its own filter (so a buyer sees the other
    categories while one is chosen); facets without an active filter share the counting passes."""
    counts = {name: Counter() for name in FILTERS}
    for leaf, docs in zip(leaves, matched):
        if not docs:
            continue
        combo_ids, combos, set_ids, sets = leaf.facet_key
        passes = {}  # skipped filter → (combination counts, certification-set counts)
        for name in FILTERS:
            skip = name if name in filters else None
            if skip not in passes:
                base = _apply_filters(leaf, docs, filters, skip=skip)
                passes[skip] = (Counter(map(combo_ids.__getitem__, base)) if base else {},
                                Counter(map(set_ids.__getitem__, base)) if base else {})
            by_combo, by_set = passes[skip]
            if name == "certification":
                for number, count in by_set.items():
                    for value in sets[number]:
                        counts[name][value] += count
            else:
                position = COMBO_FIELDS.index(name)
                for number, count in by_combo.items():
                    value = combos[number][position]
                    if value:
                        counts[name][str(value)] += count
    return {name: dict(sorted(found.items(), key=lambda item: (-item[1], item[0]))) for name, found in counts.items()}


# ---------------------------------------------------------------- highlights

def highlight_parts(text, terms):
    """[(text, matched)] pieces of `text`, matched where a word folds to one of `terms`."""
    return _parts(text, _word_matches(text, terms), 0, len(text))


def snippet_parts(text, terms, size=SNIPPET_CHARS):
    """A window of about `size` characters of `text` around its first match, highlighted."""
    spans = _word_matches(text, terms)
    if not spans:
        return []
    first = spans[0][0]
    begin = max(0, first - size // 3)
    if begin:  # start at a word
        space = text.find(" ", begin, first)
        begin = space + 1 if space != -1 else first
    end = min(len(text), begin + size)
    if end < len(text):  # end after a word
        space = text.rfind(" ", first, end)
        end = space if space != -1 else end
    parts = _parts(text, spans, begin, end)
    if begin:
        parts.insert(0, ("…", False))
    if end < len(text):
        parts.append(("…", False))
    return parts


def _parts(text, spans, begin, end):
    """[(text, matched)] pieces of text[begin:end], matched at the spans (start, end) inside it."""
    parts, position = [], begin
    for start, stop in spans:
        if start < begin or stop > end:
            continue
        if start > position:
            parts.append((text[position:start], False))
        parts.append((text[start:stop], True))
        position = stop
    if position < end:
        parts.append((text[position:end], False))
    return parts


def _word_matches(text, terms):
    """(start, end) of each word of `text` that folds to one of `terms`, in order. The text is folded
    whole (str.translate) and the terms found by one regular expression, at C speed; a text whose
    folding changes its length (a leftover combining diacritic) is read word by word instead."""
    if not terms or not text:
        return []
    folded = text.lower().translate(FOLD_TABLE)
    if len(folded) != len(text):
        return [(start, end) for start, end, word in iter_word_spans(text) if word in terms]
    return [match.span() for match in _terms_pattern(terms).finditer(folded)]


@lru_cache(maxsize=256)
def _terms_pattern(terms):
    """A regular expression matching any of `terms` (a frozenset of folded words) as a whole word."""
    alternatives = "|".join(map(re.escape, sorted(terms, key=lambda term: (-len(term), term))))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def highlights_for(stored, terms):
    english = highlight_parts(stored.get("name_en") or "", terms)
    return {
        "name": highlight_parts(stored.get("name_vi") or "", terms),
        "name_en": english if any(matched for _text, matched in english) else [],
        "snippet": snippet_parts(stored.get("description") or "", terms),
    }


# ---------------------------------------------------------------- did you mean

def _vocabulary_frequency(leaves, word):
    return sum(leaf.vocabulary(name).frequency(word) for leaf in leaves for name in ("name", "meta", "description"))


MAX_CORRECTIONS = 5  # closest, most frequent candidates weighed by what they would find


def did_you_mean(leaves, words):
    """A corrected query when some words are not in the index: each unknown word becomes the
    closest index word (edit distance, then how many products it would find with the others), and
    each word typed without diacritics is written as the product names write it ("thach dden" →
    "thạch đen"). None when no word needs a correction."""
    if not leaves:
        return None
    unknown = {position for position, word in enumerate(words)
               if len(word.folded) >= 2 and not _vocabulary_frequency(leaves, word.folded)}
    replacements = {}
    for position, word in enumerate(words):
        if position not in unknown:
            continue
        candidates = _corrections(leaves, word.folded, 1)
        if not candidates and len(word.folded) >= 5:
            candidates = _corrections(leaves, word.folded, 2)
        if not candidates:
            continue
        closest = sorted(candidates, key=lambda term: (candidates[term], term))[:MAX_CORRECTIONS]
        # The other words the index knows: the correction should find products with them.
        others = [i for i in range(len(words)) if i != position and i not in unknown]
        with_others = [_matching_words(leaf, others) for leaf in leaves]
        finding = {term: _co_occurrence(leaves, with_others, term) for term in closest}
        best = max(closest, key=lambda term: (-candidates[term][0], finding[term], term))
        if finding[best] or not others:  # never a correction that finds nothing with the other words
            replacements[position] = best
    if not replacements:
        return None
    corrected = [replacements.get(i, word.folded) for i, word in enumerate(words)]
    typed = [None if i in replacements or word.exact == word.folded else word.exact for i, word in enumerate(words)]
    return " ".join(_with_diacritics(leaves, corrected, typed))


def _with_diacritics(leaves, folded_words, typed):
    """The words as product names write them. A word typed with diacritics stays as typed. Any other
    takes the spelling of the name words that fold to it, when the names say which: beside other
    words, the spelling found in names together with them ("den" beside "thach" is "đen", not "đèn");
    alone, its only spelling. Otherwise the word stays folded: "thuong mai" (in cooperatives' names,
    which keep no diacritics in the index) is not "thượng mại"."""
    spellings = [Counter() for _word in folded_words]
    for leaf in leaves:
        vocabulary = leaf.vocabulary("name_exact")
        names = leaf.vocabulary("name")
        having = [_postings(leaf, "name", word, names.terms[word]) if word in names.terms else EMPTY
                  for word in folded_words]
        for position, word in enumerate(folded_words):
            if typed[position] is not None:
                continue
            others = [docs for i, docs in enumerate(having) if i != position]
            together = others[0].intersection(*others[1:]) if others else EMPTY
            for spelling in vocabulary.spellings(word):
                docs = _postings(leaf, "name_exact", spelling, vocabulary.terms[spelling])
                spellings[position][spelling] += len(docs & together) * TOGETHER + len(docs)
    return [typed[i] or _spelling(word, found, alone=len(folded_words) == 1)
            for i, (word, found) in enumerate(zip(folded_words, spellings))]


TOGETHER = 1 << 32  # _with_diacritics: a name with the other words outweighs any number without


def _spelling(word, found, alone):
    """The spelling of `word` among `found` ({spelling: weight}), or the word itself when the names do
    not tell: alone, unless it has only one spelling; beside other words, unless one of its spellings
    is in a name with all of them."""
    if not found:
        return word
    best = max(found, key=lambda term: (found[term], term))
    if (alone and len(found) == 1) or (not alone and found[best] >= TOGETHER):
        return best
    return word


def _postings(leaf, fieldname, term, info):
    """A term's documents in the leaf: the process's kept set for a frequent term, else read."""
    found = frequent_postings(leaf.reader, fieldname, term, info)
    return found if found is not None else postings(leaf.reader, fieldname, term, info)


def _corrections(leaves, folded, maxdist):
    """{index word: (edit distance, -products having it)} within `maxdist` edits of `folded`."""
    candidates = {}
    for leaf in leaves:
        for name in ("name", "meta"):
            vocabulary = leaf.vocabulary(name)
            for distance, term in leaf.variants(name, folded, maxdist):
                distance_before, frequency = candidates.get(term, (distance, 0))
                candidates[term] = (min(distance, distance_before), frequency - vocabulary.frequency(term))
    return candidates


def _matching_words(leaf, positions):
    """Documents of the leaf matching every query word at these positions (None: no condition). The
    search's scores do not tell (each word was read only for the documents of the rarer ones, or of
    the names), so these words are read again the same way, by themselves."""
    if not positions:
        return None
    found = None
    for position in sorted(positions, key=leaf.frequency):
        found = set(leaf._word_scores(leaf.layers[position], found))
        if not found:
            break
    return found


def _co_occurrence(leaves, with_others, term):
    """How many products the query would find with `term` in place of the unknown word."""
    count = 0
    for leaf, others in zip(leaves, with_others):
        if others is None:  # a one-word query: the products having the word
            count += sum(leaf.vocabulary(name).frequency(term) for name in ("name", "meta", "description"))
            continue
        hits = set()
        for name in ("name", "meta", "description"):
            info = leaf.vocabulary(name).terms.get(term)
            if info is not None and others:
                for chunk in chunks(leaf.reader, name, term, info):
                    hits |= others.intersection(chunk)
        count += len(hits & leaf.live) if leaf.has_deletions else len(hits)
    return count


# ---------------------------------------------------------------- suggestions as you type

MAX_PREFIX_TERMS = 100


def suggest(index, q, limit=8, today=None):
    """Product names completing `q` (its last word as a prefix), best first, at most `limit`.

    Returns [(product id, name)]. Needs 2+ letters in the last word. Words of a buying request are set aside.
    """
    words, _ignored = searched_words(parse(q))  # "cần mua thạch đ" completes "thạch đ"
    if not words or (len(words) == 1 and len(words[-1].folded) < 2):
        return []
    today = today or today_default()
    searcher = _searcher(index)
    *complete, last = words
    ranked = []
    for reader, offset in leaf_readers(searcher):
        leaf = _Leaf(reader, offset, complete, today)
        candidates = leaf.matching_all()
        completing = _completions(leaf, "name", last.folded)
        exact = _completions(leaf, "name_exact", last.exact) if last.exact != last.folded else EMPTY
        docs = list(completing.intersection(candidates))
        if not docs:
            continue
        scores = leaf.summed(docs) if complete else repeat(0)
        ranked.extend(heapq.nlargest(limit * 3, ((score + (d in exact), leaf.tie_key[d], offset + d)
                                                  for score, d in zip(scores, docs))))
    names, seen = [], set()
    for _score, _tie, docnum in sorted(ranked, reverse=True):
        stored = searcher.stored_fields(docnum)
        name = stored.get("name_vi") or ""
        if fold(name) not in seen:
            seen.add(fold(name))
            names.append((int(stored["id"]), name))
        if len(names) >= limit:
            break
    return names


def _completions(leaf, fieldname, prefix):
    """Documents having a word of the field that starts with `prefix` (the first MAX_PREFIX_TERMS)."""
    vocabulary = leaf.vocabulary(fieldname)
    found = set()
    for term in vocabulary.prefixed(prefix, MAX_PREFIX_TERMS):
        found.update(postings(leaf.reader, fieldname, term, vocabulary.terms[term]))
    return found


_SPACES = re.compile(r"\s+")


def normalise_query(q, max_length=200):
    """Trim and collapse spaces; cut to max_length characters."""
    return _SPACES.sub(" ", (q or "").strip())[:max_length]
