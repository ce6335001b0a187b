"""Form helpers shared by every area."""
from flask import flash
from wtforms import SelectChoice


def apply_service_errors(form, error):
    """Show a service's ValidationFailed next to the matching fields; anything else as a flash."""
    unplaced = []
    for name, message in getattr(error, "errors", {}).items():
        # A lazy string has __html__, so Jinja would print it unescaped: messages that quote user
        # input (an upload's file name, an import cell) must reach the template as plain str.
        message = str(message)
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
        else:
            unplaced.append(message)
    if unplaced or not getattr(error, "errors", None):
        flash(" ".join(str(m) for m in unplaced) or str(error.message), "danger")


def int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def select_choices(pairs, placeholder=None):
    """(value, label) pairs as WTForms SelectChoice objects, with an optional empty first option."""
    options = [SelectChoice("", placeholder)] if placeholder else []
    return options + [SelectChoice(value, label) for value, label in pairs]
