"""Uploaded files: product photos, certificate scans, milestones' evidence. The only module that touches them on disk.

Nothing a user sends is trusted: the type is read from the content (never the name or the
Content-Type header), images are decoded and re-encoded with Pillow (which drops EXIF, trailing
polyglot payloads and anything that is not pixels), stored under random names outside static/,
and served only as image/webp or as a PDF attachment.

Decoding is the expensive part, so it is bounded before it starts. `inspect` reads only an image's
header (Image.open is lazy) and works out how many pixels decoding will cost: width x height for PNG;
twice that for WebP (DECODING_WEIGHT); for a baseline JPEG, what libjpeg decodes at the scale the
largest stored version needs (draft: 1/2, 1/4 or 1/8, so a 48-megapixel phone photo decodes as 3); for
a progressive JPEG, the whole image (libjpeg holds every coefficient whatever the scale). An image
above IMAGE_MAX_PIXELS is refused there. A request's files are all inspected before any is decoded,
and together they may cost IMAGE_MAX_PIXELS_PER_REQUEST: a batch with one bad file, or too many
pixels, is refused having decoded nothing. Decoding then holds one image at a time, and each smaller
version is made from the one before (docs/benchmarks.md measures the worst cases).
"""
import io
import math
import os
import re
import tempfile
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from marketplace.errors import ValidationFailed
from marketplace.jobs import outbox

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
EVIDENCE_IMAGE_FORMATS = {"JPEG", "PNG"}  # a milestone's evidence: photos and scans as phones make them
PHOTO_MAX_SIDE = 1600
THUMB_MAX_SIDE = 480
SCAN_MAX_SIDE = 2400
WEBP_QUALITY = 80
# libwebp's effort, 0-6 (Pillow's default is 4). 2 costs about half the CPU of 4 for files within a few
# per cent of the size on photos; WebP encoding is the one cost of an upload that grows with what the
# pixels hold (noise) rather than with how many there are (docs/benchmarks.md).
WEBP_METHOD = 2
STORED_NAME = re.compile(r"^[0-9a-f]{32}$")
FILE_MODE = 0o640
# Pillow's WebP decoder holds an image three times over while decoding it (libwebp's canvas, the frame's
# bytes, the image), where PNG and JPEG hold it about once: a WebP's pixels count twice.
DECODING_WEIGHT = {"WEBP": 2}
# What Pillow raises on a damaged file, at open or while decoding.
DAMAGED = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError)


@dataclass(frozen=True)
class Limits:
    """Caps on image uploads; config.py's IMAGE_MAX_PIXELS, IMAGE_MAX_PIXELS_PER_REQUEST and
    UPLOAD_MAX_FILES override the defaults."""

    max_pixels: int = 16_000_000  # decoded pixels of one image (RGBA: 64 MB)
    max_pixels_per_request: int = 16_000_000  # decoded pixels of all the images of one request, together
    max_files: int = 8  # files in one request

    @classmethod
    def from_config(cls, config):
        return cls(max_pixels=config["IMAGE_MAX_PIXELS"],
                   max_pixels_per_request=config["IMAGE_MAX_PIXELS_PER_REQUEST"],
                   max_files=config["UPLOAD_MAX_FILES"])


def configured_limits():
    return Limits.from_config(current_app.config)


@dataclass
class Inspected:
    """An upload whose header has been read and found within the limits; nothing is decoded yet."""

    image: Image.Image
    pixels: int  # what decoding it costs
    max_side: int  # of the largest version to store


def megapixels(pixels):
    return f"{pixels / 1_000_000:g}"


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


def evidence_path(evidence_name):
    """Where a milestone's evidence file lives; None for a name we could not have made."""
    stored, _, extension = (evidence_name or "").partition(".")
    if not STORED_NAME.match(stored) or extension not in ("webp", "pdf"):
        return None
    return _folder("evidence") / f"{stored}.{extension}"


def _read_limited(upload, field):
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if not data:
        raise ValidationFailed.for_fields({field: _l("The file is empty.")})
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationFailed.for_fields({field: _l("The file is larger than 5 MB.")})
    return data


def inspect(upload, field, max_side=PHOTO_MAX_SIDE, limits=None):
    """Read an upload and its image header, without decoding: an `Inspected`, or ValidationFailed on
    `field` for a file that is empty, over 5 MB, not a JPEG, PNG or WebP image, or too large to decode."""
    return inspect_bytes(_read_limited(upload, field), field, max_side, limits)


