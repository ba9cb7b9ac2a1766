"""Email backends that fail the way mail servers do, for the sender's tests."""

from smtplib import SMTPRecipientsRefused, SMTPServerDisconnected

from django.core.mail.backends.base import BaseEmailBackend


class RefusingBackend(BaseEmailBackend):
    """The server refuses every recipient."""

    def send_messages(self, email_messages):
        raise SMTPRecipientsRefused({"someone@example.com": (550, b"No such user")})


class UnreachableBackend(BaseEmailBackend):
    """Nothing listens."""

    def open(self):
        raise ConnectionRefusedError(111, "Connection refused")

    def send_messages(self, email_messages):
        self.open()


class OneMessagePerConnection(BaseEmailBackend):
    """A provider that takes one message per connection and hangs up on the second: like Django's
    SMTP backend, `open()` does nothing while it holds a connection, even a broken one."""

    sent: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.connection = None

    def open(self):
        if self.connection is not None:
            return False
        self.connection = {"messages": 0}
        return True

    def close(self):
        self.connection = None

    def send_messages(self, email_messages):
        if self.connection is None or self.connection["messages"] >= 1:
            raise SMTPServerDisconnected("please run connect() first")
        self.connection["messages"] += 1
        self.sent.extend(email_messages)
        return len(email_messages)
