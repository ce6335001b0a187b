"""Charts of the alliance's dashboard and reports: SVG drawn on the server with pygal, the only module that
imports it (lazily, inside `bar_chart`: ~55 ms of import a worker is spared until the first chart).

pygal writes a <style> element and a few style="" attributes, which the Content-Security-Policy
(`style-src 'self'`, no 'unsafe-inline') would block anyway: they are removed here and static/css/charts.css
colours the chart by pygal's class names. No JavaScript (`js=[]`). The SVG gets role="img", a <title> and a
<desc> (the figures in words); the page shows the same figures in a table beside it. The result is parsed and
written again with the standard library's XML tools, which escape every text (labels are user data such as a
conference's name), and is the only chart markup the templates output unescaped (tests/test_security.py).
"""
import functools
import hashlib
import sys
import xml.etree.ElementTree as ET

from markupsafe import Markup

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG)
ET.register_namespace("xlink", XLINK)
RENDERED_CHARTS = 128  # charts kept rendered per process, by their inputs: the dashboard's nine are drawn once


FONT_SIZE = 12  # px; static/css/charts.css sets the same (pygal lays labels out from its style's sizes)
LABEL_CHARACTERS = 26  # longer category labels are cut with "…" in the chart (the table beside has them whole)


def bar_chart(title, description, labels, series, *, horizontal=True, width=520, height=None, whole_numbers=False,
              value_formatter=None):
    """Markup of an inline SVG bar chart. `labels`: the categories (drawn top-down in this order, cut at
    LABEL_CHARACTERS); `series`: [(name, [value per label])], one colour each (a legend only when there are
    several). `description` is read by screen readers (the figures in words). `whole_numbers`: counts, so the
    value axis has whole-number ticks only. Height grows with the number of bars so labels stay readable on a
    phone. The same inputs give the same markup, drawn once per process (an LRU of RENDERED_CHARTS)."""
    series = tuple((_xml_text(name), tuple(values)) for name, values in series)
    return _rendered(_xml_text(title), _xml_text(description), tuple(_xml_text(label) for label in labels), series,
                     horizontal, width, height, whole_numbers, value_formatter)


# Characters XML 1.0 cannot hold (C0 controls but tab and newline, and U+FFFE/U+FFFF): a conference named with one
# pasted from a spreadsheet would otherwise make the SVG unparsable (a 500 on the dashboard).
_NOT_XML = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF])


def _xml_text(value):
    """The text of a label, title or description with the characters XML cannot hold removed."""
    return str(value).translate(_NOT_XML)


@functools.lru_cache(maxsize=RENDERED_CHARTS)
def _rendered(title, description, labels, series, horizontal, width, height, whole_numbers, value_formatter):
    pygal = _pygal()
    from pygal.style import Style

    bars = max(len(labels), 1) * max(len(series), 1)
    height = height or (max(200, 70 + 28 * bars) if horizontal else 340)
    chart_class = pygal.HorizontalBar if horizontal else pygal.Bar
    style = Style(font_family="sans-serif", label_font_size=FONT_SIZE, major_label_font_size=FONT_SIZE,
                  legend_font_size=FONT_SIZE, value_font_size=FONT_SIZE, title_font_size=FONT_SIZE)
    options = {}
    top = max((value or 0 for _name, values in series for value in values), default=0)
    if whole_numbers:
        step = max(1, -(-top // 6))
        options["y_labels"] = list(range(0, top + step + 1, step)) if top else [0, 1]
    chart = chart_class(js=[], disable_xml_declaration=True, show_legend=len(series) > 1, legend_at_bottom=True,
                        width=width, height=height, style=style, print_values=False,
                        truncate_label=-1, truncate_legend=40, margin=10, spacing=10,
                        x_label_rotation=0 if horizontal or len(labels) <= 6 else 45,
                        no_data_text="—", value_formatter=value_formatter or _group, **options)
    labels = [_cut(label) for label in labels]
    series = [(name, list(values)) for name, values in series]
    if horizontal:  # pygal draws the first category at the bottom: read top-down, as the table beside it
        labels = labels[::-1]
        series = [(name, values[::-1]) for name, values in series]
    chart.x_labels = labels
    for name, values in series:
        chart.add(name, values)
    return _clean(chart.render(is_unicode=True), title, description)


def _cut(label):
    return label if len(label) <= LABEL_CHARACTERS else label[:LABEL_CHARACTERS - 1].rstrip() + "…"


def _pygal():
    """pygal, without the legacy import hook it appends to sys.meta_path on import (PluginImportFixer, for map
    plugins we do not use): it has no find_spec, so every later import that reaches it (any module not found
    first, e.g. an optional dependency) raises ImportWarning, an error under `-W error`."""
    import pygal

    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, pygal.PluginImportFixer)]
    return pygal


def _group(number):
    """1234567 → "1.234.567" (Vietnamese digit grouping)."""
    return f"{number:,.0f}".replace(",", ".") if number is not None else ""


def _clean(svg, title, description):
    root = ET.fromstring(svg)
    for parent in list(root.iter()):
        for child in list(parent):
            # pygal's <style> and <script> (CSP), its own <title>Pygal</title>, its tooltip layer (scripted).
            if child.tag in (f"{{{SVG}}}style", f"{{{SVG}}}script", f"{{{SVG}}}title") or \
                    "tooltip-overlay" in child.get("class", ""):
                parent.remove(child)
    for element in root.iter():
        element.attrib.pop("style", None)
        element.attrib.pop("id", None)  # pygal's ids repeat from one chart to the next on a page
    # An id from the chart's own content: unique between the different charts of a page, stable across calls.
    chart_id = "chart-" + hashlib.sha1("\0".join((title, description, svg)).encode()).hexdigest()[:12]
    root.set("id", chart_id)
    root.set("role", "img")
    root.set("aria-labelledby", f"{chart_id}-title {chart_id}-desc")
    root.set("class", "pygal-chart dashboard-chart")
    title_element = ET.Element(f"{{{SVG}}}title", id=f"{chart_id}-title")
    title_element.text = str(title)
    desc_element = ET.Element(f"{{{SVG}}}desc", id=f"{chart_id}-desc")
    desc_element.text = str(description)
    root.insert(0, desc_element)
    root.insert(0, title_element)
    return Markup(ET.tostring(root, encoding="unicode"))  # every text escaped by ElementTree (see the docstring)
