"""Small request-safety helpers shared by views."""
from urllib.parse import urlsplit

from flask import url_for


def safe_next_url(target, default_endpoint="main.home"):
    """A local path to redirect to, or the default: never another host (open-redirect protection)."""
    if target:
        parts = urlsplit(target.replace("\\", "/"))
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for(default_endpoint)
