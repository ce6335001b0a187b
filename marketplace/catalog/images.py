"""Uploaded files: product photos and certificate scans. The only module that touches them on disk.

Nothing a user sends is trusted: the type is read from the content (never the name or the
Content-Type header), images are decoded and re-encoded with Pillow (which drops EXIF, trailing
polyglot payloads and anything that is not pixels), stored under random names outside static/,
and served only as image/webp or as a PDF attachment.
"""
import io
import os
import re
import tempfile
import uuid
import warnings
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from marketplace.errors import ValidationFailed
from marketplace.jobs import outbox

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # 40 megapixels: any phone photo; refuses decompression bombs before decoding
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
PHOTO_MAX_SIDE = 1600
THUMB_MAX_SIDE = 480
WEBP_QUALITY = 80
STORED_NAME = re.compile(r"^[0-9a-f]{32}$")
FILE_MODE = 0o640


def _folder(kind):
    folder = Path(current_app.config["UPLOAD_DIR"]) / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def photo_path(stored_name, thumbnail=False):
    """Where a photo lives; None for a name we could not have made (no path tricks reach the disk)."""
    if not STORED_NAME.match(stored_name or ""):
        return None
    return _folder("products") / f"{stored_name}{'_thumb' if thumbnail else ''}.webp"


def scan_path(scan_name):
    stored, _, extension = (scan_name or "").partition(".")
    if not STORED_NAME.match(stored) or extension not in ("webp", "pdf"):
        return None
    return _folder("certificates") / f"{stored}.{extension}"


def _read_limited(upload, field):
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if not data:
        raise ValidationFailed.for_fields({field: _l("The file is empty.")})
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationFailed.for_fields({field: _l("The file is larger than 5 MB.")})
    return data


def _decode_image(data, field):
    """Open and fully decode an image, refusing anything that is not a plain JPEG, PNG or WebP photo."""
    not_image = ValidationFailed.for_fields({field: _l("This file is not a JPEG, PNG or WebP image.")})
    too_large = ValidationFailed.for_fields(
        {field: _l("The image is too large (at most %(mp)s megapixels).", mp=MAX_PIXELS // 1_000_000)})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=sorted(ACCEPTED_FORMATS))
            if image.width * image.height > MAX_PIXELS:
                raise too_large
            image.load()
    except ValidationFailed:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_large from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise not_image from None
    if image.format not in ACCEPTED_FORMATS:
        raise not_image
    image = ImageOps.exif_transpose(image)  # phones store rotation in EXIF, which re-encoding drops
    return image.convert("RGB") if image.mode not in ("RGB", "RGBA") else image


def _encode_webp(image, max_side):
    copy = image.copy()
    copy.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    copy.save(buffer, "WEBP", quality=WEBP_QUALITY, method=4)
    return buffer.getvalue(), copy.size


def _write(path, data):
    """Write atomically with restrictive permissions; never overwrite an existing file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, FILE_MODE)
        os.link(temporary, path)  # fails if the name exists: a collision never replaces a file
    finally:
        os.unlink(temporary)


def store_photo(upload, field="photo"):
    """Validate, re-encode and store a product photo. Returns (stored_name, width, height)."""
    image = _decode_image(_read_limited(upload, field), field)
    photo, (width, height) = _encode_webp(image, PHOTO_MAX_SIDE)
    thumbnail, _size = _encode_webp(image, THUMB_MAX_SIDE)
    stored_name = uuid.uuid4().hex
    _write(photo_path(stored_name), photo)
    _write(photo_path(stored_name, thumbnail=True), thumbnail)
    return stored_name, width, height


def store_scan(upload, field="scan"):
    """Store a certificate scan: a PDF kept as is (served only as an attachment) or an image re-encoded."""
    data = _read_limited(upload, field)
    stored = uuid.uuid4().hex
    if data.startswith(b"%PDF-"):
        name = f"{stored}.pdf"
        _write(scan_path(name), data)
        return name
    image = _decode_image(data, field)
    encoded, _size = _encode_webp(image, 2400)
    name = f"{stored}.webp"
    _write(scan_path(name), encoded)
    return name


def discard_after_commit(photo_names, scan_names):
    """Remove the files of rows deleted in the current unit of work, once it has committed (an outbox
    message: a rolled-back deletion keeps its files, and a failed removal is retried)."""
    if photo_names or scan_names:
        outbox.add("discard_files", {"photos": list(photo_names), "scans": list(scan_names)})


@outbox.register("discard_files")
def _discard_committed(payload):
    if discard_files(payload["photos"], payload["scans"]):
        raise OSError("some files could not be removed (see the log); the outbox retries")


def discard_files(photo_names, scan_names):
    """Remove files now: those of rows that were never committed (use discard_after_commit otherwise).

    Returns the paths that could not be removed (each logged); a file already gone is no failure.
    """
    paths = [photo_path(n) for n in photo_names] + [photo_path(n, thumbnail=True) for n in photo_names]
    paths += [scan_path(n) for n in scan_names]
    failed = []
    for path in paths:
        if path is not None:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                current_app.logger.exception("Could not remove %s", path)
                failed.append(path)
    return failed
