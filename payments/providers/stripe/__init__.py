"""Stripe Checkout adapter. ``client.py`` is the only module importing ``stripe``."""
