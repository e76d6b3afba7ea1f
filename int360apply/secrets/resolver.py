"""One fetch per secret name per run, shared by the apply's worker threads.

Fifty billers that use one FTP key ask the source once: the first thread to
need a name fetches it, the others wait for that answer (a value or the
failure). Different names are fetched concurrently by the threads that need them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .sources import SecretSource, SecretUnavailable


@dataclass
class _Answer:
    ready: threading.Event = field(default_factory=threading.Event)
    value: str | None = None
    error: SecretUnavailable | None = None


class SharedResolver:
    """Memoizes ``source.fetch`` by name; safe to call from many threads."""

    def __init__(self, source: SecretSource) -> None:
        self.source = source
        self._answers: dict[str, _Answer] = {}
        self._lock = threading.Lock()

    def value(self, name: str) -> str:
        """The value of secret ``name``; raises ``SecretUnavailable`` (the same
        failure for every caller of that name)."""
        with self._lock:
            answer = self._answers.get(name)
            mine = answer is None
            if answer is None:
                answer = self._answers[name] = _Answer()
        if mine:
            try:
                answer.value = self.source.fetch(name)
            except SecretUnavailable as exc:
                answer.error = exc
            except Exception as exc:
                # A source's unforeseen failure still fails only the billers that
                # need the name; its text is not shown (it might quote a request).
                answer.error = SecretUnavailable(
                    name,
                    f"not read from {self.source.describe()}: {type(exc).__name__}",
                    "secret-unreadable",
                )
            finally:
                answer.ready.set()
        else:
            answer.ready.wait()
        if answer.error is not None:
            raise answer.error
        assert answer.value is not None
        return answer.value

    @property
    def fetched(self) -> list[str]:
        """The names asked of the source so far, in order."""
        with self._lock:
            return list(self._answers)
