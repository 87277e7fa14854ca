"""Email over SMTP: the report as plain text and HTML (multipart/alternative), subject = the
report's title, link at the end.

Settings: ``host``, ``port`` (587 with ``starttls``, 465 with ``ssl``, else 25), ``from``, ``to``
(an address or a list), ``username`` and ``password`` (``env:``/``file:`` references), ``starttls``
(false), ``ssl`` (false), ``ca_file`` (a CA bundle for a relay with a private CA; the system's
trust store otherwise), ``timeout`` (30), ``retries`` (3), ``retry_backoff`` (1.0).
Temporary SMTP failures (4xx replies, dropped connections) are retried; 5xx replies are not.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import time
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from typing import TYPE_CHECKING, ClassVar

from okrcore.errors import SourceError
from okrcore.notifiers import Channel, Message, Notifier, NotifyError, send_with_retries
from okrcore.sources import QueryProblem, resolve_secret

if TYPE_CHECKING:
    import smtplib

__all__ = ["EmailNotifier", "build_email"]


def _recipients(value: object) -> list[str]:
    if isinstance(value, str):
        return [a.strip() for a in value.split(",") if a.strip()]
    if isinstance(value, (list, tuple)):
        return [str(a) for a in value]
    return []


def _reply(code: int, text: bytes | str) -> str:
    """An SMTP reply as the server gave it: ``550 5.1.1 mailbox unavailable``."""
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(words.split())}".strip()


def _refusals(refused: Mapping[str, tuple[int, bytes | str]]) -> str:
    return "; ".join(f"{addr}: SMTP {_reply(*refused[addr])}" for addr in sorted(refused))


def build_email(message: Message, sender: str, recipients: list[str]) -> EmailMessage:
    """The email for a report (RFC 5322): subject = title, ``Date`` and ``Message-ID``, and a
    ``multipart/alternative`` body: the plain text first, then the HTML part when the message has
    one; the link to the full report ends both."""
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc))
    # the sender's domain, not the host name: no DNS lookup, nothing about the host leaks
    mail["Message-ID"] = email.utils.make_msgid("okrcore", domain=sender.rpartition("@")[2])
    text = message.text.rstrip("\n") + "\n"
    if message.link:
        text += f"\nFull report: {message.link}\n"
    mail.set_content(text)
    if message.html:
        page = message.html
        if message.link:
            href = html.escape(message.link, quote=True)
            para = f'<p><a href="{href}">Full report</a></p>\n'
            page = page.replace("</body>", para + "</body>") if "</body>" in page else page + para
        mail.add_alternative(page, subtype="html")
    return mail


class EmailNotifier(Notifier):
    """Sends a report by email over SMTP (optionally STARTTLS or implicit TLS)."""

    name: ClassVar[str] = "email"

    def __init__(self, channel: Channel) -> None:
        super().__init__(channel)
        self.sleep: Callable[[float], None] = time.sleep

    @classmethod
    def validate_channel(cls, channel: Channel) -> list[QueryProblem]:
        s = channel.settings
        problems = []
        if not isinstance(s.get("host"), str) or not s.get("host"):
            problems.append(QueryProblem("host", "an email channel needs the SMTP 'host'"))
        if not isinstance(s.get("from"), str) or "@" not in str(s.get("from")):
            problems.append(QueryProblem("from", "expected the sender's address"))
        if not _recipients(s.get("to")):
            problems.append(QueryProblem("to", "expected an address or a list of addresses"))
        password = s.get("password")
        if password is not None and not str(password).startswith(("env:", "file:")):
            problems.append(
                QueryProblem("password", "never write a password in the plan: use 'env:NAME'")
            )
        if s.get("ssl") and s.get("starttls"):
            problems.append(QueryProblem("ssl", "choose either 'ssl' or 'starttls', not both"))
        return problems

    def _secret(self, key: str) -> str | None:
        try:
            return resolve_secret(
                self.channel.settings.get(key), what=f"channel {self.channel.name!r} {key}"
            )
        except SourceError as exc:
            raise NotifyError(str(exc)) from None

    def send(self, message: Message) -> None:
        problems = self.validate_channel(self.channel)
        if problems:
            raise NotifyError(
                f"channel {self.channel.name!r} (email): "
                + "; ".join(f"{p.field}: {p.message}" for p in problems)
            )
        s = self.channel.settings
        recipients = _recipients(s.get("to"))
        mail = build_email(message, str(s["from"]), recipients)
        send_with_retries(
            lambda: self._deliver(mail, recipients),
            attempts=int(s.get("retries", 3)),
            backoff=float(s.get("retry_backoff", 1.0)),
            sleep=self.sleep,
        )

    def _deliver(self, mail: EmailMessage, recipients: list[str]) -> None:
        import smtplib  # here, not at the top: listing plugins stays fast
        import ssl

        s = self.channel.settings
        host = str(s["host"])
        use_ssl, starttls = bool(s.get("ssl")), bool(s.get("starttls"))
        port = int(s.get("port") or (465 if use_ssl else 587 if starttls else 25))
        timeout = float(s.get("timeout", 30))
        where = f"channel {self.channel.name!r} (email via {host}:{port})"
        user = s.get("username")
        if isinstance(user, str) and user.startswith(("env:", "file:")):
            user = self._secret("username")
        password = self._secret("password")
        ca_file = s.get("ca_file")
        try:
            context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise NotifyError(f"{where}: cannot read ca_file {ca_file}: {exc}") from None
        try:
            smtp: smtplib.SMTP
            if use_ssl:
                smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
            else:
                smtp = smtplib.SMTP(host, port, timeout=timeout)
            with smtp:
                if starttls:
                    smtp.starttls(context=context)
                if user and password:
                    smtp.login(str(user), password)
                refused = smtp.send_message(mail, to_addrs=recipients)
        except smtplib.SMTPResponseException as exc:
            raise NotifyError(
                f"{where}: SMTP {_reply(exc.smtp_code, exc.smtp_error)}",
                transient=400 <= exc.smtp_code < 500,
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            # greylisting and full mailboxes answer 4xx: worth another try when all are temporary
            raise NotifyError(
                f"{where}: every recipient refused: {_refusals(exc.recipients)}",
                transient=all(400 <= code < 500 for code, _ in exc.recipients.values()),
            ) from None
        except ssl.SSLError as exc:  # a certificate or TLS problem: retrying will not help
            raise NotifyError(f"{where}: TLS: {exc}") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise NotifyError(f"{where}: {exc}") from None
        except (
            TimeoutError,
            smtplib.SMTPServerDisconnected,
            smtplib.SMTPConnectError,
            OSError,
        ) as exc:
            raise NotifyError(f"{where}: {type(exc).__name__}: {exc}", transient=True) from None
        if refused:
            raise NotifyError(f"{where}: refused recipients: {_refusals(refused)}")
