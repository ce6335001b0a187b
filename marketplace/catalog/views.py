"""HTML pages of the catalogue, on one blueprint ("catalog") split by audience:

- public.py: the public catalogue, product and cooperative pages, photos, QR codes (no login);
- workspace.py: a cooperative's products, wholesale terms, photos and certificates;
- transfer.py: CSV/XLSX import (with preview) and export, for cooperatives and the alliance.
"""
from flask import Blueprint

blueprint = Blueprint("catalog", __name__)

from marketplace.catalog import public, transfer, workspace  # noqa: E402,F401  (routes register on the blueprint)
