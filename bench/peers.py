"""The two peers the marketplace's search is measured against, built as a peer marketplace would.

PostgreSQL: unaccent + a generated, weighted tsvector (A: names, B: cooperative and province,
C: description) with a GIN index; websearch_to_tsquery on unaccented input, ts_rank, LIMIT 20,
facet counts by GROUP BY over the matched set, filters as WHERE clauses, prefix with 'word:*'.

SQLite FTS5: unicode61 remove_diacritics 2, bm25() with the same field weights, facets by
GROUP BY over the matched rowids, prefix with "word"*.

Both answer `search(query)` with a Result (top ids, total, facets) and `suggest(query)` with up
to 8 product names, like the engine, so the timings compare the same work. As on the engine, each
facet counts under every active filter but its own (a buyer who picked a category still sees the
others), so a filtered query counts over the text matches, not only the filtered ones.
"""
import re
import sqlite3
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

LIMIT = 20
SUGGESTIONS = 8  # as many as the engine's suggest() returns
FACETS = ("category", "province", "stars", "certification", "cooperative_type")


@dataclass
class Result:
    ids: list
    total: int
    facets: dict = field(default_factory=dict)


def words(text):
    """Word tokens of a query, kept in their script (the database folds them)."""
    return re.findall(r"\w+", (text or "").lower())


class PeerUnavailable(RuntimeError):
    pass


# --------------------------------------------------------------------------- PostgreSQL
PG_FILTERS = {
    "category": "category = %(category)s",
    "province": "province_code = %(province)s",
    "stars": "stars = %(stars)s",
    "certification": "certifications @> ARRAY[%(certification)s]::text[]",
}


def _where(clauses):
    return " WHERE " + " AND ".join(clauses) if clauses else ""


def _filter_clauses(templates, filters, skip=None):
    return [templates[name] for name in filters if name != skip]


PG_FACETS = {  # facet → (SELECT of the value and its count from m, extra condition)
    "category": ("category", None),
    "province": ("province_code", "province_code IS NOT NULL"),
    "stars": ("stars", "stars IS NOT NULL"),
    "certification": ("unnest(certifications)", None),
    "cooperative_type": ("cooperative_type", None),
}


def pg_search_sql(filters):
    """One statement: the matched set once (materialised), the top 20 and the total under every
    filter, and each facet under every filter but its own (what the engine's facets show)."""
    every = _where(_filter_clauses(PG_FILTERS, filters))
    parts = [
        f"(SELECT coalesce(json_agg(id), '[]') FROM (SELECT id FROM m{every} ORDER BY rank DESC, id LIMIT {LIMIT}) t)",
        f"(SELECT count(*) FROM m{every})",
    ]
    for name in FACETS:
        value, condition = PG_FACETS[name]
        clauses = _filter_clauses(PG_FILTERS, filters, skip=name) + ([condition] if condition else [])
        parts.append(f"(SELECT json_object_agg(v, n) FROM (SELECT {value} AS v, count(*) AS n FROM m{_where(clauses)}"
                     " GROUP BY 1) f)")
    return """
WITH q AS (SELECT websearch_to_tsquery('simple', f_unaccent(%(text)s)) AS q),
m AS MATERIALIZED (
    SELECT p.id, p.category, p.province_code, p.stars, p.cooperative_type, p.certifications,
           ts_rank(p.doc, q.q) AS rank
    FROM products p, q WHERE p.doc @@ q.q)
SELECT """ + ",\n       ".join(parts)


PG_SUGGEST = """
WITH q AS (SELECT to_tsquery('simple', f_unaccent(%(expression)s)) AS q),
s AS (SELECT p.name, ts_rank(p.doc, q.q) AS rank FROM products p, q WHERE p.doc @@ q.q)
SELECT name FROM s GROUP BY name ORDER BY max(rank) DESC, name LIMIT {limit}
"""


