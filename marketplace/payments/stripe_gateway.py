"""Placeholder until the gateway branch lands (replaced by the real module)."""


class GatewayError(Exception):
    pass


class InvalidWebhook(Exception):
    pass


def cards_enabled():
    return False


def parse_webhook(raw_body, signature_header):
    raise InvalidWebhook("no webhook secret configured")
