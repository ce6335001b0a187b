"""Signing certificates, PDF signatures and their verification: the ONLY importer of pyHanko,
pyhanko_certvalidator and asn1crypto.

Importing pyHanko costs a noticeable part of a second: web code imports this module lazily (inside the
function that signs or verifies), never at the top of a module every request loads.

What a signature here is, honestly: an electronic signature made by the platform on behalf of an
organisation, with a certificate issued by the platform's own CA. It proves integrity (any change to a
signed byte is detected) and, with the platform's audit trail, who signed; it is not a "chữ ký số" from a
licensed certification service provider (the PDF says so too).

Where certificates come from is pluggable
-----------------------------------------
Services never see keys or CAs. They ask `credentials_for(organisation)` and pass the result to `sign()`.

- `Credentials` is a signing certificate (plus the issuers to embed) and the means to sign with its key:
  `KeyPairCredentials` holds a private key in memory (the platform CA's certificates today; a licensed CA's
  PKCS#12 that an organisation uploads tomorrow, through `KeyPairCredentials.from_pkcs12`). A remote
  signing service (an HSM, a licensed provider's remote signing API) would be another subclass whose
  `signer()` returns a pyHanko `Signer` that sends the digest away and receives the signature.
- `CertificateSource` answers `credentials_for(organisation)`, `revoke(organisation, reason)`,
  `trust_roots()` and `revocation_lists()`. `PlatformAuthority` is today's source: a CA created on first
  use in SIGNING_DIR that issues one certificate per organisation. A source for uploaded PKCS#12 files
  or for a remote service implements the same four methods; `certificate_source()` is the one place
  that picks it, so services do not change.

The module API (all need an app context; the ones that write rows need the caller's unit of work):

    credentials_for(organisation) -> Credentials          issues a certificate on first use
    sign(pdf_bytes, credentials, *, certify, field_name, signer_name, reason, location="") -> bytes
    revoke(organisation, reason) -> list[str]              serials revoked
    ca_certificate_pem() -> bytes
    crl_der() -> bytes
    verify(pdf_bytes) -> Verification                      never raises for a bad document

Files in SIGNING_DIR (mode 0700): `ca.pem` (public), `ca-key.pem` (PKCS#8 encrypted with
SIGNING_KEY_PASSPHRASE, 0600), `keys/<serial>.pem` (each organisation's key, encrypted, 0600), `ca.crl`
and `ca.crl.json` (the current CRL and what it lists), `.lock` (the fcntl lock that makes creating the
CA and the CRL happen once even with several processes).

Known limits: there is no trusted timestamp yet, so a signature is judged at the time of verification:
once its certificate expires (2 years) or is revoked, every signature made with it stops verifying,
including those made before. The next step is a time-stamping authority and PAdES-B-LTA
(pyHanko supports both); nothing outside this module would change.
"""
import abc
import dataclasses
import fcntl
import hashlib
import io
import json
import logging
import math
import multiprocessing
import multiprocessing.forkserver
import os
import re
import resource
import signal
import sys
import tempfile
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from flask import current_app
from pyhanko.pdf_utils import misc as pdf_misc
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.diff_analysis.policy_api import DiffResult
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from marketplace import config, unit_of_work
from marketplace.agreements.signing_models import SigningCertificate
from marketplace.extensions import db
from marketplace.sqltypes import utcnow

CA_VALIDITY = timedelta(days=20 * 365)
CERTIFICATE_VALIDITY = timedelta(days=730)
RENEW_BEFORE = timedelta(days=30)  # a certificate this close to its end is replaced on next use
CLOCK_SKEW = timedelta(minutes=5)
CRL_VALIDITY = timedelta(days=7)
CRL_REFRESH_BEFORE = timedelta(days=1)  # regenerate a CRL that would expire within a day
CRL_PATH = "/agreements/ca.crl"
CA_NAME = "Chợ HTX Platform CA"
# Bounds on the work verify() accepts (see its docstring). A signed MoU has 3 signatures, about 50
# objects and 7 KB of incremental update per signature.
MAX_SIGNATURES = 10
MAX_REVISIONS = 32  # incremental updates; each signature adds one
MAX_OBJECTS = 20_000  # pyHanko reads every cross-reference entry up front (~5 µs each)
MAX_UPDATE_OBJECTS = 1_000  # objects written after the first revision: each signature's difference
MAX_UPDATE_BYTES = 1024 * 1024  # analysis parses and compares them (~25 µs per object per signature)


