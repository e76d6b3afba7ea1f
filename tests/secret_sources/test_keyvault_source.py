"""The Key Vault source with the real ``SecretClient`` against the HTTPS stand-in:
the token challenge, found, not found, forbidden, the naming rule, and one fetch
per name however many threads ask."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from hypothesis import given
from hypothesis import strategies as st

from int360apply.secrets import SecretUnavailable, SharedResolver
from int360apply.secrets.keyvault import KeyVaultSource, vault_name

from .conftest import StaticCredential
from .vault_standin import VaultStandIn


def source(vault: VaultStandIn, ca_file: Path, credential: StaticCredential) -> KeyVaultSource:
    return KeyVaultSource(vault.url, credential, connection_verify=str(ca_file))


def test_the_naming_rule() -> None:
    assert vault_name("FTP_SPRINGFIELD_KEY") == "ftp-springfield-key"
    assert vault_name("PGP_SHELBYVILLE_PUBLIC_KEY") == "pgp-shelbyville-public-key"
    assert vault_name("A1") == "a1"


@pytest.mark.parametrize(
    ("name", "shown_as"),
    [
        ("ftp_key", "ftp_key"),
        ("FTP-KEY", "FTP-KEY"),
        ("FTP.KEY", "FTP.KEY"),
        ("", "(a name of 0 characters)"),
        ("K" * 128, "(a name of 128 characters)"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn", "(a name of 42 characters)"),
    ],
)
def test_a_name_that_cannot_map_is_an_error_naming_it(name: str, shown_as: str) -> None:
    with pytest.raises(SecretUnavailable) as caught:
        vault_name(name)
    assert caught.value.message.startswith(f"secret {shown_as}: has no Azure Key Vault name")
    assert caught.value.code == "secret-unreadable"
    if len(name) > 64:
        assert name not in caught.value.message


@given(
    st.from_regex(r"[A-Z][A-Z0-9_]{1,63}", fullmatch=True),
    st.from_regex(r"[A-Z][A-Z0-9_]{1,63}", fullmatch=True),
)
def test_every_repository_name_maps_to_a_valid_distinct_vault_name(a: str, b: str) -> None:
    """The schema's names (``^[A-Z][A-Z0-9_]{1,63}$``) all map, within the vault's
    rule (1-127 of 0-9, a-z, A-Z, -), and two names never share a vault name."""
    mapped = vault_name(a)
    assert 1 <= len(mapped) <= 127
    assert set(mapped) <= set("0123456789abcdefghijklmnopqrstuvwxyz-")
    assert (vault_name(b) == mapped) == (a == b)


def test_found_after_the_token_challenge(vault: VaultStandIn, ca_file: Path) -> None:
    value = "v-" + secrets.token_hex(16)
    vault.put("ftp-springfield-key", value)
    credential = StaticCredential()
    assert source(vault, ca_file, credential).fetch("FTP_SPRINGFIELD_KEY") == value
    # The client went first without a token, was challenged, asked the credential
    # for the vault's resource and repeated the request with the token.
    assert vault.challenges == 1
    assert credential.scopes == [("https://vault.azure.net/.default",)]
    assert vault.fetches == {"ftp-springfield-key": 1}
    assert vault.bad_tokens == 0


def test_not_found_names_the_secret_the_vault_and_the_vault_name(
    vault: VaultStandIn, ca_file: Path
) -> None:
    with pytest.raises(SecretUnavailable) as caught:
        source(vault, ca_file, StaticCredential()).fetch("FTP_X")
    assert (
        caught.value.message == f"secret FTP_X: not found in Azure Key Vault {vault.url} (as ftp-x)"
    )
    assert caught.value.code == "secret-missing"


def test_forbidden_says_which_role_the_identity_needs(vault: VaultStandIn, ca_file: Path) -> None:
    vault.put("ftp-x", "v-" + secrets.token_hex(16))
    vault.forbidden.add("ftp-x")
    with pytest.raises(SecretUnavailable) as caught:
        source(vault, ca_file, StaticCredential()).fetch("FTP_X")
    message = caught.value.message
    assert message.startswith(f"secret FTP_X: not read from Azure Key Vault {vault.url} (as ftp-x)")
    assert (
        "access denied (Forbidden, ForbiddenByRbac)" in message
        and "Key Vault Secrets User" in message
    )
    assert caught.value.code == "secret-unreadable"
    assert vault.secrets["ftp-x"] not in message


def test_a_token_the_vault_refuses(vault: VaultStandIn, ca_file: Path) -> None:
    with pytest.raises(SecretUnavailable) as caught:
        source(vault, ca_file, StaticCredential("not-the-token")).fetch("FTP_X")
    assert "the vault refused the token (401)" in caught.value.message
    assert vault.bad_tokens >= 1 and not vault.fetches


def test_an_untrusted_certificate_is_not_read_from(vault: VaultStandIn) -> None:
    """Without the stand-in's CA the TLS check fails: the SDK really verifies."""
    vault.put("ftp-x", "v-" + secrets.token_hex(16))
    quick = KeyVaultSource(vault.url, StaticCredential(), retry_total=0)
    with pytest.raises(SecretUnavailable) as caught:
        quick.fetch("FTP_X")
    assert caught.value.message == (
        f"secret FTP_X: not read from Azure Key Vault {vault.url} (as ftp-x): ServiceRequestError"
    )
    assert not vault.fetches


