"""The benchmark's fixed, seeded query mix, and the labelled queries of the relevance table.

Every measured query is distinct even after folding (lower case, no diacritics, single spaces):
"mật ong" and "MAT ONG" never both appear, so no result cache, however it normalises its key,
can answer a measured query from an earlier one. Warm-up queries are drawn from the same
generator and are disjoint from the measured set. `build()` asserts both.
"""
import random
import string
from dataclasses import dataclass, field

from bench.corpus import BASES, CERTIFICATIONS, PLACES, QUALIFIERS, QUALIFIERS_EN, SECTORS
from marketplace.text import fold

# Share of each kind in the measured mix (sums to 1).
MIX = (
    ("accented", 0.17),  # "mật ong rừng bắc sơn"
    ("unaccented", 0.17),  # "mat ong rung bac son"
    ("mixed_case", 0.08),  # "MẬT Ong Rừng", "Che SHAN Tuyet"
    ("typo", 0.15),  # one edit in words of 5+ letters, two in words of 9+
    ("partial", 0.10),  # a phrase plus words no product has: needs partial-match fallback
    ("filtered", 0.17),  # a phrase with category / province / stars / certification filters
    ("broad", 0.04),  # one common word: large result sets, heavy facet counting
    ("prefix", 0.12),  # typing in the search box: the engine's suggest vs peers' prefix queries
)
KINDS = tuple(kind for kind, _ in MIX)
MIN_QUERIES = 200
WARMUP = 20

# Words a buyer might add that no product text contains (checked against the corpus vocabulary).
NON_MATCHING = ("freeship", "combo", "online", "lazada", "voucher", "xịn", "hot trend", "sale", "ship cod",
                "tiktok", "rẻ đẹp", "auth", "giảm")
PROVINCES = (20, 4, 12, 15, 14, 8, 19, 11, 25, 22, 24, 33, 1, 68, 66, 38, 40)
NEIGHBOURS = {c: set() for c in string.ascii_lowercase}
for _row in ("qwertyuiop", "asdfghjkl", "zxcvbnm"):
    for _i, _c in enumerate(_row):
        NEIGHBOURS[_c].update(_row[max(0, _i - 1):_i] + _row[_i + 1:_i + 2])


@dataclass(frozen=True)
class Query:
    kind: str
    text: str
    op: str = "search"  # "search" (results and facets) or "suggest" (prefix completion)
    filters: tuple = field(default=())  # sorted ((name, value), ...): category, province, stars, certification

    @property
    def key(self):
        """What a cache could key on: operation, folded text, filters."""
        return (self.op, " ".join(fold(self.text).split()), self.filters)

    @property
    def filter_dict(self):
        return dict(self.filters)

    def as_dict(self):
        return {"kind": self.kind, "op": self.op, "text": self.text, "filters": self.filter_dict}


def _phrase(rng):
    """A natural, accented search phrase and the base product it is about."""
    base = rng.choice(BASES)
    roll = rng.random()
    places = [p for code in base.provinces for p in PLACES.get(code, ())]
    if roll < 0.25 or (roll < 0.45 and (base.place_in_name or not places)):
        text = base.vi
    elif roll < 0.45:
        text = f"{base.vi} {rng.choice(places)}"
    elif roll < 0.65:
        text = f"{base.vi} {rng.choice(QUALIFIERS['*'] + QUALIFIERS[base.category])}"
    elif roll < 0.75:
        text = " ".join(base.vi.split()[:2]) + " " + rng.choice(QUALIFIERS["*"] + QUALIFIERS[base.category])
    elif roll < 0.85:
        qualifier = rng.choice(sorted(QUALIFIERS_EN.values()))
        text = f"{qualifier} {base.en}" if rng.random() < 0.5 else base.en
    elif roll < 0.93:
        text = f"htx {rng.choice(SECTORS)} {rng.choice(places or ['Tràng Định'])}"
    else:
        text = f"{base.vi} {rng.choice(('ocop 4 sao', 'ocop', 'giá sỉ', 'bán buôn', 'vietgap'))}"
    return text.lower() if rng.random() < 0.8 else text, base


