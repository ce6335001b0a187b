"""Signing certificates the platform CA issued to organisations (agreements/signing.py's own table).

Kept apart from agreements/models.py on purpose: it belongs to the certificate source, not to the
agreement state machine, and it imports nothing heavy (no pyHanko), so the app can load it at start.
"""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.extensions import db
from marketplace.sqltypes import UTCDateTime, utcnow


class SigningCertificate(db.Model):
    """One X.509 certificate of one organisation, with its private key in a file of its own.

    The key is PKCS#8, encrypted with SIGNING_KEY_PASSPHRASE, in SIGNING_DIR/keys/<key_file> (mode 0600);
    the row only names the file. A certificate is current while it is neither revoked nor expired;
    revoked ones are listed in the CA's CRL.
    """

    __tablename__ = "signing_certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    serial: Mapped[str] = mapped_column(sa.String(64), unique=True)  # lower-case hex, as in CRLs and pdfsig
    certificate_pem: Mapped[str] = mapped_column(sa.Text)
    key_file: Mapped[str] = mapped_column(sa.String(100))  # a bare file name under SIGNING_DIR/keys
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str] = mapped_column(sa.String(200), default="")

    def is_current(self, now):
        """Usable for new signatures at `now`: not revoked and not expired."""
        return self.revoked_at is None and self.expires_at > now
