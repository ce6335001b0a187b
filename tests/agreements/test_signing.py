"""Signing certificates, PAdES signatures and verification (marketplace/agreements/signing.py).

Every signed document is checked by two independent verifiers: pyHanko (signing.verify, judged by
bottom_line) and poppler's pdfsig, which trusts the platform CA through an NSS database made in
tmp_path. pdfsig exits 0 whatever it finds, so its output is parsed. In CI the tools (poppler-utils,
libnss3-tools) must be there; elsewhere their tests skip without them.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtensionOID, NameOID

from marketplace.accounts import services as accounts
from marketplace.agreements import pdf, signing
from marketplace.agreements.signing_models import SigningCertificate
from marketplace.extensions import db
from marketplace.unit_of_work import unit_of_work
from tests import factories
from tests.support import BASE_CONFIG, append_update, encrypted_pdf, import_crl, pdfsig

ROOT = Path(__file__).resolve().parents[2]
LONG_NAME = "Liên minh Hợp tác xã tỉnh Lạng Sơn - Trung tâm hỗ trợ phát triển hợp tác xã và kết nối tiêu thụ nông sản"


def render(**fields):
    return pdf.render_agreement(factories.agreement_content(**fields), verify_url="https://chohtx.vn/verify/1")


class Parties:
    """Seller, buyer and witness organisations, with certificates issued in one unit of work."""

    def __init__(self):
        self.seller = factories.organisation("cooperative", legal_name="Hợp tác xã Nông sản sạch Tràng Định")
        self.buyer = factories.organisation("enterprise", legal_name="Công ty Cổ phần Thực phẩm Sạch Hà Nội")
        self.witness = factories.organisation("cooperative", legal_name=LONG_NAME)
        with unit_of_work():
            self.credentials = {role: signing.credentials_for(getattr(self, role))
                                for role in ("seller", "buyer", "witness")}

    def sign_all(self, data):
        data = signing.sign(data, self.credentials["seller"], certify=True, field_name="seller",
                            signer_name="Hoàng Văn Minh", reason="Ký thỏa thuận", location="Lạng Sơn")
        data = signing.sign(data, self.credentials["buyer"], certify=False, field_name="buyer",
                            signer_name="Nguyễn Thị Lan", reason="Đồng ý")
        return signing.sign(data, self.credentials["witness"], certify=False, field_name="witness",
                            signer_name="Trần Văn Đức", reason="Làm chứng")


@pytest.fixture
def parties(app):
    return Parties()


@pytest.fixture
def signed(parties):
    return parties.sign_all(render())


# ------------------------------------------------------------------------------------ pdfsig


# -------------------------------------------------------------------------- the signed document


def test_three_signatures_pass_pyhanko_and_pdfsig(parties, signed, nss, tmp_path):
    result = signing.verify(signed)
    assert result.ok and result.error is None and result.is_platform_document
    assert [s.field_name for s in result.signatures] == ["seller", "buyer", "witness"]
    assert all(s.bottom_line and s.intact and s.valid and s.trusted and not s.revoked for s in result.signatures)
    seller, buyer, witness = result.signatures
    assert seller.certifying and not buyer.certifying and not witness.certifying
    assert (seller.coverage, seller.later_changes) == ("entire_revision", "signatures")
    assert seller.later_changes_allowed and seller.docmdp_ok
    assert (buyer.coverage, buyer.later_changes) == ("entire_revision", "signatures")
    assert (witness.coverage, witness.covers_whole_document, witness.later_changes) == ("entire_file", True, "none")
    assert seller.organisation == "Hợp tác xã Nông sản sạch Tràng Định" and seller.tax_code == parties.seller.tax_code
    assert seller.serial == parties.credentials["seller"].serial
    assert witness.organisation == LONG_NAME  # O keeps the whole name; CN is cut to 64 bytes
    assert len(witness.signer_name.encode()) <= 64 and witness.signer_name.endswith("…")
    assert result.sha256 == hashlib.sha256(signed).hexdigest()

    report = pdfsig(signed, nss, tmp_path)
    assert [s["Signature Field Name"] for s in report] == ["seller", "buyer", "witness"]
    for entry in report:
        assert entry["Signature Validation"] == "Signature is Valid."
        assert entry["Certificate Validation"] == "Certificate is Trusted."
        assert entry["Signature Type"] == "ETSI.CAdES.detached"
    assert report[0]["Signer Certificate Common Name"] == "Hợp tác xã Nông sản sạch Tràng Định"
    assert report[-1].get("Total document signed") is True
    assert report[0].get("Not total document signed") is True


def test_one_changed_byte_is_detected_by_both(signed, nss, tmp_path):
    tampered = bytearray(signed)
    position = signed.index(b"stream\n") + 100  # inside the first page's content, in every signed range
    tampered[position] ^= 0x01
    result = signing.verify(bytes(tampered))
    assert result.error is None and not result.ok
    assert all(not s.intact and not s.bottom_line for s in result.signatures)
    for entry in pdfsig(bytes(tampered), nss, tmp_path):
        # poppler 22.12 says "Unknown Validation Failure." for a CAdES digest mismatch, older ones "Digest Mismatch."
        assert entry["Signature Validation"] != "Signature is Valid."


def test_a_change_after_the_signatures_is_reported(signed, nss, tmp_path):
    """An incremental update that replaces a page's content: every signature stays intact, but none
    covers the document any more and the certification's bottom line fails."""
    changed = append_update(signed, b"BT /F1 24 Tf 72 700 Td (Gia moi: 1 dong) Tj ET")
    result = signing.verify(changed)
    assert result.error is None and not result.ok
    seller, buyer, witness = result.signatures
    assert all(s.intact and s.valid for s in result.signatures)
    assert (witness.coverage, witness.later_changes) == ("entire_revision", "other")
    assert not witness.later_changes_allowed
    assert not seller.bottom_line and not seller.docmdp_ok
    report = pdfsig(changed, nss, tmp_path)
    assert all(entry.get("Not total document signed") is True for entry in report)


