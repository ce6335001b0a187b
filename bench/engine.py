"""The marketplace's own search (marketplace/search/, Whoosh) behind the benchmark's engine interface.

Only this adapter knows the engine's API (documented at the top of marketplace/search/__init__.py):
build_index(index_dir, records) for the full build, search(index_dir, q, filters) for a results
page exactly as the search page asks for it (top 20, total, every facet, highlights and the
"did you mean" suggestion), and suggest(index_dir, q) for completions.
"""
from datetime import UTC, date, datetime, timedelta

from bench.peers import Result

ENGINE_NAME = "marketplace"
PUBLISHED_FROM = datetime(2025, 7, 1, tzinfo=UTC)


class EngineUnavailable(RuntimeError):
    pass


def records(products, today):
    """The engine's records for the corpus. Stars become a verified certificate valid for another
    year; every seventh rated product also keeps an expired one, which must not count."""
    for p in products:
        certificates = []
        if p["stars"]:
            certificates.append((p["stars"], today + timedelta(days=30 + p["id"] % 700)))
            if p["id"] % 7 == 0:
                certificates.append((5 if p["stars"] < 5 else 4, today - timedelta(days=1 + p["id"] % 300)))
        yield {
            "id": p["id"],
            "name": p["name"],
            "name_en": p["name_en"],
            "description": p["description"],
            "category": p["category"],
            "cooperative_name": p["cooperative_name"],
            "cooperative_type": p["cooperative_type"],
            "province_code": p["province_code"],
            "price_vnd": p["base_price_vnd"],
            "certifications": p["certifications"],
            "certificates": certificates,
            "published_at": PUBLISHED_FROM + timedelta(minutes=7 * p["id"]),
        }


class MarketplaceEngine:
    name = ENGINE_NAME

    def __init__(self, index_dir):
        try:
            import whoosh

            from marketplace import search
        except ImportError as error:
            raise EngineUnavailable(f"marketplace.search cannot be imported ({error}); use --skip-engine") from error
        self.engine = search
        self.index_dir = str(index_dir)
        self.version = "whoosh " + ".".join(str(part) for part in whoosh.versionstring().split(".")[:3])
        self.notes = []
        self.today = date.today()

    def build(self, products):
        """Seconds for a full build of the index from the records (one process, as `flask search rebuild`)."""
        import time

        started = time.perf_counter()
        self.engine.build_index(self.index_dir, records(products, self.today))
        seconds = time.perf_counter() - started
        # Open the searcher before measuring, as a running web worker has it open already.
        self.engine.search(self.index_dir, "khởi động", today=self.today)
        return seconds

    def search(self, query):
        answer = self.engine.search(self.index_dir, query.text, filters=query.filter_dict or None,
                                    today=self.today)
        return Result(list(answer.ids), answer.total, answer.facets)

    def suggest(self, query):
        return [name for _, name in self.engine.suggest(self.index_dir, query.text, today=self.today)]

    def close(self):
        pass
