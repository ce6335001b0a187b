"""Account pages. Each view reads a form, calls one service, and picks a response."""
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from marketplace.accounts import services, sessions, throttle
from marketplace.accounts.forms import (
    AcceptInvitationForm,
    ApiTokenForm,
    ChangePasswordForm,
    ConfirmForm,
    ForgotPasswordForm,
    InviteForm,
    LoginForm,
    OrganisationForm,
    RegistrationForm,
    ResetPasswordForm,
    UnlockLoginForm,
)
from marketplace.accounts.models import OrganisationKind
from marketplace.errors import Conflict, DomainError, LinkUnusable, ValidationFailed
from marketplace.extensions import limiter
from marketplace.forms import apply_service_errors
from marketplace.safety import safe_next_url

blueprint = Blueprint("accounts", __name__)


@blueprint.errorhandler(LinkUnusable)
def link_unusable(error):
    """A used, expired or unknown reset or registration link: say which, and offer a new one (410 or 404)."""
    return render_template("accounts/link_unusable.html", kind=error.kind, reason=error.reason), error.status


# ---------------------------------------------------------------- login and logout

@blueprint.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_PER_IP"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.my_home"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        client = throttle.client_of(request)
        try:
            user = services.authenticate(form.email.data, form.password.data, client)
        except DomainError as error:
            return _login_refused(error, "accounts/login.html", form=form)
        _open_session(user)
        return throttle.trust_browser(redirect(safe_next_url(form.next.data, "main.my_home")), client, user)
    return render_template("accounts/login.html", form=form)


def _login_refused(error, template, **context):
    """The form again with the reason: 401 for wrong credentials, 429 with Retry-After when throttled."""
    flash(str(error.message), "danger")
    response = make_response(render_template(template, **context), error.status)
    if isinstance(error, throttle.TooManyAttempts):
        g.retry_after = error.retry_after  # web._init_retry_after writes it, after Flask-Limiter's headers
    return response


@blueprint.route("/login/unlock/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_PER_IP"], methods=["POST"])
def unlock_login(token):
    """The link emailed when wrong passwords reached the account's ceiling: log in from this browser."""
    user = services.open_login_unlock(token)
    form = UnlockLoginForm()
    if form.validate_on_submit():
        client = throttle.client_of(request)
        try:
            user = services.unlock_login(token, form.password.data, client)
        except DomainError as error:
            if error.status == 404:
                raise
            return _login_refused(error, "accounts/unlock_login.html", form=form, email=user.email)
        _open_session(user)
        flash(_("You are logged in. This browser can log in to your account from now on, even while "
                "someone keeps trying passwords elsewhere."), "success")
        return throttle.trust_browser(redirect(url_for("main.my_home")), client, user)
    return render_template("accounts/unlock_login.html", form=form, email=user.email)


def _open_session(user):
    """Start a fresh cookie session for a user who just proved who they are (anti-fixation)."""
    language = session.get("lang")
    session.clear()
    session["auth"] = sessions.start(user, request.remote_addr, request.user_agent.string)
    if language:
        session["lang"] = language
    login_user(user)


@blueprint.post("/logout")
def logout():
    sessions.end(session.get("auth"))
    logout_user()
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    flash(_("You are logged out."), "info")
    return redirect(url_for("main.home"))


# ---------------------------------------------------------------- registration

@blueprint.get("/register")
def register_start():
    return render_template("accounts/register_start.html")


def _refreshing_communes():
    return "refresh_communes" in request.form


def _registration_email_key():
    return "register-email:" + services.normalise_email(request.form.get("owner_email"))


def _registration_accepted(response):
    return bool(g.get("registration_accepted"))


@blueprint.route("/register/<any(cooperative, enterprise):kind>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTRATION_RATE_LIMIT_PER_IP"], methods=["POST"],
               exempt_when=_refreshing_communes)
@limiter.limit(lambda: current_app.config["REGISTRATION_RATE_LIMIT_PER_EMAIL"], methods=["POST"],
               key_func=_registration_email_key, deduct_when=_registration_accepted, exempt_when=_refreshing_communes)