class SigningError(Exception):
    """sign() could not sign. `code`: "not_pdf" (unreadable or encrypted input), "field_in_use" (a signature
    field of that name is already signed), "already_signed" (certify=True on a signed document),
    "not_allowed" (the document's certification forbids another signature)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------------- credentials


class Credentials(abc.ABC):
    """A signing certificate, the issuers to embed with it, and the means to sign with its key."""

    def __init__(self, certificate: x509.Certificate, chain=()):
        self.certificate = certificate
        self.chain = tuple(chain)

    @property
    def serial(self):
        """The certificate's serial number, lower-case hexadecimal."""
        return f"{self.certificate.serial_number:x}"

    @property
    def subject(self):
        return self.certificate.subject.rfc4514_string()

    @abc.abstractmethod
    def signer(self) -> signers.Signer:
        """A pyHanko Signer for this certificate (a remote signer returns one that calls out)."""


class KeyPairCredentials(Credentials):
    """A certificate with its private key in memory."""

    def __init__(self, certificate, private_key, chain=()):
        super().__init__(certificate, chain)
        self._private_key = private_key

    @classmethod
    def from_pkcs12(cls, data: bytes, passphrase: bytes | None):
        """Credentials from a PKCS#12 file (e.g. from a licensed CA). Raises ValueError if it cannot be
        read with `passphrase` or holds no key and certificate."""
        key, certificate, chain = pkcs12.load_key_and_certificates(data, passphrase)
        if key is None or certificate is None:
            raise ValueError("the PKCS#12 file holds no private key and certificate")
        return cls(certificate, key, chain or ())

    def signer(self):
        key_der = self._private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return signers.SimpleSigner(
            signing_cert=_to_asn1(self.certificate),
            signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
            cert_registry=SimpleCertificateStore.from_certs([_to_asn1(c) for c in self.chain]),
        )


class CertificateSource(abc.ABC):
    """Where signing certificates come from (see the module docstring)."""

    @abc.abstractmethod
    def credentials_for(self, organisation) -> Credentials:
        """Credentials to sign for `organisation`, issued or looked up."""

    @abc.abstractmethod
    def revoke(self, organisation, reason: str) -> list[str]:
        """Revoke the organisation's current certificates; the serials revoked."""

    @abc.abstractmethod
    def trust_roots(self) -> list[x509.Certificate]:
        """The certificates a signature must chain to, to be trusted."""

    def revocation_lists(self) -> list[bytes]:
        """Current CRLs (DER) of the trust roots, for verification without network access."""
        return []


# ------------------------------------------------------------------------------- platform CA


