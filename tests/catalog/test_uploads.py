"""Upload attacks over HTTP, on the workspace's photo and certificate-scan uploads (checklist rows 25-29).

Each attack goes through the real page (multipart POST as a logged-in cooperative) and checks what
reached the disk and the database, and how stored files are served.
"""
import io
import os
import re
import struct
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageFile
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from bench import hostile_files
from marketplace.catalog import services
from marketplace.catalog.models import OcopCertificate, Product, ProductImage
from marketplace.extensions import db
from tests import factories
from tests.factories import PDF, jpeg, png
from tests.support import fetch

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STORED_FILE = re.compile(r"^[0-9a-f]{32}(_thumb)?\.webp$")


# ---------------------------------------------------------------- sample files

def gps_jpeg():
    """A JPEG whose EXIF says where it was taken (as phone photos do)."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (21.0, 50.0, 48.0), 3: "E", 4: (106.0, 45.0, 36.0)})
    data = jpeg(exif=exif)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825), "the sample must carry GPS data"
    return data


def _png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bomb_png(width=50_000, height=50_000):
    """A tiny PNG whose header claims width x height pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    data = zlib.compress(b"\0" * 1024, 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


PHP = b"<?php system($_GET['cmd']); ?>\n"
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert(1)</script><rect width="10" height="10"/></svg>')
GIF_HTML = b"GIF89a/*\x0a\x00\x0a\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff*/=1;<script>alert(1)</script>"


# ---------------------------------------------------------------- fixtures and helpers

@pytest.fixture
def product(app, cooperative_owner):
    return factories.product(cooperative_owner.organisation, status="draft")


@pytest.fixture
def owner_client(client, auth, cooperative_owner):
    assert auth.login(cooperative_owner.email).status_code == 302
    return client


def post_photos(client, product_id, *files):
    """POST files (bytes, filename) to the product's photo upload. The body is encoded here, in memory:
    the test client spools a body over 500 KB to a temporary file that it never closes."""
    boundary, body = encode_multipart(MultiDict(
        [("photos", FileStorage(io.BytesIO(content), filename=name)) for content, name in files]))
    return client.post(f"/products/{product_id}/photos", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def stored_files(app):
    root = Path(app.config["UPLOAD_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file())


def images_of(product_id):
    db.session.expire_all()
    return db.session.scalars(db.select(ProductImage).filter_by(product_id=product_id)
                              .order_by(ProductImage.position)).all()


def assert_refused(response, app, product_id, message):
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert 'id="photos" ' in page and 'aria-invalid="true"' in page
    assert images_of(product_id) == []
    assert stored_files(app) == []


# ---------------------------------------------------------------- size (row 25)

def test_an_upload_over_five_megabytes_is_refused_with_413(app, owner_client, product):
    boundary, body = encode_multipart({
        "photos": FileStorage(io.BytesIO(jpeg() + b"\0" * (6 * 1024 * 1024)), filename="big.jpg",
                              content_type="image/jpeg"),
    })
    response = owner_client.post(f"/products/{product.id}/photos", data=body,
                                 content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413
    assert images_of(product.id) == [] and stored_files(app) == []


def test_a_file_over_five_megabytes_inside_the_limit_is_never_stored(app, cooperative_owner, product):
    """The service's own limit, for callers without MAX_CONTENT_LENGTH in front (CLI, import)."""
    upload = FileStorage(io.BytesIO(b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024 + 1)), filename="big.jpg")
    with pytest.raises(services.ValidationFailed) as error:
        services.add_photos(cooperative_owner, product.id, [upload])
    assert "5 MB" in str(error.value.errors["photos"])
    assert stored_files(app) == []


# ---------------------------------------------------------------- type from the content (row 26)

@pytest.mark.parametrize("content, filename", [
    (PHP, "shell.php.jpg"),
    (PHP, "shell.jpg"),
    (HTML, "page.png"),
    (SVG, "drawing.svg"),
    (SVG, "drawing.png"),
    (GIF_HTML, "polyglot.gif"),
    (GIF_HTML, "polyglot.jpg"),
    (PDF, "document.jpg"),
    (b"", "empty.jpg"),
])
def test_files_that_are_not_photos_are_refused_with_a_clear_error(app, owner_client, english, product, content,
                                                                  filename):
    response = post_photos(owner_client, product.id, (content, filename))
    expected = "The file is empty." if not content else "This file is not a JPEG, PNG or WebP image."
    assert_refused(response, app, product.id, expected)
    assert filename in response.get_data(as_text=True)  # which file of the batch is wrong


def test_the_name_of_a_refused_file_is_shown_as_text(app, owner_client, english, product):
    """The error quotes the file name: it must be escaped (a translated message is not safe markup)."""
    response = post_photos(owner_client, product.id, (HTML, '<img src=x onerror=alert(1)>.png'))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<img src=x onerror" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.png: This file is not a JPEG, PNG or WebP image." in page


def test_a_decompression_bomb_is_refused_before_decoding(app, owner_client, english, product):
    data = bomb_png()
    assert len(data) < 200  # tiny on disk, 2.5 gigapixels when decoded
    response = post_photos(owner_client, product.id, (data, "bomb.png"))
    assert_refused(response, app, product.id, "The image is too large (at most 16 megapixels).")


def test_one_bad_file_refuses_the_whole_batch_and_leaves_nothing_on_disk(app, owner_client, english, product):
    response = post_photos(owner_client, product.id, (jpeg(), "good.jpg"), (HTML, "evil.png"), (png(), "good.png"))
    assert_refused(response, app, product.id, "evil.png")


def test_a_jpeg_with_a_script_appended_is_accepted_but_re_encoded_without_it(app, owner_client, product):
    polyglot = jpeg() + b"<script>alert(document.domain)</script><?php echo 1; ?>"
    assert Image.open(io.BytesIO(polyglot)).format == "JPEG"  # browsers and Pillow still read it as a photo
    response = post_photos(owner_client, product.id, (polyglot, "holiday.jpg"))
    assert response.status_code == 302
    [image] = images_of(product.id)
    for path in stored_files(app):
        content = path.read_bytes()
        assert content[:4] == b"RIFF" and content[8:12] == b"WEBP"
        assert b"<script" not in content and b"<?php" not in content
    served = fetch(owner_client, f"/media/products/{image.stored_name}.webp")
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/webp"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert b"<script" not in served.data


# ---------------------------------------------------------------- names, place and permissions (rows 27-29)

def test_the_uploaded_name_is_never_used_and_files_stay_outside_static(app, owner_client, product):
    response = post_photos(owner_client, product.id, (jpeg(), "../../app.py.jpg"), (png(), "..\\..\\wsgi.py.png"))
    assert response.status_code == 302
    images = images_of(product.id)
    assert len(images) == 2
    upload_dir = Path(app.config["UPLOAD_DIR"]).resolve()
    static_dir = PROJECT_ROOT / "static"
    assert not upload_dir.is_relative_to(static_dir)
    files = stored_files(app)
    assert len(files) == 4  # a photo and a thumbnail each
    for path in files:
        assert path.parent == upload_dir / "products"
        assert STORED_FILE.match(path.name), path.name
        assert "app" not in path.name and "wsgi" not in path.name
        assert os.stat(path).st_mode & 0o777 == 0o640
    assert {image.stored_name for image in images} == {p.name[:32] for p in files}
    assert not (PROJECT_ROOT / "app.py").exists()
    for image in images:
        for url in (f"/media/products/{image.stored_name}.webp", f"/media/products/{image.stored_name}/thumb.webp"):
            served = fetch(owner_client, url)
            assert served.status_code == 200, url
            assert served.headers["Content-Type"] == "image/webp"
            assert served.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", [
    "/media/products/..%2F..%2Fapp.py.webp",
    "/media/products/../../wsgi.py.webp",
    "/media/products/%2e%2e%2fconfig.webp",
    "/media/products/0123456789abcdef0123456789abcdeg.webp",
    "/media/products/app/thumb.webp",
])
def test_path_tricks_on_served_photos_find_nothing(owner_client, path):
    response = fetch(owner_client, path)
    assert response.status_code == 404
    assert not response.headers["Content-Type"].startswith("image/")


def test_exif_and_gps_are_stripped(app, owner_client, product):
    response = post_photos(owner_client, product.id, (gps_jpeg(), "field.jpg"))
    assert response.status_code == 302
    for path in stored_files(app):
        content = path.read_bytes()
        assert b"Exif" not in content and b"PhoneMaker" not in content
        with Image.open(path) as stored:
            assert stored.format == "WEBP"
            assert not stored.getexif() and "exif" not in stored.info


def test_photos_are_resized_and_get_a_thumbnail(app, owner_client, product):
    response = post_photos(owner_client, product.id, (jpeg(size=(3000, 2000)), "large.jpg"))
    assert response.status_code == 302
    [image] = images_of(product.id)
    assert (image.width, image.height) == (1600, 1067)
    thumbnail = Path(app.config["UPLOAD_DIR"]) / "products" / f"{image.stored_name}_thumb.webp"
    with Image.open(thumbnail) as small:
        assert max(small.size) == 480


# ---------------------------------------------------------------- certificate scans

def certificate_form(**overrides):
    data = {"stars": "4", "certificate_no": "Demo-OCOP-2026-017", "issuing_level": "province",
            "decision_date": (services.today() - timedelta(days=30)).isoformat(), "expires_on": ""}
    data.update(overrides)
    return data


@pytest.mark.parametrize("content, filename", [(HTML, "scan.pdf"), (SVG, "scan.png"), (PHP, "scan.jpg")])
def test_a_scan_that_is_neither_pdf_nor_image_is_refused(app, owner_client, english, product, content, filename):
    data = certificate_form(scan=(io.BytesIO(content), filename))
    response = owner_client.post(f"/products/{product.id}/certificates/new", data=data,
                                 content_type="multipart/form-data")
    assert response.status_code == 422
    assert "This file is not a JPEG, PNG or WebP image." in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(OcopCertificate.id))) == 0
    assert stored_files(app) == []


