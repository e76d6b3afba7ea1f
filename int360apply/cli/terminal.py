"""The terminal side of ``int360``: standard output and error, TTYs, confirmation, progress."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator


def out(text: str) -> None:
    """Write ``text`` to standard output as it is, flushed."""
    sys.stdout.write(text)
    sys.stdout.flush()


def tee(chunks: Iterable[str]) -> Iterator[str]:
    """Pass ``chunks`` on, writing each to standard output first (flushed at the end)."""
    write = sys.stdout.write
    for chunk in chunks:
        write(chunk)
        yield chunk
    sys.stdout.flush()


def err(text: str) -> None:
    """Write ``text`` to standard error as one or more whole lines."""
    sys.stderr.write(text if text.endswith("\n") else text + "\n")


def colour() -> bool:
    """Whether standard output is a terminal (and output may be coloured)."""
    return sys.stdout.isatty()


def announce(label: str, fmt: str) -> None:
    """Name the CRM a command talks to: on stdout for text, else on stderr (machine output)."""
    line = f"CRM: {label}\n"
    if fmt == "text":
        out(line)
    else:
        err(line)


def confirm(count: int, yes: bool) -> bool:
    """Whether to apply changes to ``count`` billers: ``--yes``, or 'yes' typed on a terminal."""
    if yes:
        return True
    if not sys.stdin.isatty():
        err("int360: apply needs --yes when not run on a terminal; nothing was written")
        return False
    answer = input(f"Apply changes to {count} biller(s)? Only 'yes' is accepted: ")
    return answer.strip() == "yes"


def _progress(done: int, total: int) -> None:
    sys.stderr.write(f"\rapplying {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def progress() -> Callable[[int, int], None] | None:
    """A progress line on stderr while applying, when stderr is a terminal."""
    return _progress if sys.stderr.isatty() else None
