"""Only payments/stripe_gateway.py imports stripe; localstripe (GPL, tests and demos) is imported only inside
fake_stripe.main(), in its own process; the app starts without loading either."""
import re
import subprocess
import sys

from marketplace import config
from tests.support import ROOT


def importers(pattern):
    found = {}
    for path in sorted((ROOT / "marketplace").rglob("*.py")):
        for match in re.finditer(rf"^(\s*)(?:from|import) ({pattern})\b", path.read_text(), re.M):
            found.setdefault(match.group(2), set()).add((path.relative_to(ROOT).as_posix(), bool(match.group(1))))
    return found


def test_only_the_gateway_imports_stripe_and_only_the_launcher_localstripe():
    assert importers(r"stripe|localstripe|aiohttp") == {
        "stripe": {("marketplace/payments/stripe_gateway.py", True)},  # indented: inside a function
        "localstripe": {("marketplace/payments/fake_stripe.py", True)},
        "aiohttp": {("marketplace/payments/fake_stripe.py", True)},
    }


def test_the_app_starts_without_loading_stripe_or_localstripe():
    code = ("import sys; from marketplace import create_app; from tests.support import BASE_CONFIG; "
            "create_app({**BASE_CONFIG, 'SQLALCHEMY_DATABASE_URI': 'sqlite://'}); "
            "import marketplace.payments.stripe_gateway, marketplace.payments.vietqr, marketplace.payments.fake_stripe; "
            "print(sorted(m for m in ('stripe', 'localstripe', 'aiohttp') if m in sys.modules))")
    completed = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=ROOT, capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_stripe_settings_come_from_the_environment(monkeypatch, tmp_path):
    assert config.defaults(tmp_path)["STRIPE_API_BASE"] is None
    assert config.defaults(tmp_path)["STRIPE_JS_URL"] == "https://js.stripe.com/v3/"
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:8420")
    monkeypatch.setenv("STRIPE_JS_URL", "http://127.0.0.1:8420/js.stripe.com/v3/")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_demo")
    settings = config.from_environment()
    assert settings["STRIPE_API_BASE"] == "http://127.0.0.1:8420"
    assert settings["STRIPE_JS_URL"] == "http://127.0.0.1:8420/js.stripe.com/v3/"
    assert settings["STRIPE_SECRET_KEY"] == "sk_test_demo"


def test_make_run_stripe_demo_installs_the_localstripe_the_test_extra_pins():
    # The Makefile's .installed-localstripe rule greps this one requirement out of pyproject.toml.
    pins = re.findall(r'"(localstripe[^"]*)"', (ROOT / "pyproject.toml").read_text())
    assert pins == ["localstripe==1.15.10"]
    makefile = (ROOT / "Makefile").read_text()
    assert "grep -o '\"localstripe[^\"]*\"' pyproject.toml" in makefile
    assert "STRIPE_API_BASE=http://127.0.0.1:$(STRIPE_DEMO_PORT)" in makefile and "trap " in makefile