def test_a_pdf_scan_is_kept_and_served_only_as_an_attachment(app, owner_client, product):
    data = certificate_form(scan=(io.BytesIO(PDF), "../../giay-chung-nhan.pdf"))
    response = owner_client.post(f"/products/{product.id}/certificates/new", data=data,
                                 content_type="multipart/form-data")
    assert response.status_code == 302
    certificate = db.session.scalar(db.select(OcopCertificate))
    assert re.fullmatch(r"[0-9a-f]{32}\.pdf", certificate.scan_name)
    [path] = stored_files(app)
    assert path.parent.name == "certificates" and os.stat(path).st_mode & 0o777 == 0o640
    served = fetch(owner_client, f"/certificates/{certificate.id}/scan")
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "application/pdf"
    assert served.headers["Content-Disposition"].startswith("attachment;")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in served.headers["Cache-Control"] and "private" in served.headers["Cache-Control"]
    assert served.data == PDF


def test_an_image_scan_is_re_encoded_and_served_as_webp(app, owner_client, product):
    data = certificate_form(scan=(io.BytesIO(gps_jpeg() + b"<script>x</script>"), "scan.jpg"))
    response = owner_client.post(f"/products/{product.id}/certificates/new", data=data,
                                 content_type="multipart/form-data")
    assert response.status_code == 302
    certificate = db.session.scalar(db.select(OcopCertificate))
    served = fetch(owner_client, f"/certificates/{certificate.id}/scan")
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/webp"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in served.headers["Cache-Control"]
    assert b"<script" not in served.data and b"Exif" not in served.data


