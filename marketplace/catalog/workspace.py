"""The cooperative's workspace: its products, wholesale terms, photos, OCOP certificates, publication.

Each view reads the form, calls a catalogue service and picks a response. Who may touch which
product is decided by the services (services.get_own_product): another cooperative's product, photo
or certificate answers 404, whatever the method.
"""
from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.accounts.authz import Permission, require
from marketplace.catalog import images, services
from marketplace.catalog.forms import CertificateForm, PhotosForm, ProductForm
from marketplace.catalog.models import ProductStatus
from marketplace.catalog.views import blueprint
from marketplace.errors import Conflict, Forbidden, ValidationFailed
from marketplace.forms import apply_service_errors
from marketplace.pagecache import kept_for_the_organisation
from marketplace.querystring import MAX_PAGE, whole_number_arg
from marketplace.upload_limits import upload_limits

PRODUCT = "<id:product_id>"
STATUS_TABS = [("", None), *((status.value, status) for status in ProductStatus)]


def _refreshing_communes(form):
    """The no-JavaScript "show the communes" button: re-render the form, save nothing."""
    if "refresh_communes" not in request.form:
        return False
    form.validate_on_submit()  # keeps the CSRF check
    for field in form:
        field.errors = []
    return True


# ---------------------------------------------------------------- the list

@blueprint.get("/workspace/products")
@login_required
@kept_for_the_organisation
def my_products():
    status = request.args.get("status", "")
    status = status if status in dict(STATUS_TABS) else ""
    page = whole_number_arg(request.args, "page", MAX_PAGE, default=1)
    pagination = services.own_products(current_user, status=status or None, page=page)
    return render_template("catalog/workspace/products.html", pagination=pagination, status=status,
                           tabs=STATUS_TABS, today=services.today(),
                           deleted=[] if status else services.deleted_products(current_user))


# ---------------------------------------------------------------- create and edit

@blueprint.route("/products/new", methods=["GET", "POST"])
@login_required
def new_product():
    require(current_user, Permission.MANAGE_PRODUCTS)  # the form is for cooperatives only
    form = ProductForm()
    if request.method == "POST" and not _refreshing_communes(form) and form.validate_on_submit():
        try:
            product = services.create_product(current_user, services.ProductDetails.from_mapping(form.details()))
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            flash(_("The draft is saved. Add photos and an OCOP certificate, then publish it."), "success")
            return redirect(url_for("catalog.edit_product", product_id=product.id))
    status = 422 if form.errors else 200
    return render_template("catalog/workspace/new.html", form=form), status


@blueprint.route(f"/products/{PRODUCT}/edit", methods=["GET", "POST"])
@login_required
def edit_product(product_id):
    if request.method == "GET":
        product = services.get_own_product(current_user, product_id)
        return _edit_page(product, ProductForm.for_details(services.ProductDetails.of(product)))
    form = ProductForm()
    if not _refreshing_communes(form) and form.validate_on_submit():
        try:
            services.update_product(current_user, product_id, services.ProductDetails.from_mapping(form.details()))
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("catalog.edit_product", product_id=product_id))
    product = services.get_own_product(current_user, product_id)
    return _edit_page(product, form, status=422 if form.errors else 200)


def _edit_page(product, form=None, photos_form=None, status=200):
    return render_template(
        "catalog/workspace/edit.html",
        product=product,
        form=form or ProductForm.for_details(services.ProductDetails.of(product)),
        photos_form=photos_form or PhotosForm(formdata=None),
        events=services.product_events(current_user, product),
        today=services.today(),
    ), status


def _back_to_edit(product_id, section):
    """Back to the edit page, scrolled to the section the action was in (photos, certificates)."""
    return redirect(url_for("catalog.edit_product", product_id=product_id, _anchor=f"{section}-section"))


# ---------------------------------------------------------------- publication

@blueprint.post(f"/products/{PRODUCT}/publish")
@login_required
def publish_product(product_id):
    try:
        services.publish_product(current_user, product_id)
    except (Conflict, Forbidden) as error:
        flash(_("The product is not published: %(reason)s", reason=error.message), "danger")
    else:
        flash(_("The product is published: buyers can find it in the catalogue."), "success")
    return redirect(url_for("catalog.edit_product", product_id=product_id))


