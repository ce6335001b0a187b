"""Text helpers shared by areas that need Vietnamese without diacritics (slugs, import matching)."""
import re
import unicodedata


def fold(text):
    """Lower-case Vietnamese without diacritics: "Đậu phộng" → "dau phong"."""
    text = unicodedata.normalize("NFD", text or "").replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in text if unicodedata.category(c) != "Mn").lower()


def slugify(text, max_length=170):
    """An ASCII URL slug: "Mật ong rừng Bắc Sơn" → "mat-ong-rung-bac-son"."""
    slug = re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")
    return slug[:max_length].rstrip("-") or "san-pham"