def test_a_signature_made_after_revocation_is_reported_revoked(app, parties, nss, tmp_path):
    stale = parties.credentials["buyer"]
    with unit_of_work():
        assert signing.revoke(parties.buyer, "key_compromise") == [stale.serial]
    document = signing.sign(render(), parties.credentials["seller"], certify=True, field_name="seller",
                            signer_name="Hoàng Văn Minh", reason="Ký")
    document = signing.sign(document, stale, certify=False, field_name="buyer", signer_name="Nguyễn Thị Lan",
                            reason="Đồng ý")
    result = signing.verify(document)
    seller, buyer = result.signatures
    assert seller.bottom_line and not seller.revoked
    assert buyer.revoked and buyer.intact and buyer.valid and not buyer.trusted and not buyer.bottom_line
    assert not result.ok and result.is_platform_document

    # pdfsig never fetches the CRL: it trusts the certificate until the CRL is imported into its database.
    assert pdfsig(document, nss, tmp_path)[1]["Certificate Validation"] == "Certificate is Trusted."
    import_crl(nss, tmp_path)
    report = pdfsig(document, nss, tmp_path)
    assert report[0]["Certificate Validation"] == "Certificate is Trusted."
    assert report[1]["Certificate Validation"] == "Certificate has been Revoked."

    with unit_of_work():
        fresh = signing.credentials_for(parties.buyer)  # a new certificate replaces the revoked one
    assert fresh.serial != stale.serial
    again = signing.sign(render(), fresh, certify=True, field_name="buyer", signer_name="Nguyễn Thị Lan", reason="Ký")
    assert signing.verify(again).ok


def test_a_twenty_megabyte_document_verifies_in_well_under_two_seconds(parties):
    document = pdf.FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.cell(text="Attachment")
    document.embed_file(bytes=os.urandom(19_500_000), basename="data.bin", compress=False)
    data = parties.sign_all(bytes(document.output()))
    assert 19_500_000 < len(data) < 20 * 1024 * 1024
    signing.verify(render())  # the first verification of a process starts its fork server
    started = time.perf_counter()
    result = signing.verify(data)
    elapsed = time.perf_counter() - started
    assert result.ok, result
    assert elapsed < 2.0, elapsed


# ------------------------------------------------------------------------------------ refusals


def self_signed(common_name="Công ty Khác"):
    """A key and a self-signed certificate: an authority the platform does not trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = signing.utcnow()
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(7).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
                   .sign(key, hashes.SHA256()))
    return key, certificate


@pytest.fixture(scope="module")
def any_signed():
    """A signed memorandum for the refusals, whose signer does not matter (no database, no CA)."""
    credentials = signing.KeyPairCredentials(*reversed(self_signed()))
    return signing.sign(render(), credentials, certify=True, field_name="seller", signer_name="X", reason="Ký")


def handmade_pdf(*objects, trailer=b""):
    """A PDF with a classic cross-reference table; object 1 is the catalogue."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref)
    return bytes(out)