def inspect_bytes(data, field, max_side=PHOTO_MAX_SIDE, limits=None, accepted=ACCEPTED_FORMATS, not_image=None):
    """`accepted`: the image formats allowed (a subset of ACCEPTED_FORMATS); `not_image`: the ValidationFailed
    for anything else (default: "not a JPEG, PNG or WebP image")."""
    limits = limits or configured_limits()
    not_image = not_image or ValidationFailed.for_fields({field: _l("This file is not a JPEG, PNG or WebP image.")})

    def too_large(weight=1):
        return ValidationFailed.for_fields({field: _l("The image is too large (at most %(mp)s megapixels).",
                                                      mp=megapixels(limits.max_pixels // weight))})

    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check (89 megapixels and more, from the header) refuses too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=sorted(accepted))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_large() from None
    except DAMAGED:
        raise not_image from None
    if image.format not in accepted:
        raise not_image
    pixels = image.width * image.height
    if image.format == "JPEG":
        image.draft(None, _fitted(image.size, max_side))  # libjpeg decodes at 1/2, 1/4 or 1/8 scale
        if not image.info.get("progressive"):
            pixels = image.width * image.height
    weight = DECODING_WEIGHT.get(image.format, 1)
    pixels *= weight
    if pixels > limits.max_pixels:
        raise too_large(weight)
    return Inspected(image=image, pixels=pixels, max_side=max_side)


def check_together(inspected, field, limits=None):
    """Refuse a request whose images together cost more than IMAGE_MAX_PIXELS_PER_REQUEST to decode."""
    limits = limits or configured_limits()
    if sum(item.pixels for item in inspected) > limits.max_pixels_per_request:
        raise ValidationFailed.for_fields({field: _l(
            "These images are too large together (at most %(mp)s megapixels in one upload). Send them in several "
            "uploads.", mp=megapixels(limits.max_pixels_per_request))})


def _fitted(size, max_side):
    """The size of an image of `size` scaled down to fit in max_side x max_side (never up)."""
    scale = min(1.0, max_side / max(size))
    return max(1, math.ceil(size[0] * scale)), max(1, math.ceil(size[1] * scale))


def _decoded(inspected, field):
    """Decode an inspected image, turned upright (phones store rotation in EXIF, which re-encoding drops)."""
    image = inspected.image
    try:
        image.load()
    except DAMAGED:
        raise ValidationFailed.for_fields({field: _l("This file is not a JPEG, PNG or WebP image.")}) from None
    ImageOps.exif_transpose(image, in_place=True)
    return image.convert("RGB") if image.mode not in ("RGB", "RGBA") else image


def _webp_versions(inspected, field, sides):
    """[(WebP bytes, (width, height))] for each of `sides` (descending): each version is made from the one
    before, in place, so the decoded image is let go as soon as the first is made."""
    image = _decoded(inspected, field)
    inspected.image = None
    versions = []
    for side in sides:
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
        versions.append((buffer.getvalue(), image.size))
    return versions


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
    """Validate, re-encode and store a product photo (an upload, or what `inspect` made of one).
    Returns (stored_name, width, height)."""
    inspected = upload if isinstance(upload, Inspected) else inspect(upload, field)
    (photo, (width, height)), (thumbnail, _size) = _webp_versions(inspected, field, (PHOTO_MAX_SIDE, THUMB_MAX_SIDE))
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
    inspected = inspect_bytes(data, field, SCAN_MAX_SIDE)
    check_together([inspected], field)
    [(encoded, _size)] = _webp_versions(inspected, field, (SCAN_MAX_SIDE,))
    name = f"{stored}.webp"
    _write(scan_path(name), encoded)
    return name


def store_evidence(upload, field="evidence"):
    """Store the evidence of a milestone: a PDF kept as is (served only as an attachment to the MoU's parties and
    the alliance), or a JPEG or PNG decoded within the image limits and re-encoded to WebP (EXIF and anything
    that is not pixels dropped). Returns the stored name. Raises ValidationFailed on `field` for an empty file,
    one over 5 MB, anything else (an HTML page or a program named .pdf, a WebP, an SVG), a PDF cut short, or an
    image too large to decode."""
    data = _read_limited(upload, field)
    not_accepted = ValidationFailed.for_fields({field: _l("This file is not a PDF, JPEG or PNG file.")})
    stored = uuid.uuid4().hex
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-1024:]:  # every complete PDF ends with its end-of-file marker
            raise not_accepted
        name = f"{stored}.pdf"
        _write(evidence_path(name), data)
        return name
    inspected = inspect_bytes(data, field, SCAN_MAX_SIDE, accepted=EVIDENCE_IMAGE_FORMATS, not_image=not_accepted)
    check_together([inspected], field)
    [(encoded, _size)] = _webp_versions(inspected, field, (SCAN_MAX_SIDE,))
    name = f"{stored}.webp"
    _write(evidence_path(name), encoded)
    return name


def discard_after_commit(photo_names, scan_names, evidence_names=()):
    """Remove the files of rows deleted in the current unit of work, once it has committed (an outbox
    message: a rolled-back deletion keeps its files, and a failed removal is retried)."""
    if photo_names or scan_names or evidence_names:
        outbox.add("discard_files", {"photos": list(photo_names), "scans": list(scan_names),
                                     "evidence": list(evidence_names)})


@outbox.register("discard_files")
def _discard_committed(payload):
    if discard_files(payload["photos"], payload["scans"], payload.get("evidence", ())):
        raise OSError("some files could not be removed (see the log); the outbox retries")


def discard_files(photo_names, scan_names, evidence_names=()):
    """Remove files now: those of rows that were never committed (use discard_after_commit otherwise).

    Returns the paths that could not be removed (each logged); a file already gone is no failure.
    """
    paths = [photo_path(n) for n in photo_names] + [photo_path(n, thumbnail=True) for n in photo_names]
    paths += [scan_path(n) for n in scan_names]
    paths += [evidence_path(n) for n in evidence_names]
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
