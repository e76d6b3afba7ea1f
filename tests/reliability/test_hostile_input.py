"""Hostile input: every file of ``corpus/`` (and a few generated ones) is refused by
``int360 validate`` with exit 1 and a ``path:line:col: error[rule]`` line for the rule the
file is named after, without a traceback, within 20 s and 1 GiB of address space.

Corpus file names are ``<rule>__<what>.yaml``. A file of ``corpus/billers`` is copied to
``billers/900001.yaml`` of a fresh repository, a file of ``corpus/partners`` to
``partners/hostile-partner.yaml``; ``DESTINATIONS`` lists the exceptions. The BOM and CRLF
variants of a valid file are accepted (exit 0).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import (
    CORPUS,
    GENERATED_CORPUS,
    REPO_ROOT,
    VALID_BILLER,
    accepted_variants,
    copy_repo,
    run_int360,
)

pytestmark = pytest.mark.slow  # reliability: faults, load and fuzzing against real processes

TIMEOUT = 20.0
BILLER_DEST = "billers/900001.yaml"
PARTNER_DEST = "partners/hostile-partner.yaml"
DESTINATIONS = {
    "duplicate-bid__second-file-for-104233.yaml": "billers/104233-copy.yaml",
    "filename__bad-file-stem.yaml": "billers/900001_Final.yaml",
    "filename__yml-extension.yaml": "billers/900001.yml",
    "filename__upper-case-extension.yaml": "billers/900001.YAML",
    "filename__in-a-sub-folder.yaml": "billers/imported/900001.yaml",
    "filename__partner-yml-extension.yaml": "partners/hostile-partner.yml",
}


@dataclass(frozen=True)
class Case:
    """One hostile input: what to put where, and the rule(s) it must be refused under."""

    name: str
    dest: str
    rules: tuple[str, ...]
    place: Callable[[Path, str], None]

    def __str__(self) -> str:
        return self.name


def _copy_from(source: Path) -> Callable[[Path, str], None]:
    def place(root: Path, dest: str) -> None:
        (root / dest).parent.mkdir(parents=True, exist_ok=True)
        (root / dest).write_bytes(source.read_bytes())

    return place


def _link_to_folder(root: Path, dest: str) -> None:
    """``billers/more`` a symlink to a folder outside holding a valid biller."""
    outside = root.parent / "more-billers"
    outside.mkdir(exist_ok=True)
    (outside / "900001.yaml").write_text(VALID_BILLER, encoding="utf-8")
    os.symlink(outside, root / dest)


def _non_utf8_name(root: Path, dest: str) -> None:
    """A valid biller under a file name that is not UTF-8 (Latin-1 bytes)."""
    folder = os.fsencode(root / "billers")
    with open(os.path.join(folder, b"900001-caf\xe9.yaml"), "wb") as handle:
        handle.write(VALID_BILLER.encode())


def _bytes(make: Callable[[], bytes]) -> Callable[[Path, str], None]:
    def place(root: Path, dest: str) -> None:
        (root / dest).write_bytes(make())

    return place


def _symlink_to(
    target: Callable[[Path], Path], content: bytes | None
) -> Callable[[Path, str], None]:
    """Make ``dest`` a symlink to ``target(root)`` (written with ``content`` unless None)."""

    def place(root: Path, dest: str) -> None:
        where = target(root)
        if content is not None:
            where.parent.mkdir(parents=True, exist_ok=True)
            where.write_bytes(content)
        os.symlink(where, root / dest)

    return place


def _valid_partner() -> bytes:
    return (
        b"slug: hostile-partner\nname: Hostile Partner\nintegrator_ids: [990]\n"
        b"settings:\n  advanced: {integration_type: batch}\n"
    )


def _cases() -> list[Case]:
    cases = []
    for folder, default in (("billers", BILLER_DEST), ("partners", PARTNER_DEST)):
        for source in sorted((CORPUS / folder).glob("*.yaml")):
            if source.name.startswith("filename__symlink"):
                continue  # placed as symlinks below
            rule = source.name.split("__", 1)[0]
            dest = DESTINATIONS.get(source.name, default)
            cases.append(Case(source.name, dest, (rule,), _copy_from(source)))
    for name, make in GENERATED_CORPUS.items():
        cases.append(Case(name, BILLER_DEST, (name.split("__", 1)[0],), _bytes(make)))
    # Path tricks. A loop or a dangling link is no file in billers/: either rule will do.
    cases += [
        Case(
            "filename__link-to-a-folder-of-billers.yaml",
            "billers/more",
            ("filename",),
            _link_to_folder,
        ),
        Case(
            "filename__name-not-utf8.yaml",
            "billers/900001-caf\\xe9.yaml",  # printed with the byte escaped
            ("filename",),
            _non_utf8_name,
        ),
        Case(
            "filename__symlink-outside-billers.yaml",
            BILLER_DEST,
            ("filename",),
            _symlink_to(
                lambda root: root / "outside" / "900001.yaml",
                (CORPUS / "billers" / "filename__symlink-outside-billers.yaml").read_bytes(),
            ),
        ),
        Case(
            "filename__symlink-outside-repository.yaml",
            BILLER_DEST,
            ("filename",),
            _symlink_to(
                lambda root: root.parent / "elsewhere" / "900001.yaml",
                (CORPUS / "billers" / "filename__symlink-outside-repository.yaml").read_bytes(),
            ),
        ),
        Case(
            "filename__symlink-to-dev-zero.yaml",
            BILLER_DEST,
            ("filename", "yaml"),
            _symlink_to(lambda root: Path("/dev/zero"), None),
        ),
        Case(
            "filename__symlink-loop.yaml",
            BILLER_DEST,
            ("filename", "yaml"),
            _symlink_to(lambda root: root / BILLER_DEST, None),
        ),
        Case(
            "filename__dangling-symlink.yaml",
            BILLER_DEST,
            ("filename", "yaml"),
            _symlink_to(lambda root: root / "gone" / "900001.yaml", None),
        ),
        Case(
            "filename__partner-symlink-outside-partners.yaml",
            PARTNER_DEST,
            ("filename",),
            _symlink_to(lambda root: root.parent / "elsewhere" / "partner.yaml", _valid_partner()),
        ),
        Case(
            "filename__partner-symlink-to-dev-zero.yaml",
            PARTNER_DEST,
            ("filename", "yaml"),
            _symlink_to(lambda root: Path("/dev/zero"), None),
        ),
    ]
    return cases


CASES = _cases()


def test_the_corpus_has_at_least_40_bad_files(figure: Callable[[str, int], None]) -> None:
    committed = list((CORPUS / "billers").glob("*.yaml")) + list(
        (CORPUS / "partners").glob("*.yaml")
    )
    assert len(committed) >= 40
    rules = {case.rules[0] for case in CASES}
    assert rules >= {
        "yaml",
        "schema",
        "filename",
        "duplicate-bid",
        "duplicate-integrator-id",
        "unknown-partner",
        "integrator-id",
        "locked",
        "incomplete",
        "cross-field",
        "value",
        "plaintext-secret",
    }
    figure("bad inputs in the corpus", len(CASES))


def test_the_base_file_of_the_corpus_is_valid(tmp_path: Path) -> None:
    """Each corpus file breaks one thing of a file that is otherwise valid."""
    root = copy_repo(tmp_path / "repo")
    (root / BILLER_DEST).write_text(VALID_BILLER, encoding="utf-8")
    done = run_int360("validate", repo=root, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("case", CASES, ids=str)
def test_hostile_file_is_refused_cleanly(
    case: Case, tmp_path: Path, figure: Callable[[str, int], None]
) -> None:
    root = copy_repo(tmp_path / "repo")
    case.place(root, case.dest)
    started = time.monotonic()
    done = run_int360("validate", repo=root, timeout=TIMEOUT)
    elapsed = time.monotonic() - started
    figure("bad inputs tried", 1)
    shown = (
        f"exit {done.returncode}\n--- stdout\n{done.stdout[:3000]}\n"
        f"--- stderr\n{done.stderr[-3000:]}"
    )
    assert "Traceback" not in done.stderr, shown
    assert "MemoryError" not in done.stderr, shown
    assert done.returncode == 1, shown
    rules = "|".join(re.escape(rule) for rule in case.rules)
    line = re.compile(rf"^{re.escape(case.dest)}:\d+:\d+: error\[(?:{rules})\]: \S", re.M)
    assert line.search(done.stdout), f"no {case.dest}:LINE:COL: error[{rules}] line\n{shown}"
    assert elapsed < TIMEOUT


@pytest.mark.parametrize("variant", sorted(accepted_variants("x")), ids=str)
def test_bom_and_crlf_variants_of_a_valid_file_are_accepted(variant: str, tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    for name in ("104233.yaml", "110392-cedar-falls.yaml"):
        text = (REPO_ROOT / "billers" / name).read_text(encoding="utf-8")
        (root / "billers" / name).write_bytes(accepted_variants(text)[variant])
    (root / BILLER_DEST).write_bytes(accepted_variants(VALID_BILLER)[variant])
    partner = (REPO_ROOT / "partners" / "bsa.yaml").read_text(encoding="utf-8")
    (root / "partners" / "bsa.yaml").write_bytes(accepted_variants(partner)[variant])
    done = run_int360("validate", repo=root, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_positions_in_a_crlf_file_match_the_lf_file(tmp_path: Path) -> None:
    """A CRLF file's errors point at the same line and column as the LF file's."""
    bad = (CORPUS / "billers" / "schema__port-out-of-range.yaml").read_text(encoding="utf-8")
    outputs = []
    for variant in ("lf", "bom-crlf"):
        root = copy_repo(tmp_path / variant)
        data = bad.encode() if variant == "lf" else accepted_variants(bad)[variant]
        (root / BILLER_DEST).write_bytes(data)
        done = run_int360("validate", repo=root, timeout=TIMEOUT)
        assert done.returncode == 1
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
