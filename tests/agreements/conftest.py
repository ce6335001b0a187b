"""Fixtures of the agreements tests."""
import subprocess

import pytest

from marketplace.agreements import signing
from tests.support import require_tool


@pytest.fixture
def nss(app, tmp_path):
    """An NSS database in tmp_path that trusts the platform CA for signatures (S/MIME trust ",C,":
    pdfsig checks signers as e-mail signers, so "C,," (SSL only) leaves the CA untrusted)."""
    certutil = require_tool("certutil", "libnss3-tools")
    directory = tmp_path / "nss"
    directory.mkdir()
    ca = tmp_path / "ca.pem"
    ca.write_bytes(signing.ca_certificate_pem())
    subprocess.run([certutil, "-N", "--empty-password", "-d", f"sql:{directory}"], check=True, capture_output=True)
    subprocess.run([certutil, "-A", "-n", "Cho HTX CA", "-t", ",C,", "-i", str(ca), "-d", f"sql:{directory}"],
                   check=True, capture_output=True)
    return directory