class PlatformAuthority(CertificateSource):
    """The platform's own CA, in `directory`, issuing one certificate per organisation.

    `passphrase` is a callable returning the key passphrase (asked only when a private key is needed);
    `crl_url` goes into every certificate's CRL distribution point.
    """

    def __init__(self, directory, passphrase, crl_url):
        self.directory = Path(directory)
        self._passphrase = passphrase
        self.crl_url = crl_url

    @classmethod
    def from_app(cls, app):
        return cls(
            app.config["SIGNING_DIR"],
            lambda: config.signing_passphrase(app),
            app.config["PUBLIC_BASE_URL"].rstrip("/") + CRL_PATH,
        )

    # -------------------------------------------------------------------------------- files

    @property
    def ca_path(self):
        return self.directory / "ca.pem"

    @property
    def ca_key_path(self):
        return self.directory / "ca-key.pem"

    @property
    def keys_dir(self):
        return self.directory / "keys"

    @contextmanager
    def _lock(self):
        """An exclusive fcntl lock on SIGNING_DIR/.lock (released by the kernel if the process dies)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _secret(self):
        return self._passphrase().encode()

    def _load_key(self, path):
        """Decrypt a PKCS#8 key file. Raises RuntimeError naming the file if the passphrase is wrong."""
        try:
            return serialization.load_pem_private_key(path.read_bytes(), password=self._secret())
        except ValueError as error:
            raise RuntimeError(f"cannot decrypt {path}: wrong SIGNING_KEY_PASSPHRASE?") from error

    def _encrypted_pem(self, key):
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._secret()),
        )

    # ----------------------------------------------------------------------------------- CA

    def ca_exists(self):
        return self.ca_path.exists()

    def ensure_ca(self):
        """Create the CA on first use, once: under the lock, key first, certificate last (its presence
        means both are complete). True if this call created it. Raises RuntimeError without a passphrase
        (production)."""
        if self.ca_path.exists():
            return False
        with self._lock():
            if self.ca_path.exists():
                return False
            secret = self._secret()
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([
                x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Chợ HTX"),
                x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
            ])
            now = utcnow()
            certificate = (
                x509.CertificateBuilder()
                .subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + CA_VALIDITY)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256())
            )
            _write_atomically(self.ca_key_path, key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(secret)), 0o600)
            _write_atomically(self.ca_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
            return True

    def ca_certificate(self):
        self.ensure_ca()
        return x509.load_pem_x509_certificate(self.ca_path.read_bytes())

    def ca_certificate_pem(self):
        self.ensure_ca()
        return self.ca_path.read_bytes()

    def trust_roots(self):
        # Verification never creates the CA: before the first signature nothing is trusted.
        return [x509.load_pem_x509_certificate(self.ca_path.read_bytes())] if self.ca_exists() else []

    # ---------------------------------------------------------------------- certificates

    def credentials_for(self, organisation):
        """The organisation's current certificate and key; issues one (a new row, a new key file) when it has
        none, or when its certificate is revoked or ends within 30 days. Issuing must happen inside the
        caller's unit of work (RuntimeError otherwise); a rollback leaves at most an orphan key file."""
        now = utcnow().replace(microsecond=0)  # certificates hold whole seconds; the row says the same
        row = db.session.scalar(
            sa.select(SigningCertificate)
            .where(SigningCertificate.organisation_id == organisation.id,
                   SigningCertificate.revoked_at.is_(None),
                   SigningCertificate.expires_at > now + RENEW_BEFORE)
            .order_by(SigningCertificate.expires_at.desc(), SigningCertificate.id.desc())
            .limit(1)
        )
        if row is None:
            row = self._issue(organisation, now)
        certificate = x509.load_pem_x509_certificate(row.certificate_pem.encode())
        key = self._load_key(self.keys_dir / row.key_file)
        return KeyPairCredentials(certificate, key, chain=(self.ca_certificate(),))

    def _issue(self, organisation, now):
        if not unit_of_work.active():
            raise RuntimeError("issuing a signing certificate writes a row: call it inside a unit of work")
        if not organisation.id or not organisation.legal_name:
            raise ValueError("the organisation needs an id and a legal name to receive a certificate")
        self.ensure_ca()
        ca_key = self._load_key(self.ca_key_path)
        ca = self.ca_certificate()
        key = ec.generate_private_key(ec.SECP256R1())
        serial = x509.random_serial_number()
        expires = now + CERTIFICATE_VALIDITY
        certificate = (
            x509.CertificateBuilder()
            .subject_name(organisation_name(organisation.legal_name, organisation.tax_code))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(serial)
            .not_valid_before(now - CLOCK_SKEW).not_valid_after(expires)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
            .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(self.crl_url)], None, None, None)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key_file = f"{serial:x}.pem"
        # The file first, the row second: a failed transaction leaves an unused file, never a row without a key.
        self.keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_atomically(self.keys_dir / key_file, self._encrypted_pem(key), 0o600)
        row = SigningCertificate(
            organisation_id=organisation.id, serial=f"{serial:x}",
            certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
            key_file=key_file, issued_at=now, expires_at=expires,
        )
        db.session.add(row)
        db.session.flush()
        return row

    def revoke(self, organisation, reason):
        """Mark every unrevoked certificate of the organisation revoked now, with `reason` (free text; a
        name of x509.ReasonFlags such as "key_compromise" or "cessation_of_operation" also goes into
        the CRL as its reason code). Inside the caller's unit of work (RuntimeError otherwise); the CRL
        follows on its next request. Returns the serials revoked (maybe none)."""
        if not unit_of_work.active():
            raise RuntimeError("revoke writes rows: call it inside a unit of work")
        now = utcnow()
        rows = db.session.scalars(
            sa.select(SigningCertificate).where(SigningCertificate.organisation_id == organisation.id,
                                                SigningCertificate.revoked_at.is_(None))
        ).all()
        for row in rows:
            row.revoked_at = now
            row.revocation_reason = (reason or "")[:200]
        db.session.flush()
        return [row.serial for row in rows]

    # ----------------------------------------------------------------------------------- CRL

    def revocation_lists(self):
        return [self.crl_der()] if self.ca_exists() else []

    def crl_der(self):
        """The CA's CRL (DER) of every revoked certificate, valid 7 days. Rebuilt, under the lock, when the
        revocations in the database differ from the ones it lists or it would expire within a day."""
        self.ensure_ca()
        revoked = db.session.execute(
            sa.select(SigningCertificate.serial, SigningCertificate.revoked_at, SigningCertificate.revocation_reason)
            .where(SigningCertificate.revoked_at.is_not(None)).order_by(SigningCertificate.serial)
        ).all()
        fingerprint = hashlib.sha256(
            json.dumps([[s, t.isoformat(), r] for s, t, r in revoked]).encode()).hexdigest()
        cached = self._cached_crl(fingerprint)
        if cached is not None:
            return cached
        with self._lock():
            cached = self._cached_crl(fingerprint)
            if cached is not None:
                return cached
            state_path = self.directory / "ca.crl.json"
            number = json.loads(state_path.read_text())["number"] + 1 if state_path.exists() else 1
            ca_key = self._load_key(self.ca_key_path)
            ca = self.ca_certificate()
            now = utcnow()
            builder = (
                x509.CertificateRevocationListBuilder()
                .issuer_name(ca.subject).last_update(now).next_update(now + CRL_VALIDITY)
                .add_extension(x509.CRLNumber(number), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            )
            for serial, revoked_at, reason in revoked:
                entry = x509.RevokedCertificateBuilder().serial_number(int(serial, 16)).revocation_date(revoked_at)
                flag = getattr(x509.ReasonFlags, reason, None) if reason else None
                if isinstance(flag, x509.ReasonFlags) and flag is not x509.ReasonFlags.unspecified:
                    entry = entry.add_extension(x509.CRLReason(flag), critical=False)
                builder = builder.add_revoked_certificate(entry.build())
            crl = builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
            _write_atomically(self.directory / "ca.crl", crl, 0o644)
            _write_atomically(state_path, json.dumps({"fingerprint": fingerprint, "number": number}).encode(), 0o644)
            return crl

    def _cached_crl(self, fingerprint):
        try:
            state = json.loads((self.directory / "ca.crl.json").read_text())
            crl_bytes = (self.directory / "ca.crl").read_bytes()
        except (FileNotFoundError, ValueError):
            return None
        if state.get("fingerprint") != fingerprint:
            return None
        crl = x509.load_der_x509_crl(crl_bytes)
        if crl.next_update_utc is None or crl.next_update_utc - utcnow() < CRL_REFRESH_BEFORE:
            return None
        return crl_bytes


def organisation_name(legal_name, tax_code=None):
    """The subject of an organisation's certificate: C=VN, O and CN the legal name, serialNumber the tax
    code. CN is cut to 64 bytes of UTF-8 (cryptography's reading of X.509's upper bound); O keeps the whole
    name (pyHanko and pdfsig read longer ones)."""
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, legal_name),
        x509.NameAttribute(NameOID.COMMON_NAME, _shorten(legal_name, 64)),
    ]
    if tax_code:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, tax_code))
    return x509.Name(attributes)


