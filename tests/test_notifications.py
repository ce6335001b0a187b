"""Emails in development: MAIL_BACKEND "console" prints them readable (marketplace/notifications.py)."""
from marketplace import notifications


def test_the_console_prints_subjects_and_bodies_decoded(make_app, capsys):
    app = make_app(MAIL_BACKEND="console")
    with app.app_context():
        notifications.deliver({"to": "chunhiem@htx.example", "subject": "Đặt lại mật khẩu Chợ HTX của bạn",
                               "body": "Xin chào,\nMở liên kết này: http://127.0.0.1:5000/reset-password/x\n",
                               "template": "password_reset"})
    printed = capsys.readouterr().out
    assert "Subject: Đặt lại mật khẩu Chợ HTX của bạn\n" in printed
    assert "To: chunhiem@htx.example" in printed
    assert "\nXin chào,\nMở liên kết này: http://127.0.0.1:5000/reset-password/x\n" in printed
    assert "=?utf-8?" not in printed and printed.endswith("-" * 79 + "\n")


def test_other_backends_are_flask_mailmans(make_app):
    assert make_app(MAIL_BACKEND="locmem").extensions["mailman"].backend == "locmem"
