"""Input shapes of account pages. Rules (tax code, uniqueness, password policy) live in services."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, IntegerField, PasswordField, SelectField, StringField, TelField
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

from marketplace import geo
from marketplace.accounts.models import CooperativeType, MemberRole, Sector, label
from marketplace.accounts.services import TAX_CODE_EXAMPLE
from marketplace.forms import int_or_none, select_choices


def _choices(enum_class, placeholder=None):
    return select_choices([(member.value, label(member)) for member in enum_class], placeholder)


class OrganisationForm(FlaskForm):
    legal_name = StringField(_l("Legal name"), validators=[DataRequired(), Length(max=200)],
                             description=_l("As written on the business or cooperative registration certificate."))
    tax_code = StringField(_l("Tax code (mã số thuế)"), validators=[DataRequired(), Length(max=20)],
                           description=_l("10 digits, or 13 written as 10-3 for a branch (e.g. %(example)s).",
                                       example=TAX_CODE_EXAMPLE))
    cooperative_type = SelectField(_l("Type of cooperative"), validators=[Optional()])
    sector = SelectField(_l("Sector"), validators=[DataRequired()])
    province_code = SelectField(_l("Province / city"), coerce=int_or_none, validators=[DataRequired()])
    commune_code = SelectField(_l("Commune / ward"), coerce=int_or_none, validate_choice=False,
                               validators=[DataRequired()],
                               description=_l("Administrative units in force since 1 July 2025."))
    street_address = StringField(_l("Street address"), validators=[Optional(), Length(max=200)])
    phone = TelField(_l("Phone"), validators=[DataRequired(), Length(max=20)])
    email = EmailField(_l("Organisation email"), validators=[DataRequired(), Email(), Length(max=254)])
    representative = StringField(_l("Legal representative"), validators=[DataRequired(), Length(max=120)])
    member_count = IntegerField(_l("Number of members"), validators=[Optional(), NumberRange(min=1, max=100000)])
    founded_year = IntegerField(_l("Year founded"), validators=[Optional(), NumberRange(min=1945, max=2100)])

    def __init__(self, *args, is_cooperative=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.is_cooperative = is_cooperative
        self.cooperative_type.choices = _choices(CooperativeType, _l("Choose…"))
        self.sector.choices = _choices(Sector, _l("Choose…"))
        self.province_code.choices = select_choices(geo.provinces(), _l("Choose a province…"))
        self.commune_code.choices = select_choices(geo.communes(self.province_code.data), _l("Choose a commune…"))
        if not is_cooperative:
            for name in ("cooperative_type", "member_count", "founded_year"):
                delattr(self, name)

    def details(self):
        """The fields as a mapping for services.OrganisationDetails."""
        names = ["legal_name", "tax_code", "sector", "province_code", "commune_code", "street_address",
                 "phone", "email", "representative"]
        if self.is_cooperative:
            names += ["cooperative_type", "member_count", "founded_year"]
        return {name: getattr(self, name).data for name in names}


class RegistrationForm(OrganisationForm):
    full_name = StringField(_l("Your full name"), validators=[DataRequired(), Length(max=120)])
    owner_email = EmailField(_l("Your email (for logging in)"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)],
                             description=_l("At least 12 characters. A few unrelated words make a strong, "
                                            "memorable password."))


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    next = HiddenField()


class UnlockLoginForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)],
                             description=_l("At least 12 characters."))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=256)])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)],
                                 description=_l("At least 12 characters."))


class InviteForm(FlaskForm):
    email = EmailField(_l("Email of the person to invite"), validators=[DataRequired(), Email(), Length(max=254)])
    role = SelectField(_l("Role"), choices=_choices(MemberRole), default=MemberRole.MEMBER.value)


class AcceptInvitationForm(FlaskForm):
    full_name = StringField(_l("Your full name"), validators=[DataRequired(), Length(max=120)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)],
                             description=_l("At least 12 characters."))


class ApiTokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=80)],
                       description=_l("What the token is for, e.g. “ERP sync”."))


class ConfirmForm(FlaskForm):
    """An empty form: a CSRF-protected button (logout, revoke, remove)."""