def test_an_unmappable_name_asks_nothing_of_the_vault(vault: VaultStandIn, ca_file: Path) -> None:
    with pytest.raises(SecretUnavailable):
        source(vault, ca_file, StaticCredential()).fetch("ftp_x")
    assert vault.challenges == 0 and not vault.fetches


def test_one_fetch_per_name_however_many_threads_ask(vault: VaultStandIn, ca_file: Path) -> None:
    values = {f"KEY_{i}": "v-" + secrets.token_hex(16) for i in range(5)}
    for name, value in values.items():
        vault.put(vault_name(name), value)
    resolver = SharedResolver(source(vault, ca_file, StaticCredential()))
    asks = [name for name in values for _ in range(40)] + ["MISSING_KEY"] * 40
    with ThreadPoolExecutor(max_workers=16) as pool:

        def ask(name: str) -> str:
            try:
                return resolver.value(name)
            except SecretUnavailable as exc:
                return exc.message

        answers = list(pool.map(ask, asks))
    assert answers[:200] == [values[n] for n in asks[:200]]
    assert set(answers[200:]) == {
        f"secret MISSING_KEY: not found in Azure Key Vault {vault.url} (as missing-key)"
    }
    assert vault.fetches == {**{vault_name(n): 1 for n in values}, "missing-key": 1}


def test_a_disabled_secret(vault: VaultStandIn, ca_file: Path) -> None:
    vault.put("ftp-x", "v-" + secrets.token_hex(16))
    vault.disabled.add("ftp-x")
    with pytest.raises(SecretUnavailable) as caught:
        source(vault, ca_file, StaticCredential()).fetch("FTP_X")
    assert caught.value.message == (
        f"secret FTP_X: not read from Azure Key Vault {vault.url} (as ftp-x): "
        "the secret is disabled in the vault"
    )


def test_another_answer_of_the_vault_is_named_by_its_status_and_code(
    vault: VaultStandIn, ca_file: Path
) -> None:
    vault.answers["ftp-x"] = (500, {"error": {"code": "InternalError", "message": "x"}})
    vault.answers["ftp-y"] = (200, {"id": f"{vault.url}secrets/ftp-y/1", "attributes": {}})
    quick = KeyVaultSource(
        vault.url, StaticCredential(), connection_verify=str(ca_file), retry_total=0
    )
    with pytest.raises(SecretUnavailable) as caught:
        quick.fetch("FTP_X")
    assert caught.value.message == (
        f"secret FTP_X: not read from Azure Key Vault {vault.url} (as ftp-x): "
        "the vault answered 500 InternalError"
    )
    with pytest.raises(SecretUnavailable) as caught:
        quick.fetch("FTP_Y")
    assert caught.value.message == (
        f"secret FTP_Y: Azure Key Vault {vault.url} (as ftp-y) returned no value"
    )


class _NoSignIn(StaticCredential):
    """A credential that cannot get a token (no az login, no identity)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        raise ClientAuthenticationError("no credential in this chain could get a token")


def test_a_failed_sign_in_is_said_once_per_name_and_tried_once(
    vault: VaultStandIn, ca_file: Path
) -> None:
    credential = _NoSignIn()
    kv = source(vault, ca_file, credential)
    messages = []
    for name in ("FTP_X", "FTP_Y"):
        with pytest.raises(SecretUnavailable) as caught:
            kv.fetch(name)
        messages.append(caught.value.message)
    assert messages[1] == (
        f"secret FTP_Y: not read from Azure Key Vault {vault.url} (as ftp-y): "
        "no Azure credential could get a token: sign in with az login, use azure/login "
        "in a workflow, or run where a managed identity is assigned"
    )
    assert len(credential.scopes) == 1  # the second name did not try again
    assert not vault.fetches


class _Broken:
    """A source whose failure no source foresaw."""

    def __init__(self) -> None:
        self.calls = 0

    def fetch(self, name: str) -> str:
        self.calls += 1
        raise RuntimeError(f"request body was {{'value': 'v-{name}'}}")

    def describe(self) -> str:
        return "a broken source"


def test_an_unforeseen_failure_fails_the_name_without_its_text() -> None:
    broken = _Broken()
    resolver = SharedResolver(broken)
    for _ in range(3):
        with pytest.raises(SecretUnavailable) as caught:
            resolver.value("FTP_X")
        assert caught.value.message == "secret FTP_X: not read from a broken source: RuntimeError"
    assert broken.calls == 1
