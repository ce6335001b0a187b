"""Payments: card payments through Stripe and bank transfers by VietQR.

- stripe_gateway.py  the only importer of stripe: payment intents, refunds, webhook signatures, as plain values
- vietqr.py          VietQR (NAPAS 247, EMVCo) transfer payloads and their QR codes, built here
- fake_stripe.py     `python -m marketplace.payments.fake_stripe`: localstripe on 127.0.0.1 for tests and demos
"""
