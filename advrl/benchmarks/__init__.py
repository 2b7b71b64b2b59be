"""The benchmark suites: advrl against its references (SB3, the imitation library, the
SeqGAN paper's numbers) on the same work, run by ``scripts/benchmark.py --suite NAME`` or,
for the one-off studies, ``python -m advrl.benchmarks.NAME``. Their results are committed
under the repository's ``benchmarks/`` folder and drawn on the docs' benchmark pages."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The checkout this package runs from (benchmarks need one: they write into it)."""
RESULTS = REPO / "benchmarks"
"""Where results files, figures and logs are committed."""
SHARED_BENCHMARKS = REPO.parent / "shared" / "benchmarks"
"""The paper's oracle and COCO captions, beside the checkout; the package runs without them."""
