"""An email backend whose server refuses every recipient, for the retry tests."""

from smtplib import SMTPRecipientsRefused

from django.core.mail.backends.base import BaseEmailBackend


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise SMTPRecipientsRefused({"someone@example.com": (550, b"No such user")})
