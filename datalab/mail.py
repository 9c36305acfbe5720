"""Sending mail: over SMTP when `SMTP_HOST` is set, otherwise to the log (development only)."""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from datalab.rehearsal import rehearsing
from datalab.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    """One plain-text message."""

    to: str
    subject: str
    body: str


class Mailer(Protocol):
    """Something that delivers mail."""

    def send(self, mail: Mail) -> None:
        """Deliver `mail`."""


class LogMailer:
    """Write each message to the log, so a developer can follow a reset link."""

    def __init__(self, *, reveal: bool) -> None:
        self.reveal = reveal

    def send(self, mail: Mail) -> None:
        """Log `mail`; outside development only that one was dropped, never its secret body."""
        if _withheld(mail):
            return
        if self.reveal:
            log.warning("mail to %s: %s\n%s", mail.to, mail.subject, mail.body)
        else:
            log.error("SMTP_HOST is not set: dropped a mail (%s)", mail.subject)


class SmtpMailer:
    """Send each message through an SMTP server."""

    def __init__(self, settings: Settings) -> None:
        assert settings.mail.smtp_host, "SmtpMailer needs SMTP_HOST"
        self.settings = settings

    def send(self, mail: Mail) -> None:
        """Send `mail`, with STARTTLS and login when configured."""
        if _withheld(mail):
            return
        message = EmailMessage()
        message["From"] = self.settings.mail.smtp_from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        settings = self.settings
        with smtplib.SMTP(settings.mail.smtp_host or "", settings.mail.smtp_port, timeout=10) as smtp:
            if settings.mail.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.mail.smtp_username and settings.mail.smtp_password:
                smtp.login(settings.mail.smtp_username, settings.mail.smtp_password.get_secret_value())
            smtp.send_message(message)


def _withheld(mail: Mail) -> bool:
    # A rehearsal (a shadowed write) runs the code that would mail; the real run mails once.
    if rehearsing():
        log.info("mail not sent in a rehearsal (%s)", mail.subject)
        return True
    return False


def build_mailer(settings: Settings) -> Mailer:
    """Return the SMTP mailer when `SMTP_HOST` is set, else the log mailer."""
    if settings.mail.smtp_host:
        return SmtpMailer(settings)
    return LogMailer(reveal=settings.env != "production")
