"""``python -m int360apply`` runs the ``int360`` command."""

from .cli import main

raise SystemExit(main())