def register(kind):
    form = RegistrationForm(is_cooperative=kind == OrganisationKind.COOPERATIVE)
    if request.method == "POST" and _refreshing_communes():
        form.validate_on_submit()  # keeps the CSRF check; errors are not shown on a refresh
        _clear_errors(form)
        return render_template("accounts/register.html", form=form, kind=kind)
    if form.validate_on_submit():
        try:
            services.request_registration(
                kind,
                services.OrganisationDetails.from_mapping(form.details()),
                form.owner_email.data,
                form.full_name.data,
                form.password.data,
                locale=str(get_locale()),
            )
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            # The same words whether the email is new or already has an account (no enumeration).
            g.registration_accepted = True
            flash(_("We have sent an email to %(email)s. Open the link in it within 24 hours to finish the "
                    "registration.", email=services.normalise_email(form.owner_email.data)), "info")
            return redirect(url_for("accounts.register_sent"))
    return render_template("accounts/register.html", form=form, kind=kind), 422 if form.errors else 200


@blueprint.get("/register/sent")
def register_sent():
    return render_template("accounts/register_sent.html")


@blueprint.route("/register/confirm/<token>", methods=["GET", "POST"])
def confirm_registration(token):
    """The emailed link: a button, so that a mail scanner opening the link creates nothing."""
    services.check_registration_token(token)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            user = services.confirm_registration(token)
        except (ValidationFailed, Conflict) as error:
            messages = [str(m) for m in getattr(error, "errors", {}).values()] or [str(error.message)]
            flash(" ".join([_("The registration could not be finished:"), *messages]), "danger")
            return redirect(url_for("accounts.register_start"))
        _open_session(user)
        flash(_("Your organisation is registered. The cooperative alliance will verify it; "
                "meanwhile you can complete your profile."), "success")
        return redirect(url_for("accounts.organisation"))
    return render_template("accounts/confirm_registration.html", form=form)


def _clear_errors(form):
    for field in form:
        field.errors = []


# ---------------------------------------------------------------- password reset

def _reset_email_key():
    return "reset-email:" + services.normalise_email(request.form.get("email"))


@blueprint.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["PASSWORD_RESET_RATE_LIMIT_PER_IP"], methods=["POST"])
@limiter.limit(lambda: current_app.config["PASSWORD_RESET_RATE_LIMIT_PER_EMAIL"], methods=["POST"],
               key_func=_reset_email_key)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data, locale=str(get_locale()))
        flash(_("If an account exists for this email, we have sent a link to reset the password. "
                "It works once, for one hour."), "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form)


@blueprint.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token):
    services.check_reset_token(token)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            user, revoked = services.reset_password(token, form.password.data)
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            flash(_("Your password is changed. Log in with the new one."), "success")
            _flash_revoked_tokens(revoked)
            # The link proved the mailbox, as an unlock link does: this browser may log in despite the ceiling.
            return throttle.trust_browser(redirect(url_for("accounts.login")), throttle.client_of(request), user)
    return render_template("accounts/reset_password.html", form=form)


# ---------------------------------------------------------------- account

@blueprint.get("/account")
@login_required
def account():
    return _account_page()


def _account_page(password_form=None, token_form=None, new_token=None, status=200):
    return render_template(
        "accounts/account.html",
        password_form=password_form or ChangePasswordForm(),
        token_form=token_form or ApiTokenForm(),
        tokens=services.list_api_tokens(current_user),
        new_token=new_token,
        confirm_form=ConfirmForm(),
    ), status


@blueprint.post("/account/password")
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            revoked = services.change_password(current_user, form.current_password.data, form.new_password.data,
                                               session.get("auth"), throttle.client_of(request))
        except throttle.TooManyAttempts as error:
            form.current_password.errors = [str(error.message)]
            g.retry_after = error.retry_after  # web._init_retry_after writes it
            return _account_page(password_form=form, status=error.status)
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            flash(_("Your password is changed. Other devices have been logged out."), "success")
            _flash_revoked_tokens(revoked)
            # Other browsers' trust ended with the old password; this one proved it and stays trusted.
            return throttle.trust_browser(redirect(url_for("accounts.account")), throttle.client_of(request),
                                          current_user)
    return _account_page(password_form=form, status=422)