OBJECT_STREAM = b"<< /Type /ObjStm /N 1 /First 4 /Length 6 >>\nstream\n1 0 2\nendstream"
CATALOGUE = (b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
             b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")


@pytest.mark.parametrize("name, make, code", [
    ("empty", lambda signed: b"", "not_pdf"),
    ("text", lambda signed: "Thỏa thuận ghi nhớ".encode(), "not_pdf"),
    ("image", lambda signed: factories.png(), "not_pdf"),
    ("truncated", lambda signed: signed[: len(signed) // 2], "malformed"),
    ("without its end", lambda signed: signed[:-40], "malformed"),
    ("garbage after the header", lambda signed: b"%PDF-1.7\n" + bytes(range(256)) * 40, "malformed"),
    ("encrypted", lambda signed: encrypted_pdf(), "encrypted"),
    ("unsigned", lambda signed: render(), "unsigned"),
    ("object streams", lambda signed: handmade_pdf(*CATALOGUE, OBJECT_STREAM), "unsupported"),
    ("too many objects", lambda signed: handmade_pdf(*CATALOGUE, *[b"0"] * signing.MAX_OBJECTS), "too_complex"),
    ("a large update", lambda signed: signed + b"\n%" + b"x" * signing.MAX_UPDATE_BYTES, "too_complex"),
])
def test_verify_refuses_what_it_cannot_check_with_an_error_code(app, any_signed, name, make, code):
    data = make(any_signed)
    result = signing.verify(data)
    assert (result.error, result.ok, result.signatures, result.is_platform_document) == (code, False, (), False), name
    assert result.message.startswith(signing.ERRORS[code])
    assert result.size == len(data)


def test_verify_refuses_files_over_the_limit_before_reading_them(make_app):
    app = make_app(VERIFY_MAX_BYTES=1000)
    with app.app_context():
        result = signing.verify(b"%PDF-1.7\n" + b" " * 1000)
    assert (result.error, result.sha256) == ("too_large", None)
    with make_app().app_context():
        assert signing.verify(b"%PDF-1.7\n" + b" " * (20 * 1024 * 1024)).error == "too_large"


def test_a_document_that_takes_too_long_to_parse_is_stopped(make_app):
    """18 MB of one array among the form fields: pyHanko needed minutes (and logged a warning per entry);
    the child process is stopped after VERIFY_CPU_SECONDS of CPU time, fractions of a second counted."""
    fields = b"[" + b"0 " * 3_000_000 + b"]"
    data = handmade_pdf(b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields 4 0 R >> >>", *CATALOGUE[1:], fields)
    app = make_app(VERIFY_CPU_SECONDS=0.5)
    with app.app_context():
        signing.verify(render())  # start the fork server outside the measured time
        started = time.perf_counter()
        result = signing.verify(data)
    assert result.error == "too_complex" and "0.5 s of CPU" in result.message
    assert time.perf_counter() - started < 10


def test_a_verification_that_needs_too_much_memory_is_stopped(app):
    """Issue 12: no upload may cost more than about 200 MB. The child's address space is capped at
    VERIFY_MEMORY_MB beyond its start: an allocation past it ends the check as too complex, and the
    web worker is untouched."""
    with app.app_context():
        assert signing._in_child_process(bytearray, (300 * 2**20,), 5, 100) == (
            "too_complex", "stopped at 100 MB of memory", ())
        assert len(signing._in_child_process(bytearray, (30 * 2**20,), 5, 100)) == 30 * 2**20  # sent back whole


def test_a_signature_from_another_authority_is_intact_but_not_trusted(app):
    """The pluggable source: credentials from a PKCS#12 file (what a licensed CA would provide)."""
    key, certificate = self_signed()
    archive = pkcs12.serialize_key_and_certificates(b"other", key, certificate, None,
                                                    serialization.BestAvailableEncryption("mật khẩu".encode()))
    credentials = signing.KeyPairCredentials.from_pkcs12(archive, "mật khẩu".encode())
    data = signing.sign(render(), credentials, certify=True, field_name="seller", signer_name="X", reason="Ký")
    result = signing.verify(data)
    (check,) = result.signatures
    assert check.intact and check.valid and not check.trusted and not check.chains_to_platform
    assert not check.bottom_line and not result.ok and not result.is_platform_document
    with pytest.raises(ValueError):
        signing.KeyPairCredentials.from_pkcs12(archive, b"wrong")


def test_sign_refuses_what_would_break_the_document(parties, signed):
    with pytest.raises(signing.SigningError) as error:
        signing.sign(signed, parties.credentials["buyer"], certify=True, field_name="again", signer_name="", reason="")
    assert error.value.code == "already_signed"
    with pytest.raises(signing.SigningError) as error:
        signing.sign(signed, parties.credentials["buyer"], certify=False, field_name="buyer", signer_name="", reason="")
    assert error.value.code == "field_in_use"
    for data in (b"not a pdf", encrypted_pdf()):
        with pytest.raises(signing.SigningError) as error:
            signing.sign(data, parties.credentials["buyer"], certify=True, field_name="x", signer_name="", reason="")
        assert error.value.code == "not_pdf"


# -------------------------------------------------------------------------- certificates and CA


def test_each_organisation_gets_one_certificate_from_the_platform_ca(app, parties):
    credentials = parties.credentials["seller"]
    certificate = credentials.certificate
    ca = x509.load_pem_x509_certificate(signing.ca_certificate_pem())
    certificate.verify_directly_issued_by(ca)
    subject = certificate.subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Hợp tác xã Nông sản sạch Tràng Định"
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Hợp tác xã Nông sản sạch Tràng Định"
    assert subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == parties.seller.tax_code
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "VN"
    usage = certificate.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    points = certificate.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS).value
    assert points[0].full_name[0].value == app.config["PUBLIC_BASE_URL"] + "/agreements/ca.crl"
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert timedelta(days=729) < lifetime < timedelta(days=731)

    row = db.session.scalar(sa.select(SigningCertificate).filter_by(organisation_id=parties.seller.id))
    assert (row.serial, row.key_file, row.revoked_at) == (credentials.serial, f"{credentials.serial}.pem", None)
    assert row.expires_at == certificate.not_valid_after_utc
    # The same certificate again: nothing is written, so no unit of work is needed.
    assert signing.credentials_for(parties.seller).serial == credentials.serial
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SigningCertificate)) == 3


def test_key_files_are_private_and_encrypted(app, parties):
    directory = Path(app.config["SIGNING_DIR"])
    keys = [directory / "ca-key.pem", *sorted((directory / "keys").iterdir())]
    assert len(keys) == 4
    assert directory.stat().st_mode & 0o777 == 0o700
    assert (directory / "keys").stat().st_mode & 0o777 == 0o700
    for path in keys:
        assert path.stat().st_mode & 0o777 == 0o600, path
        content = path.read_bytes()
        assert content.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(content, password=None)
        with pytest.raises(ValueError):
            serialization.load_pem_private_key(content, password=b"not the passphrase")
        serialization.load_pem_private_key(content, password=BASE_CONFIG["SIGNING_KEY_PASSPHRASE"].encode())
    assert (directory / "ca.pem").stat().st_mode & 0o777 == 0o644
    wrong = signing.PlatformAuthority(directory, lambda: "not the passphrase", "https://x/agreements/ca.crl")
    with pytest.raises(RuntimeError, match="cannot decrypt"):
        wrong.credentials_for(parties.seller)


def test_issuing_writes_inside_the_callers_unit_of_work(app):
    org = factories.organisation("cooperative")
    with pytest.raises(RuntimeError, match="unit of work"):
        signing.credentials_for(org)
    with pytest.raises(RuntimeError, match="unit of work"):
        signing.revoke(org, "superseded")
    with pytest.raises(ZeroDivisionError):
        with unit_of_work():
            signing.credentials_for(org)
            raise ZeroDivisionError  # the use case fails after the certificate was issued
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SigningCertificate)) == 0
    # The key file is written before the row: a rolled-back issue leaves an unused file, never a row without a key.
    assert len(list((Path(app.config["SIGNING_DIR"]) / "keys").iterdir())) == 1


