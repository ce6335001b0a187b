"""Fixtures of the payment tests: an app pointed at the fake Stripe server (`localstripe`, in tests/conftest.py)."""
import pytest
from flask import Flask

WEBHOOK_SECRET = "whsec_test_secret"


@pytest.fixture
def stripe_app(localstripe):
    """An app context whose settings point the gateway at the fake Stripe server."""
    app = Flask(__name__)
    app.config.update(
        STRIPE_SECRET_KEY="sk_test_marketplace",
        STRIPE_PUBLISHABLE_KEY="pk_test_marketplace",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_API_BASE=localstripe,
    )
    with app.app_context():
        yield app
