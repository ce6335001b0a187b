"""Whole numbers in query strings (?page=, ?per_page=, ?cooperative=): one reader for the pages and the API.

Only plain ASCII digits within the bounds become a number, so a sign, a space, "1.0" or a 30-digit page never
reaches the database (a huge page number overflowed its OFFSET arithmetic). Pages read leniently: a bad value
falls back to the default, so an edited or old link still opens. The API reads strictly: a bad value is an
InvalidParameter (400 `invalid_parameter`) naming the parameter.
"""
import re

from flask_babel import lazy_gettext as _l

from marketplace.errors import InvalidParameter

MAX_PAGE = 100_000  # no one pages further; bounds OFFSET = (page - 1) * per_page well inside a bigint


def whole_number(value, low, high):
    """An int when `value` is plain digits within [low, high], else None."""
    if value is None or not re.fullmatch(r"[0-9]{1,20}", value):
        return None
    number = int(value)
    return number if low <= number <= high else None


def whole_number_arg(args, name, maximum, default=None, strict=False, errors=None):
    """Query parameter `name` as a whole number from 1 to `maximum`, or `default` when it is missing.

    A bad value (not plain digits, out of range, or empty when strict) gives `default` too, unless `strict`:
    then its message goes into `errors` when given, so that every bad parameter is named at once (the caller
    raises InvalidParameter.for_parameters(errors)), else InvalidParameter is raised here.
    """
    raw = args.get(name)
    if raw is None or (raw == "" and not strict):
        return default
    value = whole_number(raw, 1, maximum)
    if value is not None:
        return value
    if strict:
        message = _l("Give a whole number from 1 to %(max)s.", max=maximum)
        if errors is None:
            raise InvalidParameter.for_parameters({name: message})
        errors[name] = message
    return default
