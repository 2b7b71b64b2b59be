"""MkDocs hook: serve the figures committed under ``benchmarks/`` without copying them.

The benchmark pages live in ``docs/benchmarks/``; this hook adds every PNG of the
repository's ``benchmarks/`` folder to the site under the same path, so
``docs/benchmarks/sweeps.md`` shows ``benchmarks/sweep_ppo_cartpole/curves.png`` as
``sweep_ppo_cartpole/curves.png``, and a figure a benchmark rewrites is the one the site shows.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
"""The repository root (this file is docs/_hooks/benchmark_images.py)."""


def on_files(files: Files, config) -> Files:
    for image in sorted((ROOT / "benchmarks").rglob("*.png")):
        uri = image.relative_to(ROOT).as_posix()
        if files.get_file_from_path(uri) is None:
            files.append(File(uri, str(ROOT), config["site_dir"], config["use_directory_urls"]))
    return files
