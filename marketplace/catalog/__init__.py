"""Catalogue: cooperatives' OCOP products, certificates, wholesale terms, photos, import and export."""