def _shorten(text, limit):
    """`text` within `limit` bytes of UTF-8, cut at a character and ended with "…" when cut."""
    if len(text.encode()) <= limit:
        return text
    while len((text + "…").encode()) > limit:
        text = text[:-1]
    return text.rstrip() + "…"


def _key_usage(**flags):
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{name: flags.get(name, False) for name in names})


def _write_atomically(path, data, mode):
    """Write to a temporary file in the same folder with `mode`, then rename over `path`."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _to_asn1(certificate: x509.Certificate):
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def _from_asn1(certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(certificate.dump())


# ------------------------------------------------------------------------------- the module API


def certificate_source() -> CertificateSource:
    """The app's certificate source: the platform CA. The one place to plug in another source."""
    return platform_authority()


def platform_authority() -> PlatformAuthority:
    extensions = current_app.extensions
    if "agreements_platform_ca" not in extensions:
        extensions["agreements_platform_ca"] = PlatformAuthority.from_app(current_app)
    return extensions["agreements_platform_ca"]


def credentials_for(organisation) -> Credentials:
    """Credentials to sign for `organisation`; the first call issues its certificate (inside the caller's
    unit of work: RuntimeError otherwise). Raises RuntimeError in production without
    SIGNING_KEY_PASSPHRASE, or when a key file cannot be decrypted."""
    return certificate_source().credentials_for(organisation)


