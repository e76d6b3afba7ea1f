"""Semantic rules over merged settings, one small pure function per rule.

Each check yields ``Finding``s naming the settings path it is about. Where a
finding is reported (which file and line) is the caller's business: it knows
the provenance of every leaf.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from .merge import get_path
from .model import Path_, dotted


class Finding(NamedTuple):
    """A rule violation about the settings field at ``path``."""

    rule: str
    path: Path_
    message: str


Settings = Mapping[str, Any]
Check = Callable[[Settings], Iterator[Finding]]


def _get(settings: Settings, dotted_path: str) -> Any:
    return get_path(settings, tuple(dotted_path.split(".")))


def _p(dotted_path: str) -> Path_:
    return tuple(dotted_path.split("."))


def _cross(dotted_path: str, message: str) -> Finding:
    """A ``cross-field`` finding about the field at ``dotted_path``."""
    return Finding("cross-field", _p(dotted_path), message)


def _require(
    settings: Settings, dotted_path: str, because: str, *, hint: str = "", then: str = ""
) -> Iterator[Finding]:
    """A ``cross-field`` finding when the field at ``dotted_path`` is unset although
    ``because`` (``"ftp.enabled is true"``) needs it: ``hint`` (what to write) follows
    the field's name in the message, ``then`` the word "required"."""
    if _get(settings, dotted_path) is None:
        named = f"{dotted_path} {hint}" if hint else dotted_path
        yield _cross(dotted_path, f"{because}, so {named} is required{then}")


def _forbid(
    settings: Settings, dotted_path: str, because: str, *, then: str = ""
) -> Iterator[Finding]:
    """A ``cross-field`` finding when the field at ``dotted_path`` is set although
    ``because`` (``"ftp.auth.method is password"``) rules it out; ``then`` ends the message."""
    if _get(settings, dotted_path) is not None:
        yield _cross(dotted_path, f"{dotted_path} is not allowed when {because}; remove it{then}")


# --- cross-field ---------------------------------------------------------

_ENDPOINT = "advanced.real_time_endpoint"


def real_time_endpoint(settings: Settings) -> Iterator[Finding]:
    """``real_time`` needs ``real_time_endpoint``; ``batch`` forbids it."""
    kind = _get(settings, "advanced.integration_type")
    because = f"advanced.integration_type is {kind}"
    if kind == "real_time":
        yield from _require(settings, _ENDPOINT, because, hint="(an https URL)")
    elif kind == "batch":
        yield from _forbid(settings, _ENDPOINT, because)


def payment_range(settings: Settings) -> Iterator[Finding]:
    """``min_payment_amount`` ≤ ``max_payment_amount``."""
    low = _get(settings, "advanced.min_payment_amount")
    high = _get(settings, "advanced.max_payment_amount")
    if _number(low) and _number(high) and low > high:
        yield _cross(
            "advanced.min_payment_amount",
            f"advanced.min_payment_amount ({low}) is greater than "
            f"advanced.max_payment_amount ({high})",
        )


def ftp_connection(settings: Settings) -> Iterator[Finding]:
    """An enabled FTP needs host, username, auth, and a pinned host key for sftp."""
    if _get(settings, "ftp.enabled") is not True:
        return
    for field in ("host", "username", "auth"):
        yield from _require(settings, f"ftp.{field}", "ftp.enabled is true")
    if _get(settings, "ftp.protocol") == "sftp":
        yield from _require(
            settings,
            "ftp.host_key_fingerprint",
            "ftp.protocol is sftp",
            hint="(SHA256:…)",
            then=" to pin the server key",
        )