def _mixed_case(rng, text):
    words = []
    for word in text.split():
        style = rng.choice(("upper", "title", "lower", "upper"))
        words.append(word.upper() if style == "upper" else word.title() if style == "title" else word.lower())
    result = " ".join(words)
    return result if result not in (text, text.lower()) else text.upper()


def _edit(rng, word):
    """One random edit (substitute a neighbouring key, delete, double, transpose) of a folded word."""
    letters = list(fold(word)) if rng.random() < 0.6 else list(word.lower())
    i = rng.randrange(len(letters))
    op = rng.choice(("substitute", "delete", "insert", "transpose"))
    if op == "substitute" and letters[i] in NEIGHBOURS:
        letters[i] = rng.choice(sorted(NEIGHBOURS[letters[i]]))
    elif op == "delete":
        del letters[i]
    elif op == "insert":
        letters.insert(i, letters[i])
    else:
        i = min(i, len(letters) - 2)
        letters[i], letters[i + 1] = letters[i + 1], letters[i]
    return "".join(letters)


def _typo(rng, text):
    words = text.split()
    eligible = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not eligible:
        return None
    for i in rng.sample(eligible, 2 if len(eligible) > 2 and rng.random() < 0.3 else 1):
        edits = 2 if len(words[i]) >= 9 else 1
        typo = words[i]
        for _ in range(edits):
            typo = _edit(rng, typo)
        words[i] = typo
    result = " ".join(words)
    return result if fold(result) != fold(text) else None


def _filters(rng, base):
    chosen = {}
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        name = rng.choice(("category", "province", "stars", "certification"))
        if name == "category":
            chosen[name] = base.category
        elif name == "province":
            chosen[name] = rng.choice(base.provinces + PROVINCES[:4])
        elif name == "stars":
            chosen[name] = rng.choice((3, 4, 5))
        else:
            chosen[name] = rng.choice(CERTIFICATIONS)
    return tuple(sorted(chosen.items()))


def _broad_words():
    words = {b.vi.split()[0].lower() for b in BASES} | {" ".join(b.vi.split()[:2]).lower() for b in BASES}
    words |= set(QUALIFIERS["*"]) | {s.lower() for s in SECTORS} | {"lạng sơn", "cao bằng", "lai châu", "lào cai"}
    return sorted(words)


def _one(rng, kind):
    """One candidate query of a kind (may be None when the draw does not fit the kind)."""
    text, base = _phrase(rng)
    vietnamese = fold(text) != text.lower()  # English phrases only go into the other kinds
    if kind in ("accented", "unaccented", "mixed_case") and not vietnamese:
        return None
    if kind == "accented":
        return Query(kind, text)
    if kind == "unaccented":
        return Query(kind, fold(text))
    if kind == "mixed_case":
        return Query(kind, _mixed_case(rng, text if rng.random() < 0.6 else fold(text)))
    if kind == "typo":
        typo = _typo(rng, text)
        return Query(kind, typo) if typo else None
    if kind == "partial":
        extra = rng.choice(NON_MATCHING)
        return Query(kind, f"{text} {extra}" if rng.random() < 0.7 else f"{extra} {text}")
    if kind == "filtered":
        return Query(kind, text if rng.random() < 0.6 else fold(text), filters=_filters(rng, base))
    if kind == "broad":
        word = rng.choice(_broad_words())
        word = word if rng.random() < 0.6 else fold(word)
        filters = _filters(rng, base) if rng.random() < 0.3 else ()
        return Query(kind, word, filters=filters)
    if kind == "prefix":
        source = text if rng.random() < 0.6 else fold(text)
        words = source.split()[:3]
        last = words[-1]
        if len(words) == 1 and len(last) < 3:
            return None
        cut = rng.randint(1, max(1, len(last) - 1)) if len(words) > 1 else rng.randint(2, max(2, len(last) - 1))
        return Query(kind, " ".join(words[:-1] + [last[:cut]]), op="suggest")
    raise ValueError(kind)


def quotas(total):
    counts = {kind: int(total * share) for kind, share in MIX}
    for kind, _ in sorted(MIX, key=lambda item: -item[1]):
        if sum(counts.values()) >= total:
            break
        counts[kind] += 1
    return counts