@blueprint.post(f"/products/{PRODUCT}/hide")
@login_required
def hide_product(product_id):
    if services.hide_product(current_user, product_id).status == ProductStatus.HIDDEN:
        flash(_("The product is hidden: it is no longer in the catalogue."), "success")
    return redirect(url_for("catalog.edit_product", product_id=product_id))


@blueprint.route(f"/products/{PRODUCT}/delete", methods=["GET", "POST"])
@login_required
def delete_product(product_id):
    if request.method == "GET":
        product = services.get_own_product(current_user, product_id)
        return render_template("catalog/workspace/delete.html", product=product)
    services.delete_product(current_user, product_id)
    flash(_("The product is deleted."), "success")
    return redirect(url_for("catalog.my_products"))


# ---------------------------------------------------------------- photos

@blueprint.post(f"/products/{PRODUCT}/photos")
@upload_limits
@login_required
def add_photos(product_id):
    form = PhotosForm()
    try:
        services.add_photos(current_user, product_id, request.files.getlist("photos"))
    except ValidationFailed as error:
        apply_service_errors(form, error)
        return _edit_page(services.get_own_product(current_user, product_id), photos_form=form, status=422)
    flash(_("The photos are added."), "success")
    return _back_to_edit(product_id, "photos")


@blueprint.post(f"/products/{PRODUCT}/photos/<id:image_id>/delete")
@login_required
def remove_photo(product_id, image_id):
    services.remove_photo(current_user, product_id, image_id)
    flash(_("The photo is removed."), "success")
    return _back_to_edit(product_id, "photos")


@blueprint.post(f"/products/{PRODUCT}/photos/<id:image_id>/cover")
@login_required
def make_cover(product_id, image_id):
    services.make_cover(current_user, product_id, image_id)
    flash(_("The cover photo is changed."), "success")
    return _back_to_edit(product_id, "photos")


# ---------------------------------------------------------------- OCOP certificates

@blueprint.route(f"/products/{PRODUCT}/certificates/new", methods=["GET", "POST"])
@upload_limits
@login_required
def add_certificate(product_id):
    form = CertificateForm()
    if form.validate_on_submit():
        scan = form.scan.data if form.scan.data and form.scan.data.filename else None
        try:
            services.add_certificate(current_user, product_id, services.CertificateDetails.from_mapping(form.details()),
                                     scan=scan)
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            flash(_("The certificate is recorded. The alliance will check it; the stars show once it is verified."),
                  "success")
            return _back_to_edit(product_id, "certificates")
    product = services.get_own_product(current_user, product_id)
    return render_template("catalog/workspace/certificate.html", product=product, form=form), \
        422 if form.errors else 200


@blueprint.post("/certificates/<id:certificate_id>/withdraw")
@login_required
def withdraw_certificate(certificate_id):
    # Read first for the way back to the product page (404 for anybody else's certificate).
    product_id = services.certificate_for_viewer(current_user, certificate_id).product_id
    try:
        services.withdraw_certificate(current_user, certificate_id)
    except Conflict as error:
        flash(str(error.message), "danger")
    else:
        flash(_("The certificate is withdrawn."), "success")
    return _back_to_edit(product_id, "certificates")


@blueprint.get("/certificates/<id:certificate_id>/scan")
@login_required
def certificate_scan(certificate_id):
    """The scan, for its cooperative and the alliance only: a PDF as a download, an image as WebP."""
    certificate = services.certificate_for_viewer(current_user, certificate_id)
    path = images.scan_path(certificate.scan_name)
    if path is None or not path.is_file():
        abort(404)
    is_pdf = path.suffix == ".pdf"
    response = send_file(
        path,
        mimetype="application/pdf" if is_pdf else "image/webp",
        as_attachment=is_pdf,
        download_name=f"ocop-certificate-{certificate.id}{path.suffix}",
        conditional=False,
        etag=False,
        max_age=None,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