def ftp_auth_shape(settings: Settings) -> Iterator[Finding]:
    """``auth`` is ``{method: password, password}`` or ``{method: ssh_key, private_key}``."""
    auth = _get(settings, "ftp.auth")
    if not isinstance(auth, Mapping) or auth.get("method") is None:
        return
    wanted, other = (
        ("password", "private_key") if auth["method"] == "password" else ("private_key", "password")
    )
    because = f"ftp.auth.method is {auth['method']}"
    yield from _require(settings, f"ftp.auth.{wanted}", because, hint="({secret: NAME})")
    yield from _forbid(
        settings,
        f"ftp.auth.{other}",
        because,
        then=f" (write {other}: null to drop an inherited one)",
    )


def pgp_key(settings: Settings) -> Iterator[Finding]:
    """``pgp_encrypt`` needs ``pgp_public_key``."""
    if _get(settings, "ftp.pgp_encrypt") is True:
        yield from _require(
            settings, "ftp.pgp_public_key", "ftp.pgp_encrypt is true", hint="({secret: NAME})"
        )


def csv_delimiter(settings: Settings) -> Iterator[Finding]:
    """``csv`` needs a delimiter; other formats forbid one."""
    fmt = _get(settings, "data_pump.format")
    delimiter = _get(settings, "data_pump.delimiter")
    if fmt == "csv":
        yield from _require(
            settings,
            "data_pump.delimiter",
            "data_pump.format is csv",
            then=' (one of ",", "|", ";", "\\t")',
        )
    if fmt is not None and fmt != "csv" and delimiter is not None:
        yield _cross(
            "data_pump.delimiter",
            f"data_pump.delimiter is only allowed with format csv (format is {fmt}); remove it",
        )


def ftp_delivery(settings: Settings) -> Iterator[Finding]:
    """An enabled export delivered by ftp needs ``ftp.enabled``."""
    if (
        _get(settings, "data_pump.enabled") is True
        and _get(settings, "data_pump.delivery") == "ftp"
        and _get(settings, "ftp.enabled") is not True
    ):
        yield _cross(
            "data_pump.delivery",
            "data_pump.delivery is ftp, which needs ftp.enabled: true (or deliver by email or api)",
        )


def file_invoicing(settings: Settings) -> Iterator[Finding]:
    """File-based invoicing needs ``ftp.enabled``."""
    fmt = _get(settings, "invoicing.import_format")
    if (
        _get(settings, "invoicing.enabled") is True
        and fmt is not None
        and fmt != "pdf_only"
        and _get(settings, "ftp.enabled") is not True
    ):
        yield _cross(
            "invoicing.import_format",
            f"invoicing.import_format {fmt} reads bill files over the file exchange, "
            "which needs ftp.enabled: true",
        )


def invoice_type_listed(settings: Settings) -> Iterator[Finding]:
    """``invoicing.invoice_type`` ∈ ``advanced.invoice_types``."""
    kind = _get(settings, "invoicing.invoice_type")
    kinds = _get(settings, "advanced.invoice_types")
    if isinstance(kinds, list) and kind is not None and kind not in kinds:
        yield _cross(
            "invoicing.invoice_type",
            f"invoicing.invoice_type {kind} is not one of advanced.invoice_types "
            f"({', '.join(map(str, kinds))})",
        )


def fee_amounts(settings: Settings) -> Iterator[Finding]:
    """A fee of kind ``none`` has amount 0; a ``percent`` fee is at most 10; a ``flat``
    fee is whole cents."""
    fees = _get(settings, "advanced.convenience_fee")
    if not isinstance(fees, Mapping):
        return
    for tender, fee in fees.items():
        if not isinstance(fee, Mapping) or not _number(fee.get("amount")):
            continue
        path = ("advanced", "convenience_fee", tender, "amount")
        if fee.get("kind") == "none" and fee["amount"] != 0:
            yield Finding(
                "cross-field", path, f"{dotted(path)} must be 0 when the fee kind is none"
            )
        if fee.get("kind") == "percent" and fee["amount"] > 10:
            yield Finding(
                "cross-field",
                path,
                f"{dotted(path)} is {fee['amount']}; a percent fee is at most 10",
            )
        if fee.get("kind") == "flat" and fee["amount"] != int(fee["amount"]):
            yield Finding(
                "cross-field",
                path,
                f"{dotted(path)} is {fee['amount']}; a flat fee is whole cents",
            )