def test_the_crl_lists_revoked_certificates_and_changes_only_with_them(app, parties):
    ca = x509.load_pem_x509_certificate(signing.ca_certificate_pem())
    empty = x509.load_der_x509_crl(signing.crl_der())
    assert len(empty) == 0 and empty.is_signature_valid(ca.public_key())
    with unit_of_work():
        signing.revoke(parties.buyer, "key_compromise")
    first = signing.crl_der()
    assert signing.crl_der() == first  # cached while the revocations are the same
    crl = x509.load_der_x509_crl(first)
    assert crl.is_signature_valid(ca.public_key()) and crl.issuer == ca.subject
    assert crl.next_update_utc - crl.last_update_utc == timedelta(days=7)
    (entry,) = list(crl)
    assert f"{entry.serial_number:x}" == parties.credentials["buyer"].serial
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    with unit_of_work():
        signing.revoke(parties.seller, "Hợp tác xã giải thể")  # free text: listed without a reason code
    second = x509.load_der_x509_crl(signing.crl_der())
    assert len(second) == 2
    number = second.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number == crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
    row = db.session.scalar(sa.select(SigningCertificate).filter_by(organisation_id=parties.seller.id))
    assert row.revocation_reason == "Hợp tác xã giải thể" and row.revoked_at is not None


