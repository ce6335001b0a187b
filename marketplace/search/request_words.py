"""Words of a buying request that name no product: "cần mua … giá sỉ", "… số lượng lớn".

Buyers type whole requests into the search box. These words are search data (like the category
words of documents.py), never shown as UI text, so they are not translated through the catalogues.
They are set aside before searching, so that "cần mua thạch đen giá sỉ" searches "thạch đen": folded,
they would match unrelated products ("giá" is also "gia vị", "mua" is also "mùa", "lớn" is "lợn").

A phrase matches a run of query words when each word folds to the phrase's word and was typed either
without diacritics or with the phrase's own: "mùa" (season) typed with its accent is never "mua" (buy).
Single words are only those that name no product even folded; ambiguous ones ("cần": celery is "cần
tây", "giá": bean sprouts are "giá đỗ") are set aside only inside a phrase.
"""
from marketplace.search.analysis import exact_words, fold

PHRASES = (
    # wanting to buy
    "cần mua", "muốn mua", "cần tìm", "tìm mua", "cần nhập", "cần đặt", "mua sỉ", "mua buôn", "mua",
    "want to buy", "looking for", "need", "buy",
    # the price
    "giá sỉ", "giá buôn", "giá tốt", "giá tốt nhất", "giá rẻ", "giá cạnh tranh", "giá ưu đãi", "báo giá",
    "bán sỉ", "bán buôn", "sỉ", "buôn", "wholesale price", "best price", "wholesale", "price", "prices", "cheap",
    # the quantity and the order
    "số lượng lớn", "số lượng", "sl lớn", "khối lượng lớn", "đơn hàng lớn", "đơn lớn", "đặt hàng", "nhập hàng",
    "lấy sỉ", "in bulk", "bulk", "large quantity", "large quantities",
    # the seller and delivery
    "nhà cung cấp", "nguồn hàng", "liên hệ", "freeship", "free ship", "miễn phí vận chuyển",
    "supplier", "suppliers",
)


def _phrases():
    """{first folded word: [(folded words, exact words)]}, longest phrase first."""
    found = {}
    for phrase in PHRASES:
        written = tuple(exact_words(phrase))
        folded = tuple(fold(word) for word in written)
        found.setdefault(folded[0], []).append((folded, written))
    for candidates in found.values():
        candidates.sort(key=lambda candidate: -len(candidate[0]))
    return found


BY_FIRST_WORD = _phrases()


def _same_word(typed, folded, written):
    """`typed` (a query Word) is the phrase's word: folded alike, and typed without diacritics or as written."""
    return typed.folded == folded and (typed.exact == typed.folded or typed.exact == written)


def request_positions(words):
    """Positions of the query's words (query.Word) that belong to a buying request phrase, or none when
    every word does (a query of request words only, "giá sỉ", is searched as typed)."""
    positions, start = [], 0
    while start < len(words):
        for folded, written in BY_FIRST_WORD.get(words[start].folded, ()):
            end = start + len(folded)
            if end <= len(words) and all(_same_word(words[start + i], folded[i], written[i])
                                         for i in range(len(folded))):
                positions.extend(range(start, end))
                start = end
                break
        else:
            start += 1
    return [] if len(positions) == len(words) else positions