class PostgresPeer:
    """PostgreSQL full-text search in a private schema, dropped by close()."""

    name = "postgresql"

    def __init__(self, url):
        import psycopg

        self.psycopg = psycopg
        url = url.replace("postgresql+psycopg://", "postgresql://")
        try:
            self.connection = psycopg.connect(url, autocommit=True)
        except psycopg.OperationalError as error:
            raise PeerUnavailable(f"PostgreSQL at {url} is unreachable: {error}") from error
        self.schema = f"bench_{uuid.uuid4().hex[:12]}"
        self.info = {"schema": self.schema}
        self.version = self.connection.execute("SHOW server_version").fetchone()[0].split()[0]
        self.notes = []

    def _unaccent_schema(self):
        """Where the unaccent extension lives, installing it in public when missing.

        It is left installed: dropping it could break a concurrent run that found it there.
        """
        find = "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'unaccent'"
        row = self.connection.execute(find).fetchone()
        if row:
            return row[0]
        for _attempt in range(3):
            try:
                self.connection.execute("CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public")
                break
            except self.psycopg.errors.UniqueViolation:  # another run created it at the same moment
                time.sleep(0.2)
            except self.psycopg.errors.InsufficientPrivilege as error:
                raise PeerUnavailable(f"CREATE EXTENSION unaccent is not allowed: {error}") from error
        row = self.connection.execute(find).fetchone()
        if not row:
            raise PeerUnavailable("the unaccent extension could not be installed")
        self.notes.append("installed the unaccent extension in schema public (left in place)")
        return row[0]

    def build(self, products):
        """Seconds to create the table, load every product, build the GIN index and analyse."""
        c = self.connection
        unaccent_schema = self._unaccent_schema()
        started = time.perf_counter()
        c.execute(f'CREATE SCHEMA "{self.schema}"')
        c.execute(f'SET search_path TO "{self.schema}", public')
        # JIT compiles each big plan for tens of milliseconds: short search queries never gain from it.
        c.execute("SET jit = off")
        c.execute(f"""
            CREATE FUNCTION f_unaccent(text) RETURNS text
            LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
            AS $$ SELECT "{unaccent_schema}".unaccent('"{unaccent_schema}".unaccent'::regdictionary, $1) $$""")
        c.execute("""
            CREATE TABLE products (
                id integer PRIMARY KEY,
                name text NOT NULL, name_en text NOT NULL, description text NOT NULL,
                cooperative_name text NOT NULL, province_name text NOT NULL,
                category text NOT NULL, province_code integer, stars integer,
                cooperative_type text NOT NULL, certifications text[] NOT NULL,
                base_price_vnd bigint NOT NULL,
                doc tsvector GENERATED ALWAYS AS (
                    setweight(to_tsvector('simple', f_unaccent(name || ' ' || name_en)), 'A') ||
                    setweight(to_tsvector('simple', f_unaccent(cooperative_name || ' ' || province_name)), 'B') ||
                    setweight(to_tsvector('simple', f_unaccent(description)), 'C')) STORED)""")
        columns = ("id", "name", "name_en", "description", "cooperative_name", "province_name", "category",
                   "province_code", "stars", "cooperative_type", "certifications", "base_price_vnd")
        with c.cursor() as cursor:
            with cursor.copy(f"COPY products ({', '.join(columns)}) FROM STDIN") as copy:
                for p in products:
                    copy.write_row([p[name] for name in columns])
        c.execute("CREATE INDEX products_doc ON products USING gin (doc)")
        c.execute("CREATE INDEX products_category ON products (category)")
        c.execute("CREATE INDEX products_province ON products (province_code)")
        c.execute("ANALYZE products")
        return time.perf_counter() - started

    def search(self, query):
        filters = query.filter_dict
        row = self.connection.execute(pg_search_sql(filters), {"text": query.text, **filters}).fetchone()
        ids, total = row[0], row[1]
        facets = {name: {str(k): v for k, v in (value or {}).items()} for name, value in zip(FACETS, row[2:])}
        return Result(ids, total, facets)

    def suggest(self, query):
        tokens = words(query.text)
        if not tokens:
            return []
        # Name fields only (weight A), the last word as a prefix: what a search box completes.
        expression = " & ".join([f"{t}:A" for t in tokens[:-1]] + [f"{tokens[-1]}:*A"])
        sql = PG_SUGGEST.format(limit=SUGGESTIONS)
        return [row[0] for row in self.connection.execute(sql, {"expression": expression})]

    def close(self):
        try:
            self.connection.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        finally:
            self.connection.close()


# --------------------------------------------------------------------------- SQLite FTS5
def _fts_text(text):
    # unicode61 folds every Vietnamese vowel but not đ (a letter of its own in Unicode, not a
    # d with a mark): a careful peer maps it on both sides, else "dau" never finds "đậu".
    return (text or "").replace("đ", "d").replace("Đ", "D")


FTS_FILTERS = {
    "category": "category = :category",
    "province": "province_code = :province",
    "stars": "stars = :stars",
    "certification": "EXISTS (SELECT 1 FROM product_cert c WHERE c.product_id = m.id AND c.code = :certification)",
}
FTS_WEIGHTS = "10.0, 10.0, 4.0, 4.0, 1.0"  # name, name_en, cooperative, province, description
FTS_FACETS = {
    "category": ("category", "m", None),
    "province": ("province_code", "m", "province_code IS NOT NULL"),
    "stars": ("stars", "m", "stars IS NOT NULL"),
    "certification": ("c.code", "m JOIN product_cert c ON c.product_id = m.id", None),
    "cooperative_type": ("cooperative_type", "m", None),
}


