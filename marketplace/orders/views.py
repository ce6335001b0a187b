"""Pages of orders ("orders" blueprint). Each view reads the form, calls one service and picks a response;
services.py decides who may do what."""
from flask import Blueprint, render_template
from flask_login import current_user, login_required

from marketplace.orders import services
from marketplace.payments import services as payments

blueprint = Blueprint("orders", __name__)


@blueprint.get("/orders/<id:order_id>")
@login_required
def detail(order_id):
    """One order with its lines, payments and timeline (404 unless the user's organisation is a party)."""
    order = services.get_order(current_user, order_id)
    return render_template("orders/detail.html", order=order, methods=payments.methods_for(order))
