"""The documentation site builds without a warning (``mkdocs build --strict``)."""

import subprocess
import sys

import pytest
from conftest import ROOT

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")


def test_the_site_builds_strictly(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "concepts" / "gradient-estimators" / "index.html").exists()
    assert (tmp_path / "site" / "reference" / "train" / "index.html").exists()