def build(total, seed, vocabulary=None):
    """(measured, warmup): `total` distinct measured queries in a fixed order, and WARMUP others.

    `vocabulary` (folded corpus words), when given, proves the non-matching words match nothing.
    """
    if total < MIN_QUERIES:
        raise ValueError(f"the mix needs at least {MIN_QUERIES} measured queries")
    if vocabulary is not None:
        found = {w for phrase in NON_MATCHING for w in fold(phrase).split()} & vocabulary
        assert not found, f"'non-matching' words occur in the corpus: {sorted(found)}"
    rng = random.Random(f"queries-{seed}")
    seen, measured = set(), []
    for kind, count in quotas(total).items():
        made, tries = 0, 0
        while made < count:
            tries += 1
            if tries > 200 * count + 1000:
                raise RuntimeError(f"cannot draw {count} distinct {kind} queries")
            query = _one(rng, kind)
            if query is None or query.key in seen:
                continue
            seen.add(query.key)
            measured.append(query)
            made += 1
    rng.shuffle(measured)  # kinds interleaved, so slow phases of the machine hit all kinds alike
    warmup = []
    while len(warmup) < WARMUP:
        query = _one(rng, rng.choice(KINDS))
        if query is not None and query.key not in seen:
            seen.add(query.key)
            warmup.append(query)
    keys = [q.key for q in measured]
    assert len(set(keys)) == len(keys) == total, "measured queries must all be distinct"
    assert not set(keys) & {q.key for q in warmup}, "warm-up queries must not be measured"
    return measured, warmup


@dataclass(frozen=True)
class Label:
    """A query with a known right answer: is the engine's top result one that fits `expect`?"""

    text: str
    expect: str  # human description, printed in the table
    check: object  # search: function(top product dict) -> bool; suggest: function(top completion) -> bool
    op: str = "search"


def _words(text):
    return text.lower().replace(",", " ").split()


def _name_has(phrase):
    phrase = phrase.lower()
    return lambda p: f" {phrase} " in f" {' '.join(_words(p['name']))} "


LABELS = (
    Label("dâu", "a strawberry/mulberry (dâu), not đậu or dầu", _name_has("dâu")),
    Label("đậu", "a bean product (đậu), not dâu or dầu", _name_has("đậu")),
    Label("dầu lạc", "peanut oil (dầu lạc), not đậu phộng", _name_has("dầu lạc")),
    Label("thach dden", "Thạch đen (typo, unaccented)", _name_has("thạch đen")),
    Label("ca hoi van", "Cá hồi vân (unaccented), not hồi (star anise)", _name_has("cá hồi vân")),
    Label("mật ong bạc hà", "mint honey (bạc hà), not honey from Bắc Hà", _name_has("mật ong bạc hà")),
    Label("mật ong rừng freeship", "Mật ong rừng (partial match: 'freeship' matches nothing)",
          _name_has("mật ong rừng")),
    Label("que van yen", "Quế Văn Yên (unaccented)", _name_has("quế văn yên")),
    Label("chè shan tuyêt", "Chè Shan tuyết (wrong tone mark)", _name_has("chè shan tuyết")),
    Label("gao nep cai hao vang", "Gạo nếp cái hoa vàng (transposition)", _name_has("gạo nếp cái hoa vàng")),
    Label("hat de trung khanh", "Hạt dẻ Trùng Khánh (unaccented)", _name_has("hạt dẻ trùng khánh")),
    Label("wild honey", "Mật ong rừng (English name)", _name_has("mật ong rừng")),
    Label("cinamon", "a cinnamon product (English, typo)", lambda p: "quế" in _words(p["name"])),
    Label("thit trau gac bep", "Thịt trâu gác bếp (unaccented)", _name_has("thịt trâu gác bếp")),
    Label("mật o", "a completion starting 'mật ong'", lambda text: fold(text).startswith("mat ong"), op="suggest"),
    Label("thach d", "a completion starting 'thạch đen'", lambda text: fold(text).startswith("thach den"),
          op="suggest"),
)