def revoke(organisation, reason) -> list[str]:
    """Revoke the organisation's current certificate(s) (inside the caller's unit of work: RuntimeError
    otherwise); the next credentials_for() issues a new one. Returns the serials revoked."""
    return certificate_source().revoke(organisation, reason)


def ca_certificate_pem() -> bytes:
    """The platform CA's certificate (PEM), created on first use. RuntimeError without a passphrase."""
    return platform_authority().ca_certificate_pem()


def crl_der() -> bytes:
    """The platform CA's current CRL (DER), served at /agreements/ca.crl. RuntimeError without a passphrase."""
    return platform_authority().crl_der()


def sign(pdf_bytes: bytes, credentials: Credentials, *, certify: bool, field_name: str, signer_name: str,
         reason: str, location: str = "") -> bytes:
    """Add one invisible PAdES signature (ETSI.CAdES.detached, SHA-256) as an incremental update.

    The first signer certifies (`certify=True`): a DocMDP signature that allows form filling, i.e. the
    later approval signatures (`certify=False`), and nothing else. Earlier bytes are never rewritten,
    so earlier signatures stay intact. Raises SigningError (see its codes).
    """
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes))
        encrypted = writer.prev.encrypted
        signed_fields = [] if encrypted else [s.field_name for s in writer.prev.embedded_signatures]
    except (pdf_misc.PdfError, ValueError, KeyError, TypeError) as error:
        raise SigningError("not_pdf", f"not a readable PDF: {error}") from error
    if encrypted:
        raise SigningError("not_pdf", "the PDF is encrypted")
    if certify and signed_fields:
        raise SigningError("already_signed", "only the first signature can certify the document")
    if field_name in signed_fields:
        raise SigningError("field_in_use", f"the signature field {field_name!r} is already signed")
    metadata = signers.PdfSignatureMetadata(
        field_name=field_name,
        certify=certify,
        docmdp_permissions=MDPPerm.FILL_FORMS,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        name=signer_name or None,
        reason=reason or None,
        location=location or None,
    )
    try:
        output = signers.sign_pdf(writer, metadata, signer=credentials.signer())
    except PyHankoSigningError as error:
        raise SigningError("not_allowed", str(error)) from error
    return output.getvalue()


# -------------------------------------------------------------------------------- verification

ERRORS = {
    "not_pdf": "The file is not a PDF.",
    "too_large": "The file is larger than the verification accepts.",
    "encrypted": "The PDF is encrypted; agreements of this platform never are.",
    "malformed": "The PDF is damaged or not readable.",
    "unsigned": "The PDF has no signature.",
    "too_many_signatures": f"The PDF has more than {MAX_SIGNATURES} signatures.",
    "too_many_revisions": f"The PDF was updated more than {MAX_REVISIONS} times.",
    "unsupported": "The PDF uses compressed object streams, which documents of this platform never do.",
    "too_complex": "The PDF has more objects or later updates than a document of this platform.",
}