def _flash_revoked_tokens(revoked):
    if revoked:
        flash(ngettext("%(num)s API token was revoked with the old password: create a new one for your software.",
                       "Your %(num)s API tokens were revoked with the old password: create new ones for your software.",
                       revoked), "warning")


@blueprint.post("/account/tokens")
@login_required
def create_token():
    form = ApiTokenForm()
    if form.validate_on_submit():
        try:
            _token, secret = services.create_api_token(current_user, form.name.data)
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            return _account_page(new_token=secret)
    return _account_page(token_form=form, status=422)


@blueprint.post("/account/tokens/<id:token_id>/revoke")
@login_required
def revoke_token(token_id):
    if ConfirmForm().validate_on_submit():
        services.revoke_api_token(current_user, token_id)
        flash(_("The token is revoked."), "success")
    return redirect(url_for("accounts.account"))


# ---------------------------------------------------------------- organisation and members

@blueprint.route("/organisation", methods=["GET", "POST"])
@login_required
def organisation():
    organisation = current_user.organisation
    form = OrganisationForm(obj=organisation, is_cooperative=organisation.is_cooperative)
    editing = current_user.is_owner and not organisation.is_alliance
    if editing and request.method == "POST" and "refresh_communes" not in request.form and form.validate_on_submit():
        try:
            services.update_organisation(current_user, services.OrganisationDetails.from_mapping(form.details()))
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("accounts.organisation"))
    elif request.method == "POST" and not editing:
        abort(403)
    status = 422 if form.errors else 200
    return render_template("accounts/organisation.html", form=form, organisation=organisation, editing=editing), status


@blueprint.get("/organisation/members")
@login_required
def members():
    return _members_page()


def _members_page(invite_form=None, status=200):
    invitations = services.pending_invitations(current_user) if current_user.is_owner else []
    return render_template(
        "accounts/members.html",
        members=services.active_members(current_user),
        invitations=invitations,
        invite_form=invite_form or InviteForm(),
        confirm_form=ConfirmForm(),
    ), status


@blueprint.post("/organisation/members/invite")
@login_required
def invite():
    form = InviteForm()
    if form.validate_on_submit():
        try:
            services.invite_member(current_user, form.email.data, form.role.data)
        except ValidationFailed as error:
            apply_service_errors(form, error)
        except DomainError as error:
            if error.status == 403:
                raise
            form.email.errors = [str(error.message)]
        else:
            flash(_("Invitation sent to %(email)s. The link works for 7 days.", email=form.email.data), "success")
            return redirect(url_for("accounts.members"))
    return _members_page(invite_form=form, status=422)


@blueprint.post("/organisation/members/<id:user_id>/remove")
@login_required
def remove_member(user_id):
    if ConfirmForm().validate_on_submit():
        services.remove_member(current_user, user_id)
        flash(_("The member is removed and logged out."), "success")
    return redirect(url_for("accounts.members"))


@blueprint.post("/organisation/members/<id:user_id>/signing-right")
@login_required
def signing_right(user_id):
    """The owner gives a member the right to sign agreements in the organisation's name, or takes it back."""
    allowed = request.form.get("allowed") == "1"
    member = services.set_signing_right(current_user, user_id, allowed)
    if allowed:
        flash(_("%(name)s can now sign agreements for the organisation.", name=member.full_name), "success")
    else:
        flash(_("%(name)s can no longer sign agreements for the organisation.", name=member.full_name), "success")
    return redirect(url_for("accounts.members"))


@blueprint.post("/organisation/invitations/<id:invitation_id>/revoke")
@login_required
def revoke_invitation(invitation_id):
    if ConfirmForm().validate_on_submit():
        services.revoke_invitation(current_user, invitation_id)
        flash(_("The invitation is cancelled."), "success")
    return redirect(url_for("accounts.members"))


@blueprint.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token):
    invitation = services.open_invitation(token)
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            user = services.accept_invitation(token, form.full_name.data, form.password.data)
        except ValidationFailed as error:
            apply_service_errors(form, error)
        else:
            _open_session(user)
            flash(_("Welcome to %(name)s.", name=user.organisation.legal_name), "success")
            return redirect(url_for("accounts.organisation"))
    return render_template("accounts/accept_invitation.html", form=form, invitation=invitation)
