"""Secrets in files: references ``{secret: NAME}`` and literals that should be one.

Which fields are secrets comes from the schema (``writeOnly``), never from a
list of names here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..model import Path_, dotted

ENV_PREFIX = "INT360_SECRET_"
_KEY_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]*(PRIVATE KEY|PGP [A-Z ]*BLOCK)-----")
_SECRET_WORDS = re.compile(r"(^|_)(password|passwd|passphrase|secret|token|api_key|private_key)$")


_NAME = re.compile(r"[A-Z][A-Z0-9_]{1,63}")
_BASE64ISH = re.compile(r"[A-Za-z0-9+/=_\-\s]{24,}")


def looks_like_key_material(name: str) -> bool:
    """Whether what sits where a secret's NAME goes is rather a key or a value: not a
    valid name, and a control character (a line break), a ``-----BEGIN`` block, or a
    long run of base64 characters."""
    if _NAME.fullmatch(name):
        return False
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name) or "-----BEGIN" in name:
        return True
    return _BASE64ISH.fullmatch(name) is not None


def is_reference(value: Any) -> bool:
    """A ``{secret: NAME}`` reference (read form ``{secret, set}`` included)."""
    return isinstance(value, Mapping) and isinstance(value.get("secret"), str)


def with_references(
    settings: Mapping[str, Any], secret_paths: frozenset[Path_], *, read_form: bool
) -> dict[str, Any]:
    """``settings`` with each secret as a reference: the file form ``{secret: NAME}``,
    or with ``read_form`` the CRM's ``{secret: NAME, set: true}``. Nothing is copied
    but the mappings on the way to a secret; ``settings`` is left as it is."""
    from ..merge import get_path, merge_patch

    patch: dict[Any, Any] = {}
    for path in secret_paths:
        value = get_path(settings, path)
        if is_reference(value):
            node = patch
            for part in path[:-1]:
                node = node.setdefault(part, {})
            # A merge patch: null removes the read form's flag.
            node[path[-1]] = {"secret": value["secret"], "set": True if read_form else None}
    result: dict[str, Any] = merge_patch(settings, patch) if patch else dict(settings)
    return result


def plaintext_secrets(
    data: Any, secret_paths: frozenset[Path_], settings_at: Path_
) -> Iterator[tuple[Path_, str]]:
    """Literal secrets in a document: (path, message) for each.

    A literal at a schema secret field, a private key or PGP block anywhere, or a
    string under a key named like a password or token.
    """

    def walk(node: Any, path: Path_) -> Iterator[tuple[Path_, str]]:
        settings_path = (
            path[len(settings_at) :] if path[: len(settings_at)] == settings_at else None
        )
        if settings_path in secret_paths and node is not None and not is_reference(node):
            yield (
                path,
                (
                    f"{dotted(path)} is a secret written as a literal; write {{secret: NAME}} "
                    f"and put the value in the secret source ({ENV_PREFIX}NAME or the Key Vault)"
                ),
            )
            return
        if is_reference(node):
            if looks_like_key_material(node["secret"]):
                yield (
                    (*path, "secret"),
                    (
                        f"{dotted((*path, 'secret'))} holds what looks like key material or a "
                        "value (a key block, a long base64 string, a line break), not a secret's "
                        "name; put the value in the secret source and write its NAME here"
                    ),
                )
                return
            if "value" in node:
                yield (
                    (*path, "value"),
                    (
                        f"{dotted((*path, 'value'))} writes a secret's value into the file; keep "
                        f"only {{secret: NAME}} and put the value in the secret source"
                    ),
                )
            return
        if isinstance(node, Mapping):
            for key, value in node.items():
                child = (*path, key)
                if (
                    isinstance(value, str | int)
                    and not isinstance(value, bool)
                    and _SECRET_WORDS.search(str(key).lower())
                    and tuple(child[len(settings_at) :]) not in secret_paths
                ):
                    yield (
                        child,
                        (
                            f"{dotted(child)} looks like a password or token written as a literal; "
                            "use {secret: NAME} with the value in the secret source"
                        ),
                    )
                    continue
                yield from walk(value, child)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from walk(value, (*path, index))
        elif isinstance(node, str) and _KEY_BLOCK.search(node):
            yield (
                path,
                (
                    f"{dotted(path)} holds a private key or PGP block; keep it out of the "
                    f"repository and reference it as {{secret: NAME}}"
                ),
            )

    yield from walk(data, ())