@dataclasses.dataclass(frozen=True)
class SignatureCheck:
    """One signature as verified. Judge it by `bottom_line`, never by `valid` alone."""

    field_name: str
    signer_name: str  # the certificate's CN (the organisation's legal name, cut at 64 characters)
    organisation: str  # the certificate's O
    tax_code: str  # the certificate's serialNumber attribute ("" if none)
    serial: str  # the certificate's serial number, lower-case hex
    issuer: str
    signing_time: datetime | None  # as written by the signer (not a trusted timestamp)
    certifying: bool  # the first, DocMDP signature
    intact: bool  # the signed bytes are unchanged
    valid: bool  # the cryptographic signature matches the certificate
    trusted: bool  # the certificate chains to a trust root and is neither expired nor revoked
    revoked: bool  # the CA's CRL lists the certificate
    chains_to_platform: bool  # issued by the platform CA
    coverage: str  # "entire_file", "entire_revision" (later updates follow), "partial", "unclear"
    covers_whole_document: bool
    later_changes: str  # after this signature: "none", "signatures", "validation_data", "form_filling",
    #                     "annotations", "other" (anything else, e.g. changed page content), "unknown"
    later_changes_allowed: bool  # the later changes are allowed by the certification (DocMDP)
    docmdp_ok: bool
    bottom_line: bool  # intact, valid, trusted, not revoked and no disallowed change: the verdict
    summary: str  # pyHanko's one-line summary, for logs


@dataclasses.dataclass(frozen=True)
class Verification:
    """The result of verify(). `error` is None or a code of ERRORS, with `message` in English."""

    error: str | None
    message: str
    size: int
    sha256: str | None  # of the whole file, when it was read
    signatures: tuple[SignatureCheck, ...] = ()
    is_platform_document: bool = False  # every signature was issued by the platform CA

    @property
    def ok(self):
        """Readable, signed, and every signature's bottom line holds."""
        return self.error is None and bool(self.signatures) and all(s.bottom_line for s in self.signatures)


def _refused(code, size, sha256=None, detail=""):
    message = ERRORS[code] + (f" ({detail})" if detail else "")
    return Verification(error=code, message=message, size=size, sha256=sha256)


def verify(pdf_bytes: bytes) -> Verification:
    """Verify every signature of a PDF against the certificate source's trust roots and CRLs (no network).

    A bad document never raises: a file that is not a PDF, larger than VERIFY_MAX_BYTES, encrypted,
    damaged, unsigned, beyond the bounds below, or that takes more than VERIFY_CPU_SECONDS to check
    gives a Verification with an `error` code (ERRORS). Configuration problems do raise (RuntimeError
    from crl_der when the CA key cannot be read).

    Cost: pyHanko keeps the whole file in memory, reads every cross-reference entry up front (~5 µs
    each), hashes each signature's byte ranges (up to the whole file: ~40 ms per signature for 20 MB
    here) and, for every signature followed by later updates, parses and compares the objects those
    updates wrote (300,000 new objects took 8 to 20 s). It decodes streams within its DecodeLimits for
    untrusted input (0.38), so compressed bombs are refused rather than inflated, but it parses objects
    lazily, in pure Python, and logs a warning per oddity: one 18 MB array among the form fields took
    174 s (9 million log lines). So: the size is checked first; then the structure, from the bytes
    (_structure_problem: refuses object streams and more objects or later updates than our documents
    have); then pyHanko runs in a child process (forked from a fork server that has pyHanko loaded,
    ~20 ms) with a CPU-time limit of VERIFY_CPU_SECONDS, no core dump and its warnings silenced. A
    20 MB document within the bounds verifies in well under a second here (tests/agreements/test_signing.py).
    """
    size = len(pdf_bytes)
    if size > current_app.config["VERIFY_MAX_BYTES"]:
        return _refused("too_large", size)
    sha256 = hashlib.sha256(pdf_bytes).hexdigest()
    if b"%PDF-" not in pdf_bytes[:1024]:
        return _refused("not_pdf", size, sha256)
    problem = _structure_problem(pdf_bytes)
    if problem:
        return _refused(problem, size, sha256)
    source = certificate_source()
    roots = [root.public_bytes(serialization.Encoding.DER) for root in source.trust_roots()]
    crls = source.revocation_lists()
    code, detail, checks = _in_child_process(_check_document, (pdf_bytes, roots, crls),
                                             current_app.config["VERIFY_CPU_SECONDS"],
                                             current_app.config["VERIFY_MEMORY_MB"])
    if code:
        return _refused(code, size, sha256, detail)
    return Verification(
        error=None, message="", size=size, sha256=sha256, signatures=tuple(checks),
        is_platform_document=all(check.chains_to_platform for check in checks),
    )


