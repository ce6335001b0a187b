"""The audit trail of products and OCOP certificates: one function per event (as saleor's order/events.py).

A service says what happened by name (`events.product_deleted(product, actor)`) and the function adds
one `CatalogEvent` to the service's unit of work. Every event belongs to the product's cooperative,
so its history outlives the product: `product_id` (and `certificate_id`) become NULL when their row
is deleted, and the note keeps what the history must still say (the product's name, the certificate's
stars and number).
"""
from marketplace.catalog.models import CatalogEvent, CatalogEventKind
from marketplace.extensions import db


def _add(kind, product, actor=None, note="", certificate=None, keep_links=True):
    if keep_links and (product.id is None or (certificate is not None and certificate.id is None)):
        db.session.flush()  # the event refers to the rows by id
    event = CatalogEvent(
        product_id=product.id if keep_links else None,
        cooperative_id=product.cooperative_id or product.cooperative.id,
        certificate_id=certificate.id if keep_links and certificate is not None else None,
        actor=actor, kind=kind, note=note or "",
    )
    db.session.add(event)
    return event


def _certificate_note(certificate):
    return f"{certificate.stars}★ {certificate.certificate_no}"


# ---------------------------------------------------------------- products

def product_created(product, actor):
    return _add(CatalogEventKind.CREATED, product, actor)


def product_updated(product, actor):
    return _add(CatalogEventKind.UPDATED, product, actor)


def product_imported(product, actor):
    """Created or updated by a spreadsheet import (the alliance's registry or the cooperative's file)."""
    return _add(CatalogEventKind.IMPORTED, product, actor)


def product_published(product, actor):
    return _add(CatalogEventKind.PUBLISHED, product, actor)


def product_hidden(product, actor):
    return _add(CatalogEventKind.HIDDEN, product, actor)


def product_deleted(product, actor):
    """Written without a link to the product, which goes in the same unit of work; the note names it."""
    return _add(CatalogEventKind.DELETED, product, actor, note=product.name, keep_links=False)


# ---------------------------------------------------------------- photos

def photos_added(product, actor, file_names):
    """`file_names`: the names the uploads had on the cooperative's device (only for the history)."""
    return _add(CatalogEventKind.PHOTOS_ADDED, product, actor, note=", ".join(name[:80] for name in file_names))


def photo_removed(product, actor):
    return _add(CatalogEventKind.PHOTO_REMOVED, product, actor)


def cover_photo_changed(product, actor):
    return _add(CatalogEventKind.COVER_PHOTO_CHANGED, product, actor)


# ---------------------------------------------------------------- OCOP certificates

def certificate_added(certificate, actor):
    return _add(CatalogEventKind.CERTIFICATE_ADDED, certificate.product, actor,
                note=_certificate_note(certificate), certificate=certificate)


def certificate_withdrawn(certificate, actor):
    """The cooperative took back a pending certificate, which is deleted: the note says which it was."""
    return _add(CatalogEventKind.CERTIFICATE_WITHDRAWN, certificate.product, actor,
                note=_certificate_note(certificate))


def certificate_verified(certificate, actor):
    """The note is what the alliance checked (required when there was no scan)."""
    return _add(CatalogEventKind.CERTIFICATE_VERIFIED, certificate.product, actor,
                note=certificate.status_reason, certificate=certificate)


def certificate_revoked(certificate, actor):
    """The note is the alliance's reason, which the cooperative reads."""
    return _add(CatalogEventKind.CERTIFICATE_REVOKED, certificate.product, actor,
                note=certificate.status_reason, certificate=certificate)


def certificate_expired(certificate):
    """Marked by `flask catalog expire-certificates`: no one acted."""
    return _add(CatalogEventKind.CERTIFICATE_EXPIRED, certificate.product, certificate=certificate)
