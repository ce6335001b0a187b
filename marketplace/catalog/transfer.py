"""(being written)"""
from marketplace.catalog.views import blueprint  # noqa: F401