RACE = """
import json, os, sys, time
from marketplace.agreements.signing import PlatformAuthority
directory, go = sys.argv[1], sys.argv[2]
authority = PlatformAuthority(directory, lambda: "race-passphrase-0123456789-abcdefghij", "https://x/agreements/ca.crl")
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.0005)
created = authority.ensure_ca()
print(json.dumps({"created": created, "ca": authority.ca_path.read_text()}))
"""


def test_two_processes_racing_create_one_ca(tmp_path):
    directory, go = tmp_path / "signing", tmp_path / "go"
    processes = [subprocess.Popen([sys.executable, "-W", "error", "-c", RACE, str(directory), str(go)],
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    for process in processes:  # both have imported pyHanko and wait for the signal
        assert process.stdout.readline() == "ready\n"
    go.touch()
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        results.append(json.loads(stdout))
    assert sorted(r["created"] for r in results) == [False, True]
    assert results[0]["ca"] == results[1]["ca"] == (directory / "ca.pem").read_text()
    assert sorted(p.name for p in directory.iterdir()) == [".lock", "ca-key.pem", "ca.pem"]


def test_production_without_a_passphrase_signs_nothing(make_app, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://chohtx.example")
    app = make_app(TESTING=False, SIGNING_KEY_PASSPHRASE=None)
    with app.app_context():
        org = factories.organisation("cooperative")
        with pytest.raises(RuntimeError, match="SIGNING_KEY_PASSPHRASE"):
            with unit_of_work():
                signing.credentials_for(org)
        with pytest.raises(RuntimeError, match="SIGNING_KEY_PASSPHRASE"):
            signing.ca_certificate_pem()
        assert signing.verify(render()).error == "unsigned"  # verifying needs no key
    assert not Path(app.config["SIGNING_DIR"], "ca.pem").exists()


# ------------------------------------------------------------------------------------ boundaries


def test_only_signing_imports_pyhanko_and_only_pdf_imports_fpdf():
    importers = {}
    for path in sorted((ROOT / "marketplace").rglob("*.py")):
        for match in re.finditer(r"^\s*(?:from|import) (pyhanko\w*|asn1crypto|fpdf)\b", path.read_text(), re.M):
            importers.setdefault(match.group(1), set()).add(path.relative_to(ROOT).as_posix())
    assert importers == {"pyhanko": {"marketplace/agreements/signing.py"},
                         "pyhanko_certvalidator": {"marketplace/agreements/signing.py"},
                         "asn1crypto": {"marketplace/agreements/signing.py"},
                         "fpdf": {"marketplace/agreements/pdf.py"}}


def test_the_app_starts_without_loading_fpdf_or_pyhanko():
    code = ("import sys; from marketplace import create_app; from tests.support import BASE_CONFIG; "
            "create_app({**BASE_CONFIG, 'SQLALCHEMY_DATABASE_URI': 'sqlite://'}); "
            "print(sorted(m for m in ('fpdf', 'pyhanko', 'asn1crypto') if m in sys.modules))")
    completed = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=ROOT, capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


@pytest.mark.parametrize("action", ["suspend", "reject"])
def test_suspending_or_rejecting_an_organisation_revokes_its_signing_certificate(app, alliance_user, action):
    status = "verified" if action == "suspend" else "pending"
    organisation = factories.organisation("enterprise", status=status)
    other = factories.organisation("cooperative")
    with unit_of_work():
        stale = signing.credentials_for(organisation)
        kept = signing.credentials_for(other)
    accounts.review_organisation(alliance_user, organisation.id, action, "Hồ sơ không hợp lệ.")
    signed = signing.sign(render(), stale, certify=True, field_name="buyer", signer_name="Nguyễn Thị Lan",
                          reason="Ký sau khi bị đình chỉ")
    [check] = signing.verify(signed).signatures
    assert check.revoked and not check.bottom_line
    assert signing.verify(signing.sign(render(), kept, certify=True, field_name="seller", signer_name="Hoàng Văn Minh",
                                       reason="Ký")).ok  # other organisations sign on