def fts_search_sql(filters):
    """Like pg_search_sql: one statement, each facet under every filter but its own."""
    every = _where(_filter_clauses(FTS_FILTERS, filters))
    parts = [
        f"SELECT 'hit', id, rank FROM (SELECT id, rank FROM m{every} ORDER BY rank, id LIMIT {LIMIT})",
        f"SELECT 'total', NULL, count(*) FROM m{every}",
    ]
    for name in FACETS:
        value, source, condition = FTS_FACETS[name]
        clauses = _filter_clauses(FTS_FILTERS, filters, skip=name) + ([condition] if condition else [])
        parts.append(f"SELECT '{name}', {value}, count(*) FROM {source}{_where(clauses)} GROUP BY {value}")
    return f"""
WITH m AS MATERIALIZED (
    SELECT p.id, p.category, p.province_code, p.stars, p.cooperative_type, bm25(fts, {FTS_WEIGHTS}) AS rank
    FROM fts JOIN products p ON p.id = fts.rowid WHERE fts MATCH :match)
""" + "\nUNION ALL ".join(parts)


FTS_SUGGEST = """
WITH s AS MATERIALIZED (
    SELECT p.name, bm25(fts, {weights}) AS rank FROM fts JOIN products p ON p.id = fts.rowid WHERE fts MATCH ?)
SELECT name FROM s GROUP BY name ORDER BY min(rank), name LIMIT {limit}
"""


class Fts5Peer:
    """SQLite FTS5 in a temporary database file, deleted by close()."""

    name = "sqlite_fts5"

    def __init__(self):
        self.directory = tempfile.TemporaryDirectory(prefix="bench-fts5-")
        self.path = Path(self.directory.name) / "fts.sqlite3"
        self.connection = sqlite3.connect(self.path)
        self.version = sqlite3.sqlite_version
        self.notes = ["đ/Đ mapped to d/D on both sides (unicode61 does not fold it)"]

    def build(self, products):
        """Seconds to create the tables, insert every product and optimise the full-text index."""
        c = self.connection
        started = time.perf_counter()
        c.execute("PRAGMA journal_mode = OFF")
        c.execute("PRAGMA synchronous = OFF")
        c.execute("""CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, category TEXT,
                     province_code INTEGER, stars INTEGER, cooperative_type TEXT, base_price_vnd INTEGER)""")
        c.execute("CREATE TABLE product_cert (product_id INTEGER, code TEXT, PRIMARY KEY (product_id, code)) "
                  "WITHOUT ROWID")
        c.execute("""CREATE VIRTUAL TABLE fts USING fts5(name, name_en, cooperative_name, province_name, description,
                     tokenize='unicode61 remove_diacritics 2')""")
        c.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?)",
                      [(p["id"], p["name"], p["category"], p["province_code"], p["stars"], p["cooperative_type"],
                        p["base_price_vnd"]) for p in products])
        c.executemany("INSERT INTO product_cert VALUES (?, ?)",
                      [(p["id"], code) for p in products for code in p["certifications"]])
        c.executemany("INSERT INTO fts (rowid, name, name_en, cooperative_name, province_name, description) "
                      "VALUES (?, ?, ?, ?, ?, ?)",
                      [(p["id"], _fts_text(p["name"]), p["name_en"], _fts_text(p["cooperative_name"]),
                        _fts_text(p["province_name"]), _fts_text(p["description"])) for p in products])
        c.execute("INSERT INTO fts (fts) VALUES ('optimize')")
        c.commit()
        c.execute("ANALYZE")
        return time.perf_counter() - started

    def search(self, query):
        tokens = words(_fts_text(query.text))
        if not tokens:
            return Result([], 0, {})
        filters = query.filter_dict
        match = " ".join(f'"{t}"' for t in tokens)  # implicit AND, each word quoted (no query syntax)
        hits, total, facets = [], 0, {name: {} for name in FACETS}
        for kind, key, value in self.connection.execute(fts_search_sql(filters), {"match": match, **filters}):
            if kind == "hit":
                hits.append((value, key))
            elif kind == "total":
                total = value
            else:
                facets[kind][str(key)] = value
        return Result([i for _, i in sorted(hits)], total, facets)

    def suggest(self, query):
        tokens = words(_fts_text(query.text))
        if not tokens:
            return []
        match = "{name name_en} : (" + " ".join([f'"{t}"' for t in tokens[:-1]] + [f'"{tokens[-1]}"*']) + ")"
        sql = FTS_SUGGEST.format(weights=FTS_WEIGHTS, limit=SUGGESTIONS)
        return [row[0] for row in self.connection.execute(sql, [match])]

    def close(self):
        self.connection.close()
        self.directory.cleanup()

