"""Moved to ``cache.parsed`` and ``cache.fingerprint``; this path stays for code not
yet updated."""

from .cache.fingerprint import RACY_NS, identity, stat_key
from .cache.parsed import CACHE_FILE, ParseCache

__all__ = ["CACHE_FILE", "RACY_NS", "ParseCache", "identity", "stat_key"]
