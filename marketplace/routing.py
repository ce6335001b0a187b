"""Ids in URL paths: the one converter every id-taking route uses, `<id:product_id>`.

Database ids are PostgreSQL `integer`s, 1 to MAX_ID. The converter's pattern itself admits only those
numbers, written the one canonical way (no sign, no leading zero, ASCII digits), so any other value matches
no rule and answers 404 before a view runs: a 20-digit id never reaches the database (where it overflowed
into a 500), and /products/007 is not a second address of product 7. Checking the range in the pattern,
not in `to_python`, matters: Werkzeug picks the rule (and answers 405 when only another method's rule
matches) before it converts, so a refusal in `to_python` turned GET /api/v1/products/<huge> into a 405.
"""
from werkzeug.routing import BaseConverter

MAX_ID = 2**31 - 1  # PostgreSQL integer; also the maximum the OpenAPI document states for ids


def whole_numbers_up_to(maximum):
    """A regular expression matching the whole numbers 1..maximum written without sign or leading zero."""
    digits = str(maximum)
    alternatives = [digits]
    if len(digits) > 1:
        alternatives.append(f"[1-9][0-9]{{0,{len(digits) - 2}}}")  # fewer digits
    # As many digits: the same first digits as `maximum`, then a smaller one, then anything.
    for position, digit in enumerate(digits):
        lowest = "1" if position == 0 else "0"
        if digit > lowest:
            rest = len(digits) - position - 1
            alternatives.append(f"{digits[:position]}[{lowest}-{int(digit) - 1}][0-9]{{{rest}}}")
    return "(?:" + "|".join(alternatives) + ")"


class IdConverter(BaseConverter):
    """`<id:name>`: a database id, 1 to MAX_ID; anything else is not a path of this rule (404)."""

    regex = whole_numbers_up_to(MAX_ID)
    weight = 50  # as Werkzeug's int: a number segment is tried before a string one

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return str(int(value))


def init_app(app):
    """Register the converter; must run before the blueprints add their rules."""
    app.url_map.converters["id"] = IdConverter