def _check_document(pdf_bytes, roots_der, crls_der):
    """The pyHanko part of verify(): (error code or None, detail, checks). Needs no app context."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf_bytes), strict=True)
        if reader.encrypt_dict is not None:
            return "encrypted", "", ()
        if reader.xrefs.total_revisions > MAX_REVISIONS:
            return "too_many_revisions", "", ()
        embedded = list(reader.embedded_signatures)
    except Exception as error:  # pyHanko raises many kinds on hostile input; none may reach the caller
        return "malformed", type(error).__name__, ()
    if not embedded:
        return "unsigned", "", ()
    if len(embedded) > MAX_SIGNATURES:
        return "too_many_signatures", "", ()
    roots = [x509.load_der_x509_certificate(der) for der in roots_der]
    context = ValidationContext(
        trust_roots=[_to_asn1(root) for root in roots],
        crls=list(crls_der),
        allow_fetching=False,
        revocation_mode="hard-fail",
    )
    signed_fields = {signature.field_name for signature in embedded}
    try:
        checks = tuple(_check(signature, validate_pdf_signature(signature, context), roots, signed_fields)
                       for signature in embedded)
    except Exception as error:
        return "malformed", type(error).__name__, ()
    return None, "", checks


_FORK_SERVER = multiprocessing.get_context("forkserver")
_FORK_SERVER.set_forkserver_preload([__name__])
_fork_server_lock = threading.Lock()


def _start_fork_server():
    """Start the fork server once, importing this module from where the parent imported it.

    Python 3.11's fork server is given the parent's sys.path but does not apply it (it would import the
    installed package rather than, say, a checkout under test): PYTHONPATH carries it instead.
    """
    with _fork_server_lock:
        saved = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
        try:
            multiprocessing.forkserver.ensure_running()
        finally:
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved


def _in_child_process(function, arguments, cpu_seconds, memory_mb):
    """Run function(*arguments) in a child of the fork server, limited to `cpu_seconds` of CPU time and
    `memory_mb` of memory beyond what the child starts with.

    Returns its result, or ("too_complex", reason, ()) when a limit stopped it. Raises RuntimeError if
    the child died otherwise (a broken installation, not a bad document). The fork server is one small
    process per web worker, started on first use (~1 s) with this module loaded; forking from it (not
    from a multi-threaded web worker) is safe and takes milliseconds.
    """
    _start_fork_server()
    receiver, sender = _FORK_SERVER.Pipe(duplex=False)
    child = _FORK_SERVER.Process(target=_child_main, args=(sender, function, arguments, cpu_seconds, memory_mb),
                                 daemon=True)
    try:
        child.start()
        sender.close()
        # The limit counts CPU time; the wall-clock wait only guards against a child that hangs.
        answered = receiver.poll(cpu_seconds * 4 + 10)
        if answered:
            try:
                return receiver.recv()
            except EOFError:
                pass
        if child.is_alive():
            child.kill()
        child.join()
        if child.exitcode == -signal.SIGABRT:  # an allocation refused inside native code (the Rust of cryptography)
            return "too_complex", f"stopped at {memory_mb} MB of memory", ()
        if not answered or child.exitcode in (-signal.SIGPROF, -signal.SIGXCPU, -signal.SIGKILL):
            return "too_complex", f"stopped after {cpu_seconds} s of CPU time", ()
        raise RuntimeError(f"the verification process failed (exit code {child.exitcode})")
    finally:
        receiver.close()
        sender.close()
        if child.pid is not None:
            if child.is_alive():
                child.kill()
            child.join()
            child.close()


def _child_main(connection, function, arguments, cpu_seconds, memory_mb):
    # SIGPROF (no handler: it ends the process, even inside C code) after `cpu_seconds` of user and
    # system time; RLIMIT_CPU, in whole seconds, only as a backstop.
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
    hard_cpu = math.ceil(cpu_seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (hard_cpu, hard_cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    address_space = _address_space_bytes() + memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))  # beyond: MemoryError
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)  # a hostile file can cause millions of warnings
    try:
        result = function(*arguments)
    except MemoryError:
        result = "too_complex", f"stopped at {memory_mb} MB of memory", ()
    except Exception as error:
        result = "malformed", type(error).__name__, ()
    connection.send(result)
    connection.close()


def _address_space_bytes():
    """The process's virtual memory size now (Linux: /proc/self/statm, in pages)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _structure_problem(pdf_bytes):
    """Refuse, before pyHanko parses anything, what would make parsing and difference analysis slow.

    fpdf2 and pyHanko's incremental writer (on fpdf2's output) write classic cross-reference tables and
    no object streams, so our documents have neither; object streams would let 20 MB hold millions of
    objects (pyHanko needs ~5 s to read a million). A file that does not end with `startxref` is damaged.
    The counts are estimates from the bytes (an object header is "N G obj"): cheap (a few ms for 20 MB)
    and, if anything, too strict.
    """
    if b"/ObjStm" in pdf_bytes or re.search(rb"/Type\s*/XRef\b", pdf_bytes):
        return "unsupported"
    if pdf_bytes.count(b" obj") > MAX_OBJECTS:
        return "too_complex"
    first_end = pdf_bytes.find(b"%%EOF")
    updates = pdf_bytes[first_end:] if first_end >= 0 else b""
    if len(updates) > MAX_UPDATE_BYTES or updates.count(b" obj") > MAX_UPDATE_OBJECTS:
        return "too_complex"
    if b"startxref" not in pdf_bytes[-2048:]:
        # A PDF ends with its cross-reference pointer; without it pyHanko scans the whole file for one
        # (about 2 s of CPU for 8 MB), so a file without one is refused as damaged at once.
        return "malformed"
    return None


