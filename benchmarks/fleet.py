"""Generate a synthetic fleet: N valid billers over the real partners, from a seed.

Each generated biller is a sample biller of this repository with a new BID,
name, host, user and secret names, so the mix of partners and overrides is the
sample fleet's mix.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_BID_LINE = re.compile(r"^bid: *\d+ *$", re.M)
_NAME_LINE = re.compile(r"^name: .*$", re.M)


def make_fleet(target: Path, count: int, seed: int = 360) -> Path:
    """Write a repository with ``count`` billers into ``target`` (replaced); returns it."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for folder in ("schemas", "partners"):
        shutil.copytree(REPO / folder, target / folder)
    (target / "billers").mkdir()
    samples = [p.read_text(encoding="utf-8") for p in sorted((REPO / "billers").glob("*.yaml"))]
    rng = random.Random(seed)
    for index in range(count):
        bid = 100000 + index
        text = rng.choice(samples)
        town = f"Town{index:05d}"
        text = _BID_LINE.sub(f"bid: {bid}", text, count=1)
        text = _NAME_LINE.sub(f"name: {town} Utilities", text, count=1)
        text = re.sub(r"host: *[a-z0-9.-]+", f"host: sftp.{town.lower()}.example.gov", text)
        text = re.sub(r"username: *\S+", f"username: {town.lower()}", text)
        text = re.sub(r"secret: *([A-Z][A-Z0-9_]*)", rf"secret: \1_{index:05d}", text)
        (target / "billers" / f"{bid}.yaml").write_text(text, encoding="utf-8")
    return target


if __name__ == "__main__":  # pragma: no cover
    import sys

    make_fleet(Path(sys.argv[1]), int(sys.argv[2]))
