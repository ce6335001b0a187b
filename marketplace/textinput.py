"""Text that comes in is valid Unicode, in NFC, and names are visible (checklist row 40, issue 12).

One place reads text out of requests: query strings and form bodies are decoded by `Request` (below),
JSON bodies by `JSONProvider`. Both normalise every string to NFC, so "ệ" typed decomposed (as some
phone keyboards send it) is stored as the one code point a desktop keyboard gives, and two names that
look the same are the same. Bytes that are not UTF-8 (`%FF`, or `%ED%A0%80`, a UTF-16 surrogate written
as UTF-8) and JSON's lone surrogates (`"\\ud800"`) cannot be stored by PostgreSQL or SQLite; they used to
be a 500 (JSON), a 500 (raw bytes in a query string), or text silently kept as `%ED%A0%80` (forms). Now
they are decoded to lone surrogates on purpose (`surrogateescape`) and refused before any view runs:
400 `invalid_text` for query strings and the API's JSON, 422 `invalid_text` for forms, with
`details.fields` naming each bad field. Multipart text fields too: Werkzeug decoded their bad bytes
to U+FFFD, so "Na\ufffddai" was stored as if typed; its parser is given a UTF-8 codec that keeps them
as lone surrogates instead (a part that declares another charset of Werkzeug's list keeps it).

Services then `clean()` what they store (NFC again for the command line and imports, and blanks and
invisible format characters trimmed from both ends) and ask `has_letter_or_digit()` of names: a name of
zero-width spaces or direction marks alone looks empty, or like nothing, and is refused.
"""
import codecs
import re
import unicodedata
from urllib.parse import parse_qsl, quote

from flask import Request as FlaskRequest
from flask import request
from flask.json.provider import DefaultJSONProvider
from flask_babel import lazy_gettext as _l
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.utils import cached_property

from marketplace.errors import ValidationFailed

SURROGATE = re.compile("[\ud800-\udfff]")
QUERY_SAFE = "!$&'()*+,/:;=?@~%"
FORM_MIMETYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}
NOT_TEXT = _l("This is not valid text: it holds bytes that are not UTF-8, or a lone surrogate.")
NEEDS_LETTER_OR_DIGIT = _l("Write a name with at least one letter or digit.")


class InvalidText(ValidationFailed):
    """Input that is not valid Unicode. `errors` names each field or parameter; 400 (query strings,
    JSON), or 422 for a submitted form."""

    status = 400
    code = "invalid_text"

    @classmethod
    def for_fields(cls, errors, status=400):
        error = cls(_l("Some of the text sent is not valid Unicode."), errors=errors)
        error.status = status
        return error


# ---------------------------------------------------------------- strings

def is_valid(value):
    """False when `value` holds a lone surrogate (what undecodable input decodes to here)."""
    return not SURROGATE.search(value)


def normalise(value):
    return unicodedata.normalize("NFC", value)


def _invisible(char):
    return char.isspace() or unicodedata.category(char) == "Cf"


def clean(value):
    """`value` (or "") in NFC, without blanks and invisible format characters (zero-width spaces and
    joiners, direction marks, a byte-order mark) at either end. Inside the text they stay: a zero-width
    joiner is part of some words and emoji."""
    value = normalise(value or "")
    start, end = 0, len(value)
    while start < end and _invisible(value[start]):
        start += 1
    while end > start and _invisible(value[end - 1]):
        end -= 1
    return value[start:end]


def has_letter_or_digit(value):
    return any(unicodedata.category(char)[0] in "LN" for char in value or "")


def invisible_chars(value):
    """The control and format characters in `value` (for values that must have none, like an email)."""
    return [char for char in value if unicodedata.category(char) in ("Cc", "Cf")]


# ---------------------------------------------------------------- decoding requests

def decode_pairs(raw):
    """Name/value pairs of a query string or urlencoded body (bytes), NFC; undecodable bytes become
    lone surrogates, which the request hook refuses."""
    text = raw.decode("utf-8", "surrogateescape")
    return [(normalise(name), normalise(value))
            for name, value in parse_qsl(text, keep_blank_values=True, errors="surrogateescape")]


