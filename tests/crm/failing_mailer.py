"""An e-mail backend whose server refuses every message (a real SMTP error)."""

import smtplib

from django.core.mail.backends.base import BaseEmailBackend


class Backend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused({"a@x.com": (550, b"refused")})
