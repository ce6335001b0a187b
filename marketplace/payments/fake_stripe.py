"""A fake Stripe for tests and demos: localstripe, run on 127.0.0.1 as its own process.

    python -m marketplace.payments.fake_stripe --port 8420 [--webhook URL] [--webhook-secret whsec_...]

Then STRIPE_API_BASE=http://127.0.0.1:8420 points the stripe library at it (any sk_test_... key works),
and STRIPE_JS_URL=http://127.0.0.1:8420/js.stripe.com/v3/ loads its stand-in for Stripe.js.

localstripe (GPL, in the test extra only) is imported inside main(): the app never imports it.
What this launcher changes from localstripe's own `localstripe` command:
- it listens on 127.0.0.1 only (the command listens on every interface);
- the store stays in memory: the command reads /tmp/localstripe.pickle at start and rewrites it after every
  change, which would share (and leak) one machine-wide state between runs;
- Idempotency-Key is honoured as Stripe honours it (localstripe ignores it): the same key with the same
  request answers the first answer again, with other parameters 400 idempotency_error;
- Stripe.js's confirmCardPayment(clientSecret) can pay a fresh intent. localstripe's stand-in only completes
  intents already waiting for 3-D Secure, and sends no card details: here, for an intent without a payment
  method, its dialog's "Complete authentication" pays with the test card 4242 4242 4242 4242 and
  "Fail authentication" fails the attempt, as a declined 3-D Secure would.
--webhook URL sends every event, signed with --webhook-secret (default whsec_demo), to URL, as
`POST /_config/webhooks/<id>` with url and secret would.
"""
import argparse
import logging
import warnings

HOST = "127.0.0.1"
DEFAULT_PORT = 8420
DEFAULT_WEBHOOK_SECRET = "whsec_demo"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m marketplace.payments.fake_stripe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--webhook", metavar="URL", help="send every event to this URL")
    parser.add_argument("--webhook-secret", default=DEFAULT_WEBHOOK_SECRET, help="signs the events sent")
    arguments = parser.parse_args(argv)

    # localstripe 1.15 registers plain functions as aiohttp handlers, which aiohttp deprecates.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from aiohttp import web
        from localstripe import resources, server, webhooks
        from localstripe.errors import UserError

    # No disk: never load nor write /tmp/localstripe.pickle.
    resources.Store.dump_to_disk = lambda store: None
    resources.Store.try_load_from_disk = lambda store: None

    if arguments.webhook:
        webhooks.register_webhook("marketplace", arguments.webhook, arguments.webhook_secret, None)

    logging.basicConfig(level=logging.INFO, format="fake stripe: %(message)s")
    app = server.app
    # After localstripe's own middlewares (errors, authentication): only authenticated requests get here.
    app.middlewares.append(_idempotency(web, UserError))
    app.middlewares.append(_confirm_fresh_intents(web, resources))
    web.run_app(app, host=HOST, port=arguments.port, access_log=logging.getLogger("aiohttp.access"),
                print=lambda text: logging.info(text.strip()))


def _idempotency(web, UserError):
    """Stripe's Idempotency-Key: one answer per key and account, replayed for the same request."""
    answers = {}

    @web.middleware
    async def middleware(request, handler):
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return await handler(request)
        scope = (request.headers.get("Authorization", ""), key)
        fingerprint = (request.path_qs, await request.read())
        if scope in answers:
            first = answers[scope]
            if first is None:
                return _stripe_error(web, 409, "idempotency_error",
                                     "There is currently another in-progress request using this Idempotent Key.")
            if first[0] != fingerprint:
                return _stripe_error(web, 400, "idempotency_error",
                                     "Keys for idempotent requests can only be used with the same parameters they "
                                     f"were first used with. Try using a key other than '{key}'.")
            _, status, body, content_type = first
            return web.Response(status=status, body=body, headers={"Content-Type": content_type,
                                                                   "Idempotent-Replayed": "true"})
        answers[scope] = None
        try:
            try:
                response = await handler(request)
            except UserError as error:
                response = error.to_response()
        except BaseException:
            del answers[scope]
            raise
        if response.status >= 500:  # nothing was done: the key may be used again
            del answers[scope]
        else:
            answers[scope] = (fingerprint, response.status, response.body, response.headers["Content-Type"])
        return response

    return middleware


def _confirm_fresh_intents(web, resources):
    """Let the Stripe.js stand-in's confirmCardPayment pay an intent that has no payment method yet."""

    @web.middleware
    async def middleware(request, handler):
        parts = request.path.strip("/").split("/")
        if request.method == "POST" and len(parts) == 4 and parts[:2] == ["v1", "payment_intents"] \
                and parts[3] == "_authenticate":
            intent = resources.store.get("payment_intent:" + parts[2])
            try:
                secret = (await request.json()).get("client_secret")
            except ValueError:
                secret = None
            if intent is not None and secret == intent.client_secret \
                    and intent.status in ("requires_payment_method", "requires_confirmation"):
                if not intent.payment_method:
                    intent.payment_method = resources.PaymentMethod._api_retrieve("pm_card_visa").id
                # As if confirming had asked for 3-D Secure: localstripe's /_authenticate takes it from here.
                intent.next_action = {"type": "use_stripe_sdk",
                                      "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": ""}}
        return await handler(request)

    return middleware


def _stripe_error(web, status, kind, message):
    return web.json_response({"error": {"type": kind, "message": message}}, status=status)


if __name__ == "__main__":
    main()
