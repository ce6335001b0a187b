"""Pages of inquiries ("inquiries" blueprint): the inbox, the question form, a thread with its reply form.
Each view reads the form, calls one service and picks a response; services.py decides who may do what."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from marketplace.accounts.authz import Permission, can, require
from marketplace.agreements import queries as agreement_queries
from marketplace.catalog.forms import Marked
from marketplace.errors import ValidationFailed
from marketplace.forms import apply_service_errors, select_choices
from marketplace.inquiries import services
from marketplace.querystring import MAX_PAGE, whole_number_arg
from marketplace.routing import MAX_ID

blueprint = Blueprint("inquiries", __name__)


def _text(value):
    return value.strip() if isinstance(value, str) else value


class MessageForm(FlaskForm):
    body = TextAreaField(_l("Message"), validators=[Marked()], filters=[_text], render_kw={"rows": 4})
    quantity = StringField(_l("Quantity (optional)"), filters=[_text], render_kw={"inputmode": "numeric"})
    unit_price_vnd = StringField(_l("Unit price in đồng (optional)"), filters=[_text],
                                 render_kw={"inputmode": "numeric"},
                                 description=_l("A price you ask or offer for this quantity."))


class QuestionForm(MessageForm):
    period = SelectField(_l("Per"), validate_choice=False)
    wants_samples = BooleanField(_l("I would like samples"))
    delivery_place = StringField(_l("Place of delivery (optional)"), filters=[_text])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.period.choices = select_choices(agreement_queries.period_choices(), _l("Choose…"))


def _details(form):
    names = [name for name in ("body", "quantity", "period", "unit_price_vnd", "wants_samples", "delivery_place")
             if hasattr(form, name)]
    return services.MessageDetails.from_mapping({name: getattr(form, name).data for name in names})


@blueprint.get("/inquiries")
@login_required
def inbox():
    """The threads of the user's organisation, latest first; those waiting for its answer are marked."""
    page = whole_number_arg(request.args, "page", MAX_PAGE, default=1)
    return render_template("inquiries/inbox.html", pagination=services.inbox(current_user, page=page))


@blueprint.route("/inquiries/new", methods=["GET", "POST"])
@login_required
def new():
    """A verified enterprise asks the cooperative about a product (`?product_id=`, from the product page)."""
    require(current_user, Permission.PLACE_ORDERS)
    product = services.public_product(whole_number_arg(request.args, "product_id", MAX_ID))
    form = QuestionForm()
    if request.method == "POST":
        try:
            inquiry = services.open_inquiry(current_user, product.id, _details(form))
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            flash(_("Your question is sent to %(party)s.", party=product.cooperative.legal_name), "success")
            return redirect(url_for("inquiries.thread", inquiry_id=inquiry.id))
    elif not form.quantity.data:
        form.quantity.data = str(product.min_order_qty)
    return render_template("inquiries/new.html", form=form, product=product), 422 if form.errors else 200


@blueprint.get("/inquiries/<id:inquiry_id>")
@login_required
def thread(inquiry_id):
    return _thread_page(services.get_inquiry(current_user, inquiry_id))


def _thread_page(inquiry, form=None, status=200):
    return render_template("inquiries/thread.html", inquiry=inquiry, form=form or MessageForm(formdata=None),
                           may_draft=can(current_user, Permission.SIGN_AGREEMENTS)), status


@blueprint.post("/inquiries/<id:inquiry_id>/reply")
@login_required
def reply(inquiry_id):
    inquiry = services.get_inquiry(current_user, inquiry_id)
    form = MessageForm()
    try:
        services.reply(current_user, inquiry_id, _details(form))
    except ValidationFailed as error:
        apply_service_errors(form, error)
        return _thread_page(inquiry, form, 422)
    flash(_("Your message is sent."), "success")
    return redirect(url_for("inquiries.thread", inquiry_id=inquiry_id, _anchor="reply"))
