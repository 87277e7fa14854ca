"""Secrets a connection references: reading ``env:NAME`` / ``file:PATH``, and scrubbing them.

Import these from :mod:`okrcore.sources` (this module is its part; the names are public there).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from okrcore.errors import SourceError

if TYPE_CHECKING:
    from okrcore.model import Connection


def is_secret_reference(value: Any) -> bool:
    """True for ``env:NAME`` or ``file:PATH``: the only ways a plan may name a secret."""
    return isinstance(value, str) and value.startswith(("env:", "file:"))


def resolve_secret(value: Any, *, what: str = "secret", base: Path | None = None) -> str | None:
    """Read a secret that a connection references, never one written inline.

    ``env:NAME`` reads the environment variable NAME; ``file:PATH`` reads a file (relative paths are
    relative to ``base``, the plan's folder); ``None`` stays ``None``. Anything else is refused, so
    that a pasted token never works by accident. The error names the reference, never its value.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        kind = type(value).__name__
        raise SourceError(f"{what}: expected 'env:NAME' or 'file:PATH', got a {kind}")
    if value.startswith("env:"):
        name = value[4:]
        secret = os.environ.get(name)
        if not secret:
            raise SourceError(f"{what}: environment variable {name} is not set")
        return secret
    if value.startswith("file:"):
        path = Path(value[5:]).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SourceError(f"{what}: cannot read {path}: {exc.strerror}") from None
    raise SourceError(
        f"{what}: secrets are never written in the plan; use 'env:NAME' or 'file:PATH'"
    )


REDACTED = "[secret]"
"""What :class:`Scrubber` puts where a secret was."""


class Scrubber:
    """Removes a connection's secrets from text that leaves a source (errors, warnings).

    It knows every secret the connection's settings reference (``env:NAME``, ``file:PATH``, at
    any depth, e.g. inside ``headers``) and finds each one as written, URL-encoded, base64-encoded,
    escaped as Python shows it in a ``repr`` (a newline as ``\\n``), and line by line. The
    refresh engine and ``okr lint --online`` pass every failure message through it, so no service
    that echoes a credential can put it in the output, the run log, the store or a report. Call
    it: ``scrub(text)``.
    """

    MIN_LENGTH = 4  # shorter "secrets" would blank out ordinary words

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: set[str] = set()
        for secret in secrets:
            self.add(secret)

    @classmethod
    def for_connection(cls, connection: Connection) -> Scrubber:
        """A scrubber for the secrets ``connection``'s settings reference (those that can be read;
        one that cannot is reported elsewhere and never sent)."""
        base = Path(connection.base_dir) if connection.base_dir else None
        scrubber = cls()
        for reference in _references(connection.settings):
            try:
                value = resolve_secret(reference, base=base)
            except SourceError:
                continue
            if value:
                scrubber.add(value)
        return scrubber

    def add(self, secret: str) -> None:
        """Also remove ``secret`` (and its encoded forms)."""
        import base64
        import urllib.parse

        raw = secret.encode("utf-8", "surrogateescape")
        forms = {
            secret,
            repr(secret)[1:-1],
            urllib.parse.quote(secret, safe=""),
            urllib.parse.quote_plus(secret),
            base64.b64encode(raw).decode(),
            base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("="),
            *secret.splitlines(),
        }
        self._forms |= {f.strip() for f in forms if len(f.strip()) >= self.MIN_LENGTH}
        for part in _secret_fields(secret):  # a key file: its secret fields one by one
            self.add(part)

    def __call__(self, text: str) -> str:
        for form in sorted(self._forms, key=len, reverse=True):
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def __bool__(self) -> bool:
        return bool(self._forms)


_SECRET_FIELD = re.compile(r"secret|private_key|refresh_token|access_token|password",
                           re.IGNORECASE)


def _secret_fields(secret: str) -> list[str]:
    """The secret values inside a JSON key file (a service account's ``private_key``...)."""
    if not secret.lstrip().startswith("{"):
        return []
    try:
        data = json.loads(secret)
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    return [v for k, v in data.items()
            if isinstance(v, str) and _SECRET_FIELD.search(str(k)) and v != secret]


def _references(value: Any) -> Iterable[str]:
    if is_secret_reference(value):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _references(item)
