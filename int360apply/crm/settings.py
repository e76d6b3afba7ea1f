"""The CRM's URL and token as the environment gives them, checked and shown safely.

A token pasted with a trailing newline, or a URL with a control character, is a
configuration error naming the variable, never its value (a header with a
newline would otherwise fail deep in the HTTP library with the token in the
message). A URL may carry ``user:password@``; wherever it is shown (the first
line of a run, plans, reports) those credentials are replaced by ``***``.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from int360apply.crm.errors import CrmConfigError

ENV_URL = "INT360_CRM_URL"  # read by ``environment``
ENV_TOKEN = "INT360_CRM_TOKEN"
REDACTED = "***"


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (C0, DEL or C1), a newline included."""
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def checked(variable: str, value: str) -> str:
    """``value`` of ``variable`` when it is usable in a request; else ``CrmConfigError``
    naming the variable (a pasted newline is the common mistake), never the value."""
    if has_control(value):
        raise CrmConfigError(
            f"{variable} holds a control character (a trailing newline from a paste?); "
            f"set it again without it"
        )
    if variable == ENV_TOKEN and (not value.isascii() or " " in value):
        raise CrmConfigError(f"{variable} must be printable ASCII without spaces; set it again")
    return value


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@`` (the rest as it is)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a malformed URL)" if "@" in url else url
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{REDACTED}@{host}"))
