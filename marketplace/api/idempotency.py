"""`Idempotency-Key`: a retried API request gets the first answer instead of being carried out twice.

ERP clients retry a request whose answer they did not receive. Sent with an `Idempotency-Key` header (1 to
255 visible ASCII characters, e.g. a UUID), a request decorated with `@idempotent` is carried out at most once
per (user, key) within KEY_LIFETIME (24 hours):

- the first request runs in ONE unit of work that first claims the key (an IdempotentRequest row, inserted
  and flushed before the service runs), then runs the handler, then stores its answer (status and JSON body)
  in that row: the service's changes and the stored answer commit together or not at all;
- a later request with the same key and the same request (method, path and body, hashed) gets the stored
  answer again, with `Idempotent-Replayed: true`;
- the same key with another request is refused: 422 `idempotency_key_reused`;
- two requests with the same key at the same moment: the second's claim waits for the first's (PostgreSQL's
  unique index, SQLite's write lock) and fails on the unique constraint once the first commits; its
  transaction is rolled back (so it created nothing) and it answers with the first's stored answer.

What is stored: every answer of the handler except server errors, as Stripe does. A 201, and equally a
refusal the service decided (403 not allowed to order, 409 `insufficient_capacity`, 422 a bad quantity,
400 a body that is not JSON), is the answer to that key for 24 hours: a retry cannot turn a refusal into an
order behind the client's back, and a client that corrects its request sends a new key. Such a refusal is
rolled back to a savepoint taken after the claim, so the service's partial writes are undone while the
claim and its stored answer commit. Not stored: a 5xx (the whole unit of work rolls back, nothing was
done, a retry runs again) and what is refused before the handler runs (401 without a valid token; 400
`invalid_parameter` for a malformed key), since there is no decided answer to keep.

Rows older than KEY_LIFETIME are ignored, replaced when their key comes again, and deleted by `prune()`
(scheduled hourly in marketplace/jobs/schedule.py, `flask api prune-idempotency-keys`).
"""
import hashlib
import json
import re
from datetime import timedelta
from functools import wraps

import sqlalchemy as sa
from flask import current_app, g, jsonify, request
from flask_babel import lazy_gettext as _l

from marketplace.errors import DomainError, InvalidParameter, ValidationFailed
from marketplace.extensions import db
from marketplace.orders.models import IdempotentRequest
from marketplace.sqltypes import utcnow
from marketplace.unit_of_work import unit_of_work

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255  # the column's size, and Stripe's limit
KEY_PATTERN = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}")  # visible ASCII: a UUID, a ULID, an ERP's id
KEY_LIFETIME = timedelta(hours=24)


class IdempotencyKeyReused(ValidationFailed):
    """The key was already used for another request (another body, path or method)."""

    status = 422
    code = "idempotency_key_reused"


def idempotent(view):
    """Honour `Idempotency-Key` on this view (place it under @token_required: the key is the user's)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not KEY_PATTERN.fullmatch(key):
            raise InvalidParameter.for_parameters({HEADER: _l(
                "Give 1 to %(max)s visible ASCII characters, such as a UUID.", max=MAX_KEY_LENGTH)})
        return answer(g.api_user.id, key, request_sha256(), lambda: view(*args, **kwargs))

    return wrapper


def request_sha256():
    """The request a key stands for: method, path and body (a JSON body in canonical form, so that a retry
    that writes the same object with other spacing or key order is the same request)."""
    body = request.get_json(silent=True) if request.is_json else None
    if body is None:
        data = request.get_data()
    else:
        data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode("utf-8", "surrogateescape"), data):
        digest.update(b"%d:" % len(part) + part)
    return digest.hexdigest()


def answer(user_id, key, digest, run):
    """The stored answer to (user_id, key), or `run()`'s answer stored for it. See the module's docstring."""
    stored = _stored(user_id, key)
    if stored is not None:
        return _replay(stored, digest)
    try:
        with unit_of_work():
            # A row of this key past its lifetime is forgotten: the key is free again.
            db.session.execute(sa.delete(IdempotentRequest).where(
                IdempotentRequest.user_id == user_id, IdempotentRequest.key == key,
                IdempotentRequest.created_at < utcnow() - KEY_LIFETIME))
            claim = IdempotentRequest(user_id=user_id, key=key, request_sha256=digest, status_code=0, body={})
            db.session.add(claim)
            db.session.flush()  # a concurrent request with this key waits here until this one commits
            response = _run(run)
            claim.status_code, claim.body = response.status_code, response.get_json()
    except sa.exc.IntegrityError:
        # The same key was claimed meanwhile and committed: everything done here was rolled back.
        stored = _stored(user_id, key)
        if stored is None:
            raise
        return _replay(stored, digest)
    return response


def _run(run):
    """The view's response; a refusal (4xx DomainError) is rolled back to the savepoint and answered as the
    app's error handler answers it. A server error propagates (and rolls the claim back too)."""
    try:
        with db.session.begin_nested():
            return current_app.make_response(run())
    except DomainError as error:
        if error.status >= 500:
            raise
        return current_app.make_response(current_app.handle_user_exception(error))


def _stored(user_id, key):
    return db.session.scalar(sa.select(IdempotentRequest).where(
        IdempotentRequest.user_id == user_id, IdempotentRequest.key == key,
        IdempotentRequest.created_at >= utcnow() - KEY_LIFETIME))


def _replay(stored, digest):
    if stored.request_sha256 != digest:
        raise IdempotencyKeyReused(
            _l("This Idempotency-Key was used for another request. Send a new key for a new request."),
            errors={HEADER: _l("Already used for another request in the last 24 hours.")})
    response = jsonify(stored.body)
    response.status_code = stored.status_code
    response.headers[REPLAYED_HEADER] = "true"
    return response


@unit_of_work()
def prune():
    """Delete the stored answers past KEY_LIFETIME; returns how many (scheduled: idempotent)."""
    return db.session.execute(sa.delete(IdempotentRequest).where(
        IdempotentRequest.created_at < utcnow() - KEY_LIFETIME)).rowcount
