"""Where each desired value comes from: ``Config.sources`` (the text plans print) is
``Config.provenance`` as text, for every biller, whatever its partner sets."""

from __future__ import annotations

from typing import Any

from conftest import REPO_ROOT

from int360apply.load import LoadOptions, load_config
from int360apply.repo import Repo


def test_sources_are_provenance_as_text_for_every_sample_biller() -> None:
    config = load_config(Repo(REPO_ROOT))
    assert len(config.billers) >= 40
    for biller in config.billers.values():
        provenance = config.provenance(biller)
        assert config.sources(biller) == {path: str(loc) for path, loc in provenance.items()}
        overridden = {loc.path for loc in provenance.values()} - {
            "partners/_defaults.yaml",
            f"partners/{biller.partner}.yaml",
        }
        assert overridden <= {biller.doc.path}


def test_sources_of_a_biller_whose_partner_sets_nothing(tmp_repo: Any) -> None:
    """With an empty partner template every base leaf comes from ``_defaults.yaml``;
    the biller's own overrides must still be traced to the biller's file."""
    root = tmp_repo.root
    text = (root / "partners/bsa.yaml").read_text(encoding="utf-8")
    head = text[: text.index("settings:")]
    (root / "partners/bsa.yaml").write_text(head + "settings: {}\n", encoding="utf-8")
    config = load_config(Repo(root), options=LoadOptions(positions=True))
    biller = config.billers[200145]
    provenance = config.provenance(biller)
    sources = config.sources(biller)
    label = ("advanced", "account_number_label")
    assert provenance[label].path == "billers/200145.yaml"
    assert sources[label] == str(provenance[label])
    assert {loc.path for loc in provenance.values()} == {
        "billers/200145.yaml",
        "partners/_defaults.yaml",
    }
    assert sources == {path: str(loc) for path, loc in provenance.items()}
