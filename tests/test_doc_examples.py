"""Every biller or partner file shown in README.md and docs/*.md is valid.

Each ```yaml block that writes a biller (a ``bid:`` key) or a partner (a ``slug:``
key) is written to its place in a copy of the repository (replacing the file of
the same BID or slug) and the whole copy goes through ``int360 validate``: the
example must be valid, and so must every biller that now merges over it. A
block whose first line is ``# fragment`` is a deliberate excerpt and is skipped;
blocks without ``bid:`` or ``slug:`` (a workflow's ``env:`` line) are not files
of this repository.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from int360apply.cli import main

REPO = Path(__file__).resolve().parents[1]
DOC_FILES = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")))
FENCE = re.compile(
    r"^(?P<indent> *)```yaml[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
FRAGMENT = "# fragment"


@dataclass(frozen=True)
class Example:
    """One ```yaml block of a document: where it starts and its text (indent removed)."""

    doc: str
    line: int
    body: str

    @property
    def kind(self) -> str | None:
        """``biller``, ``partner``, or None for a block that is neither."""
        if re.search(r"^bid:", self.body, re.M):
            return "biller"
        if re.search(r"^slug:", self.body, re.M):
            return "partner"
        return None

    @property
    def fragment(self) -> bool:
        """Marked as a deliberate excerpt (first line ``# fragment``)."""
        return self.body.startswith(FRAGMENT)

    def target(self) -> str:
        """The repository file this example is written as."""
        data = yaml.safe_load(self.body)
        if self.kind == "biller":
            return f"billers/{data['bid']}.yaml"
        return f"partners/{data['slug']}.yaml"

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}"


def examples_in(doc: str, text: str) -> list[Example]:
    """Every ```yaml block of ``text`` (a list item's indented block too)."""
    found = []
    for match in FENCE.finditer(text):
        indent = len(match["indent"])
        body = "".join(line[indent:] for line in match["body"].splitlines(keepends=True))
        line = text.count("\n", 0, match.start()) + 2  # the block's first line
        found.append(Example(doc, line, body))
    return found


def all_examples() -> list[Example]:
    return [
        example
        for path in DOC_FILES
        for example in examples_in(path.relative_to(REPO).as_posix(), path.read_text("utf-8"))
    ]


FILE_EXAMPLES = [e for e in all_examples() if e.kind is not None and not e.fragment]


def repo_copy(root: Path) -> Path:
    for folder in ("schemas", "partners", "billers"):
        shutil.copytree(REPO / folder, root / folder)
    return root


def validate_with(root: Path, example: Example, capsys: pytest.CaptureFixture[str]) -> str:
    """Write ``example`` into the copy at ``root``; ``int360 validate``'s verdict as text."""
    target = example.target()
    if example.kind == "biller":
        bid = target.removeprefix("billers/").removesuffix(".yaml")
        # billers/<bid>-<words>.yaml holds the same BID: the example takes its place.
        for old in (root / "billers").glob(f"{bid}-*.yaml"):
            old.unlink()
    (root / target).write_text(example.body, encoding="utf-8")
    capsys.readouterr()
    code = main(["--repo", str(root), "validate", "--careful"])
    captured = capsys.readouterr()
    return f"exit {code}\n{captured.out}{captured.err}"


@pytest.mark.parametrize("example", FILE_EXAMPLES, ids=str)
def test_example_is_a_valid_file(
    example: Example, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verdict = validate_with(repo_copy(tmp_path / "repo"), example, capsys)
    assert verdict.startswith("exit 0\n"), f"the example at {example} is invalid:\n{verdict}"


@pytest.mark.parametrize("example", FILE_EXAMPLES, ids=str)
def test_example_names_its_schema_on_line_1(example: Example) -> None:
    """Copied into a file, the example gets editor completion and checks at once."""
    first = example.body.splitlines()[0]
    assert first == f"# yaml-language-server: $schema=../schemas/{example.kind}.schema.json"


def test_the_examples_are_found() -> None:
    """The README's partner and biller, and the docs' (no extraction slip hides one)."""
    where = {(e.doc, e.kind) for e in FILE_EXAMPLES}
    assert {
        ("README.md", "partner"),
        ("README.md", "biller"),
        ("docs/adding-a-partner.md", "partner"),
        ("docs/onboarding-a-biller.md", "biller"),
    } <= where
    # The workflow env lines of the docs are indented list-item blocks: found, not files.
    others = [e for e in all_examples() if e.kind is None]
    assert any("INT360_SECRET_" in e.body for e in others)


def test_the_check_fails_an_invalid_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control: a biller example without the fingerprint sftp needs is refused."""
    text = (
        "Intro.\n\n```yaml\n"
        "# yaml-language-server: $schema=../schemas/biller.schema.json\n"
        "bid: 104233\nname: Springfield Water & Sewer\npartner: caselle-batch-utility\n"
        "integrator_id: 201\noverrides:\n  ftp:\n    host: sftp.springfield.example.gov\n"
        "    username: springfield\n"
        "    auth: {method: ssh_key, private_key: {secret: FTP_SPRINGFIELD_KEY}}\n```\n"
    )
    (example,) = examples_in("x.md", text)
    assert (example.line, example.kind, example.target()) == (4, "biller", "billers/104233.yaml")
    verdict = validate_with(repo_copy(tmp_path / "repo"), example, capsys)
    assert verdict.startswith("exit 1\n")
    assert "billers/104233.yaml:" in verdict
    assert "host_key_fingerprint" in verdict


def test_the_check_sees_a_partner_example_break_its_billers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A partner example replaces the real file, and the billers merging over it count."""
    text = (
        "```yaml\nslug: caselle-batch-utility\nname: Caselle\nintegrator_ids: [175, 201]\n"
        "settings: {advanced: {integration_type: batch}}\nlocked: [ftp.host]\n```\n"
    )
    (example,) = examples_in("x.md", text)
    verdict = validate_with(repo_copy(tmp_path / "repo"), example, capsys)
    assert verdict.startswith("exit 1\n")
    assert "billers/104233.yaml:" in verdict
    assert "error[locked]" in verdict


def test_indented_blocks_and_fragments() -> None:
    text = (
        "1. Add:\n\n   ```yaml\n   # fragment\n   bid: 5\n   ```\n\n"
        "2. And:\n\n   ```yaml\n   slug: x\n   name: X\n   ```\n"
    )
    first, second = examples_in("x.md", text)
    assert (first.line, first.fragment, first.kind) == (4, True, "biller")
    assert (second.line, second.fragment, second.body) == (11, False, "slug: x\nname: X\n")
    assert second.target() == "partners/x.yaml"
