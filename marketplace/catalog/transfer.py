"""Spreadsheet import (upload → preview → confirm) and export, for cooperatives and alliance staff.

The views only translate: catalog.importing reads the file, tries every row with the catalogue
services and decides who may import what. A preview writes nothing; its parsed rows wait under a
random token (one hour, for the uploader only) until the person confirms.
"""
import io

from flask import flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField

from marketplace.accounts.services import TAX_CODE_EXAMPLE
from marketplace.catalog import importing
from marketplace.catalog.views import blueprint
from marketplace.errors import NotFound, ValidationFailed
from marketplace.forms import apply_service_errors
from marketplace.querystring import whole_number_arg
from marketplace.routing import MAX_ID
from marketplace.upload_limits import redoes_upload_work, upload_limits

MAX_ROWS_SHOWN = 300
MAX_ERRORS_SHOWN = 500

# (column, what it holds, example) for the help on the import page. A field is named as the forms name it
# ("legal name" is the registration form's "Legal name": one Vietnamese term for both, tests/test_i18n.py).
COLUMN_HELP = [
    ("cooperative_name", _l("The cooperative's legal name, as on its registration (alliance imports only)."),
     "HTX Nông sản sạch Tràng Định"),
    ("cooperative_tax_code", _l("Its tax code: 10 digits, or 13 written as 10-3 (alliance imports only)."),
     TAX_CODE_EXAMPLE),
    ("cooperative_type", _l("hop_tac_xa, to_hop_tac or ho_kinh_doanh; needed when the cooperative is new."),
     "hop_tac_xa"),
    ("name", _l("Product name in Vietnamese. A product with the same name is updated, not duplicated."),
     "Hoa hồi khô Lạng Sơn"),
    ("category", _l("A category code or its Vietnamese or English name: fresh_produce, processed_food, beverages, "
                    "spices_herbs, medicinal_herbs, aquatic, handicrafts, other."), "gia vị"),
    ("description", _l("Description (optional). Empty keeps the current one; %(mark)s erases it.",
                       mark=importing.ERASE), ""),
    ("unit", _l("Unit code or Vietnamese name: kg, tấn, hộp, chai, thùng, túi, lít, cái, bó, quả."), "kg"),
    ("price_vnd", _l("Base price per unit in đồng, a whole number."), "160.000"),
    ("min_order_qty", _l("Minimum order quantity (default 1)."), "50"),
    ("ocop_stars", _l("OCOP stars: 3, 4 or 5 (with the certificate number and expiry)."), "4"),
    ("ocop_certificate_no", _l("OCOP certificate number."), ""),
    ("ocop_expiry", _l("Expiry date of the OCOP certificate, yyyy-mm-dd."), "2027-06-30"),
    ("province", _l("Province of origin, by name or code."), "Lạng Sơn"),
    ("commune", _l("Commune of origin in that province, by name or code."), "Xã Thất Khê"),
    ("certifications",
     _l("vietgap, globalgap, organic, geographical_indication, haccp, iso_22000, separated by \";\"."),
     "vietgap;organic"),
    ("harvest_months", _l("Months of availability, separated by \";\"."), "8;9;10"),
    ("price_tiers", _l("Volume prices as quantity:unit price, separated by \";\"; each cheaper than the one before."),
     "500:150000;2000:142000"),
    ("capacity", _l("Quantity per year, or quantity/period (stock, week, month, season, year)."), "50000/year"),
    ("name_en", _l("English name (optional)."), "Dried star anise"),
    ("order_increment", _l("Order in multiples of this quantity (default 1)."), "10"),
    ("lead_time_days", _l("Days needed to prepare an order (optional)."), "5"),
]


class UploadForm(FlaskForm):
    file = FileField(_l("Spreadsheet (CSV UTF-8 or Excel XLSX, at most 5 MB)"),
                     description=_l("The first row holds the column names; one product per row."))


def _upload_page(form, status=200):
    cooperatives = importing.cooperatives_for_export(current_user)  # also refuses enterprises (403)
    return render_template("catalog/transfer/import.html", form=form, columns=COLUMN_HELP,
                           cooperatives=cooperatives, required=importing.REQUIRED,
                           erase_mark=importing.ERASE), status


def _preview_page(token, table, report, status=200):
    return render_template("catalog/transfer/preview.html", token=token, table=table, report=report,
                           rows=report.rows[:MAX_ROWS_SHOWN], errors=report.errors[:MAX_ERRORS_SHOWN],
                           max_rows=MAX_ROWS_SHOWN, erase_mark=importing.ERASE), status


@blueprint.route("/workspace/import", methods=["GET", "POST"])
@upload_limits
@login_required
def import_products():
    form = UploadForm()
    if form.validate_on_submit():
        try:
            token, table, report = importing.preview_upload(current_user, form.file.data)
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            return _preview_page(token, table, report)
    return _upload_page(form, status=422 if form.errors else 200)


@blueprint.post("/workspace/import/<token>")
@redoes_upload_work
@login_required
def confirm_import(token):
    try:
        table, report = importing.confirm_upload(current_user, token, valid_only=bool(request.form.get("valid_only")),
                                                 publish=bool(request.form.get("publish")))
    except NotFound:
        return render_template("catalog/transfer/expired.html"), 404
    if not report.written:
        flash(_("Nothing was imported: %(count)s rows have errors. Correct the file and upload it again, or "
                "import only the valid rows.", count=len(report.invalid_rows)), "danger")
        return _preview_page(token, table, report, status=422)
    flash(_("Imported %(rows)s rows: %(created)s products created, %(updated)s updated, %(published)s published.",
            rows=len(report.valid_rows), created=report.created, updated=report.updated,
            published=report.published), "success")
    if report.invalid_rows:
        flash(_("%(count)s rows with errors were left out.", count=len(report.invalid_rows)), "warning")
    if current_user.organisation.is_cooperative:
        return redirect(url_for("catalog.my_products"))
    return redirect(url_for("catalog.import_products"))


@blueprint.get("/workspace/export.<any(csv, xlsx):fmt>")
@login_required
def export_products(fmt):
    # The form's "All cooperatives" sends an empty value; any other value must be an id (else 400).
    cooperative_id = (whole_number_arg(request.args, "cooperative", MAX_ID, strict=True)
                      if request.args.get("cooperative") else None)
    data, filename, mimetype = importing.export_file(
        current_user, fmt, cooperative_id=cooperative_id,
        template=request.args.get("template") == "1")
    response = send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response