def test_scans_are_for_the_cooperative_and_the_alliance_only(app, owner_client, product, alliance_user,
                                                             enterprise_owner):
    data = certificate_form(scan=(io.BytesIO(PDF), "scan.pdf"))
    assert owner_client.post(f"/products/{product.id}/certificates/new", data=data,
                             content_type="multipart/form-data").status_code == 302
    certificate = db.session.scalar(db.select(OcopCertificate))
    url = f"/certificates/{certificate.id}/scan"
    other = factories.user(factories.organisation("cooperative"), email="other@htx.example")
    for user, expected in ((alliance_user, 200), (enterprise_owner, 404), (other, 404)):
        client = app.test_client()
        assert client.post("/login", data={"email": user.email, "password": factories.PASSWORD}).status_code == 302
        assert fetch(client, url).status_code == expected, user.email
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert db.session.get(Product, product.id) is not None


# ---------------------------------------------------------------- bounded decoding (issue 12, row 36)

@pytest.fixture
def decodes(monkeypatch):
    """Every full decode (ImageFile.load) as (format, decoded size): the spy that proves a refusal came
    before the expensive work."""
    seen = []
    original = ImageFile.ImageFile.load

    def load(image):
        if image.tile:  # a decode to come, not a call on an image already in memory
            seen.append((image.format, image.size))
        return original(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return seen


@pytest.fixture(scope="module")
def probe_photos():
    return hostile_files.probe_photos()


def test_the_probes_three_huge_pngs_and_an_invalid_file_are_refused_without_decoding(
        app, owner_client, english, product, decodes, probe_photos):
    """Three 6300 x 6300 PNGs (39.7 megapixels, under the old cap of 40) and one invalid file cost 9.5 s
    and were refused anyway: now the first header refuses the batch, and nothing is decoded."""
    assert [len(data) < 200_000 for data, _name in probe_photos[:3]] == [True] * 3
    response = post_photos(owner_client, product.id, *probe_photos)
    assert_refused(response, app, product.id, "a.png: The image is too large (at most 16 megapixels).")
    assert decodes == []


def test_every_header_is_checked_before_any_file_is_decoded(app, owner_client, english, product, decodes):
    """Photos within the cap, then an invalid file: refused for the invalid file, having decoded none."""
    within = hostile_files.png(2000, 2000)
    response = post_photos(owner_client, product.id, (within, "a.png"), (within, "b.png"),
                           (hostile_files.NOT_AN_IMAGE, "d.png"))
    assert_refused(response, app, product.id, "d.png: This file is not a JPEG, PNG or WebP image.")
    assert decodes == []


def test_the_pixels_of_one_upload_are_capped_together(app, owner_client, english, product, decodes):
    side = hostile_files.square_side(10_000_000)  # each under 16 megapixels, together over 16
    big = hostile_files.png(side, side)
    response = post_photos(owner_client, product.id, (big, "a.png"), (big, "b.png"))
    assert_refused(response, app, product.id,
                   "These images are too large together (at most 16 megapixels in one upload).")
    assert decodes == []
    assert post_photos(owner_client, product.id, (big, "a.png")).status_code == 302
    assert decodes == [("PNG", (side, side))]


def test_too_many_files_in_one_upload_are_refused_before_reading_them(app, owner_client, english, product,
                                                                      decodes):
    app.config["UPLOAD_MAX_FILES"] = 2
    response = post_photos(owner_client, product.id, *[(jpeg(), f"{n}.jpg") for n in range(3)])
    assert_refused(response, app, product.id, "Send at most 2 files at once.")
    assert decodes == []


def test_a_large_baseline_jpeg_is_decoded_at_the_scale_it_is_stored_at(app, owner_client, product, decodes):
    """A 48-megapixel phone photo is over the cap as pixels, but libjpeg decodes it at 1/4: 3 megapixels."""
    data = hostile_files.jpeg(8000, 6000)
    assert post_photos(owner_client, product.id, (data, "phone.jpg")).status_code == 302
    assert decodes == [("JPEG", (2000, 1500))]
    [image] = images_of(product.id)
    assert (image.width, image.height) == (1600, 1200)


def test_a_progressive_jpeg_counts_every_pixel(app, owner_client, english, product, decodes):
    """libjpeg keeps every coefficient of a progressive JPEG whatever the scale (6 bytes a pixel in 4:4:4)."""
    data = hostile_files.jpeg(5000, 4000, progressive=True, subsampling=0)
    response = post_photos(owner_client, product.id, (data, "progressive.jpg"))
    assert_refused(response, app, product.id, "progressive.jpg: The image is too large (at most 16 megapixels).")
    assert decodes == []


def test_a_huge_image_scan_is_refused_without_decoding(app, owner_client, english, product, decodes,
                                                       probe_photos):
    data = certificate_form(scan=(io.BytesIO(probe_photos[0][0]), "scan.png"))
    response = owner_client.post(f"/products/{product.id}/certificates/new", data=data,
                                 content_type="multipart/form-data")
    assert response.status_code == 422
    assert "The image is too large (at most 16 megapixels)." in response.get_data(as_text=True)
    assert decodes == [] and stored_files(app) == []


def test_the_image_limits_are_settings(app, owner_client, english, product, decodes):
    app.config["IMAGE_MAX_PIXELS"] = 1_000_000
    response = post_photos(owner_client, product.id, (hostile_files.png(1001, 1000), "a.png"))
    assert_refused(response, app, product.id, "a.png: The image is too large (at most 1 megapixels).")
    assert decodes == []


def test_a_webps_pixels_count_twice(app, owner_client, english, product, decodes):
    """Pillow's WebP decoder holds the image three times over while decoding it."""
    side = hostile_files.square_side(9_000_000)
    response = post_photos(owner_client, product.id, (hostile_files.webp(side, side), "big.webp"))
    assert_refused(response, app, product.id, "big.webp: The image is too large (at most 8 megapixels).")
    assert decodes == []
    assert post_photos(owner_client, product.id, (hostile_files.webp(2000, 2000), "ok.webp")).status_code == 302