# Werkzeug's multipart parser decodes a text field with `bytes.decode(charset, "replace")`; this codec
# ignores the "replace" and keeps undecodable bytes as lone surrogates, which the request hook refuses.
SURROGATEESCAPE_UTF8 = "chohtx_utf_8_surrogateescape"


def _find_codec(name):
    if name == SURROGATEESCAPE_UTF8:
        return codecs.CodecInfo(
            name=SURROGATEESCAPE_UTF8,
            encode=lambda text, errors="strict": codecs.utf_8_encode(text, "surrogateescape"),
            decode=lambda data, errors="strict": codecs.utf_8_decode(data, "surrogateescape", True),
        )
    return None


codecs.register(_find_codec)


class TextMultiPartParser(MultiPartParser):
    def get_part_charset(self, headers):
        charset = super().get_part_charset(headers)
        return SURROGATEESCAPE_UTF8 if charset == "utf-8" else charset


class TextFormDataParser(FormDataParser):
    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        # Werkzeug keeps invalid percent-escapes as text ("%ED%A0%80") and drops a whole body holding a
        # raw invalid byte; both would hide bad input instead of refusing it.
        return stream, self.cls(decode_pairs(stream.read())), self.cls()

    def _parse_multipart(self, stream, mimetype, content_length, options):
        # Werkzeug's own, with the parser above (Werkzeug 3.1's FormDataParser._parse_multipart).
        parser = TextMultiPartParser(stream_factory=self.stream_factory, max_form_memory_size=self.max_form_memory_size,
                                     max_form_parts=self.max_form_parts, cls=self.cls)
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files

    def parse(self, *args, **kwargs):
        stream, form, files = super().parse(*args, **kwargs)
        return stream, self.cls([(normalise(k), normalise(v)) for k, v in form.items(multi=True)]), files


class Request(FlaskRequest):
    form_data_parser_class = TextFormDataParser

    @cached_property
    def args(self):
        # Werkzeug decodes the raw query string strictly: a raw invalid byte used to be a 500.
        return self.parameter_storage_class(decode_pairs(self.query_string))

    @cached_property
    def full_path(self):
        # Werkzeug decodes it strictly too (every page prints it in the language switch): bytes that are
        # not ASCII stay percent-encoded.
        return f"{self.path}?{quote(self.query_string, safe=QUERY_SAFE)}"


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, with every string of a request body (keys too) checked and normalised to NFC."""

    def loads(self, s, **kwargs):
        errors = {}
        value = _clean_json(super().loads(s, **kwargs), "", errors)
        if errors:
            raise InvalidText.for_fields(_printable(errors))
        return value


def _clean_json(value, path, errors):
    if isinstance(value, str):
        if not is_valid(value):
            errors[path or "body"] = NOT_TEXT
        return normalise(value)
    if isinstance(value, list):
        return [_clean_json(item, f"{path}[{index}]", errors) for index, item in enumerate(value)]
    if isinstance(value, dict):
        cleaned = {}
        for key, item in value.items():
            key = _clean_json(key, f"{path}.{key}" if path else key, errors)
            cleaned[key] = _clean_json(item, f"{path}.{key}" if path else key, errors)
        return cleaned
    return value


def _refuse_invalid_text():
    """Before any view: every query parameter and form field must be valid Unicode."""
    errors = {name: NOT_TEXT for name, value in request.args.items(multi=True)
              if not (is_valid(name) and is_valid(value))}
    if errors:
        raise InvalidText.for_fields(_printable(errors))
    if request.mimetype in FORM_MIMETYPES:
        errors = {name: NOT_TEXT for name, value in request.form.items(multi=True)
                  if not (is_valid(name) and is_valid(value))}
        if errors:
            raise InvalidText.for_fields(_printable(errors), status=422)


def _printable(errors):
    # A field's name may be the bad text itself: name it with the surrogates written out.
    return {name.encode("utf-8", "backslashreplace").decode("utf-8"): message for name, message in errors.items()}


def init_app(app):
    app.request_class = Request
    app.json = JSONProvider(app)
    app.before_request(_refuse_invalid_text)
