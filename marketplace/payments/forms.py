"""Input shapes of the payment pages (rules live in payments/services.py)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, SelectField, StringField

from marketplace.catalog.forms import Marked
from marketplace.forms import select_choices
from marketplace.payments.vietqr import BANKS


def _text(value):
    return value.strip() if isinstance(value, str) else value


class TransferForm(FlaskForm):
    """The amount of a bank transfer the cooperative received."""

    amount_vnd = StringField(_l("Amount received (đồng)"), validators=[Marked()], filters=[_text],
                             render_kw={"inputmode": "numeric"})


class PaymentSettingsForm(FlaskForm):
    """A cooperative's payment terms and the bank account buyers transfer to."""

    mode = RadioField(_l("Payment terms"), validate_choice=False)
    deposit_percent = StringField(_l("Deposit (%)"), filters=[_text], render_kw={"inputmode": "numeric"},
                                  description=_l("With a deposit: the percentage of the order paid before shipping, "
                                                 "from 1 to 99."))
    bank_bin = SelectField(_l("Bank"), validate_choice=False)
    account_number = StringField(_l("Account number"), filters=[_text], render_kw={"autocomplete": "off"})
    account_name = StringField(_l("Account holder"), filters=[_text],
                               description=_l("As the bank writes it, usually in capitals without accents."))
    password = PasswordField(_l("Your password"), render_kw={"autocomplete": "current-password"},
                             description=_l("Only to add, change or remove the bank account: where buyers' money "
                                            "goes is protected like a signature."))

    def set_choices(self, modes):
        self.mode.choices = modes
        banks = sorted(BANKS.items(), key=lambda item: item[1].casefold())
        self.bank_bin.choices = select_choices(banks, _l("No bank account (bank transfers not offered)"))
