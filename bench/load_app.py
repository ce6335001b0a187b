"""The application as `make serve` runs it (gunicorn -c gunicorn.conf.py), for bench/load.py and
bench/orders_bench.py only.

Three differences from wsgi.py, each needed to measure and none making a page cheaper:
- SQL_QUERY_COUNT_HEADER: every response says how many SQL statements it ran (X-SQL-Queries);
- LOGIN_RATE_LIMIT_PER_IP is raised: twenty virtual users logging in several times a second would
  otherwise meet the limit of 30 a minute per address (the limiter still runs and counts);
- `--cheap-passwords` only (smoke tests): Argon2id at its smallest cost, see password_settings;
- `/_bench/ping`, the ceiling: the most trivial route through the same server, middleware, security
  headers and access log as every page.
"""
from bench.common import password_settings
from marketplace import create_app

app = create_app({"SQL_QUERY_COUNT_HEADER": True, "LOGIN_RATE_LIMIT_PER_IP": "1000000 per minute",
                  **password_settings()})


@app.get("/_bench/ping")
def ping():
    return "ok"