COVERAGE = {
    SignatureCoverageLevel.ENTIRE_FILE: "entire_file",
    SignatureCoverageLevel.ENTIRE_REVISION: "entire_revision",
    SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START: "partial",
    SignatureCoverageLevel.UNCLEAR: "unclear",
}
LEVELS = {
    ModificationLevel.NONE: "none",
    ModificationLevel.LTA_UPDATES: "validation_data",
    ModificationLevel.FORM_FILLING: "form_filling",
    ModificationLevel.ANNOTATIONS: "annotations",
    ModificationLevel.OTHER: "other",
}
# What may follow a certification that allows form filling (annotations and page changes may not).
ALLOWED_LATER_CHANGES = {"signatures", "validation_data", "form_filling"}


def _check(signature, status, roots, signed_fields):
    certificate = status.signing_cert
    subject = certificate.subject.native
    coverage = status.coverage
    later = "none" if coverage == SignatureCoverageLevel.ENTIRE_FILE else _later_changes(status, signed_fields)
    if status.docmdp_ok is None:  # no difference analysis: nothing followed the signature, or it was unclear
        docmdp_ok = coverage == SignatureCoverageLevel.ENTIRE_FILE
    else:
        docmdp_ok = bool(status.docmdp_ok)
    return SignatureCheck(
        field_name=signature.field_name or "",
        signer_name=subject.get("common_name", "") or "",
        organisation=subject.get("organization_name", "") or "",
        tax_code=subject.get("serial_number", "") or "",
        serial=f"{certificate.serial_number:x}",
        issuer=certificate.issuer.human_friendly,
        signing_time=signature.self_reported_timestamp,
        certifying=signature.docmdp_level is not None,
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        revoked=bool(status.revoked),
        chains_to_platform=_issued_by(certificate, roots),
        coverage=COVERAGE.get(coverage, "unclear"),
        covers_whole_document=coverage == SignatureCoverageLevel.ENTIRE_FILE,
        later_changes=later,
        later_changes_allowed=later == "none" or (docmdp_ok and later in ALLOWED_LATER_CHANGES),
        docmdp_ok=docmdp_ok,
        bottom_line=bool(status.bottom_line),
        summary=status.summary(),
    )


def _issued_by(certificate, roots):
    try:
        issued = _from_asn1(certificate)
    except ValueError:
        return False
    for root in roots:
        try:
            issued.verify_directly_issued_by(root)
            return True
        except (ValueError, TypeError, InvalidSignature):
            continue
    return False


def _later_changes(status, signed_fields):
    diff = status.diff_result
    if not isinstance(diff, DiffResult):
        return "other" if diff is not None else "unknown"
    level = LEVELS.get(diff.modification_level, "other")
    if level == "form_filling" and diff.changed_form_fields <= signed_fields:
        return "signatures"  # only signature fields that now hold signatures were filled in
    return level