# --- value ---------------------------------------------------------------


def account_pattern(settings: Settings) -> Iterator[Finding]:
    """``account_number_pattern`` must compile."""
    pattern = _get(settings, "advanced.account_number_pattern")
    if isinstance(pattern, str):
        error = _regex_error(pattern)
        if error:
            yield Finding(
                "value",
                _p("advanced.account_number_pattern"),
                f"advanced.account_number_pattern is not a valid regular expression: {error}",
            )


def cron_schedules(settings: Settings) -> Iterator[Finding]:
    """Cron expressions must parse and be able to fire."""
    for path in ("data_pump.schedule", "invoicing.import_schedule"):
        expr = _get(settings, path)
        if isinstance(expr, str):
            error = _cron_error(expr)
            if error:
                yield Finding("value", _p(path), f"{path} {expr!r} {error}")


def time_zones(settings: Settings) -> Iterator[Finding]:
    """Time zones must be known IANA names."""
    for path in ("data_pump.timezone", "invoicing.timezone"):
        name = _get(settings, path)
        if isinstance(name, str) and not _known_zone(name):
            yield Finding(
                "value",
                _p(path),
                f"{path} {name!r} is not an IANA time zone (e.g. America/Chicago)",
            )


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def file_name_template(settings: Settings) -> Iterator[Finding]:
    """Only ``{bid}``, ``{date:STRFTIME}`` and ``{seq}`` may appear in the file name."""
    template = _get(settings, "data_pump.file_name_template")
    if not isinstance(template, str):
        return
    path = _p("data_pump.file_name_template")
    for name in _PLACEHOLDER.findall(template):
        if name in ("bid", "seq") or (name.startswith("date:") and len(name) > 5):
            continue
        yield Finding(
            "value",
            path,
            f"data_pump.file_name_template has the unknown placeholder {{{name}}}; "
            "use {bid}, {date:STRFTIME} (e.g. {date:%Y%m%d}) or {seq}",
        )
    rest = _PLACEHOLDER.sub("", template)
    if "{" in rest or "}" in rest:
        yield Finding("value", path, "data_pump.file_name_template has an unbalanced { or }")


CHECKS: tuple[Check, ...] = (
    real_time_endpoint,
    payment_range,
    ftp_connection,
    ftp_auth_shape,
    pgp_key,
    csv_delimiter,
    ftp_delivery,
    file_invoicing,
    invoice_type_listed,
    fee_amounts,
    account_pattern,
    cron_schedules,
    time_zones,
    file_name_template,
)
VALUE_CHECKS: tuple[Check, ...] = (account_pattern, cron_schedules, time_zones, file_name_template)


def check(settings: Settings, checks: tuple[Check, ...] = CHECKS) -> list[Finding]:
    """Every finding of ``checks`` on one merged settings mapping."""
    return [finding for rule in checks for finding in rule(settings)]


# --- helpers (cached: the same values repeat across a fleet) --------------


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@functools.lru_cache(maxsize=1024)
def _regex_error(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=1024)
def _cron_error(expr: str) -> str | None:
    from croniter import CroniterBadDateError, croniter  # slow import; only when needed

    fields = expr.split()
    if len(fields) != 5:
        return f"has {len(fields)} fields; a cron expression has 5 (minute hour day month weekday)"
    try:
        if not croniter.is_valid(expr):
            return "is not a valid cron expression"
        croniter(expr, datetime(2000, 1, 1), max_years_between_matches=30).get_next(datetime)
    except CroniterBadDateError:
        return "can never fire (no such date)"
    except (ValueError, KeyError) as exc:
        return f"is not a valid cron expression: {exc}"
    return None


@functools.lru_cache(maxsize=256)
def _known_zone(name: str) -> bool:
    if name.startswith("/") or ".." in name or name != name.strip():
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
