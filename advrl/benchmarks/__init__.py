"""The benchmark suites: advrl against its references (SB3, the imitation library, the
SeqGAN paper's numbers) on the same work, run by ``scripts/benchmark.py --suite NAME`` or,
for the one-off studies, ``python -m advrl.benchmarks.NAME``. Their results are committed
under the repository's ``benchmarks/`` folder and drawn on the docs' benchmark pages."""

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
"""The checkout this package runs from (benchmarks need one: they write into it)."""
RESULTS = REPO / "benchmarks"
"""Where results files, figures and logs are committed."""
SHARED_BENCHMARKS = REPO.parent / "shared" / "benchmarks"
"""The paper's oracle and COCO captions, beside the checkout; the package runs without them."""


def read_journal(journal: Path) -> list[dict[str, Any]]:
    """The entries of a suite's journal (one JSON object a line), or none if it is absent."""
    if not journal.exists():
        return []
    return [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]


def append_journal(journal: Path, entry: dict[str, Any]) -> None:
    """Add one finished run to a suite's journal, so that a stopped suite keeps it."""
    with journal.open("a") as file:
        file.write(json.dumps(entry) + "\n")
