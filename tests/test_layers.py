"""The package's layers, as the architecture page (docs/architecture.md) states them: imports
only point down, and no module imports another that imports it back (no cycle)."""

from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "advrl"


def layer_rules() -> tuple[dict[str, list[str]], dict[str, set[str]]]:
    """The architecture page's ``layer: modules -> may import`` block: patterns and allowed
    layers by layer."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"<!-- layers -->\s*```text\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md lost its <!-- layers --> block"
    patterns, allowed = {}, {}
    for line in block.group(1).strip().splitlines():
        name, rest = line.split(":", 1)
        modules, imports = rest.split("->")
        patterns[name.strip()] = modules.split()
        allowed[name.strip()] = set(imports.split()) | {name.strip()}
    return patterns, allowed


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every advrl module ``path`` imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from advrl.gan import metrics`` imports the module advrl.gan.metrics.
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return {name for name in found if name in modules and name != "advrl"}


def layer_of(module: str, patterns: dict[str, list[str]]) -> str:
    for layer, globs in patterns.items():
        if any(fnmatch.fnmatchcase(module, glob) for glob in globs):
            return layer
    raise AssertionError(f"{module} is in no layer of docs/architecture.md; add it there")


def test_imports_only_point_down_the_layers():
    patterns, allowed = layer_rules()
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        if module == "advrl":
            continue  # the package root only registers the envs on import
        layer = layer_of(module, patterns)
        for target in sorted(imports_of(path)):
            if layer_of(target, patterns) not in allowed[layer]:
                violations.append(
                    f"{module} ({layer}) imports {target} ({layer_of(target, patterns)})"
                )
    assert not violations, "\n".join(violations)


def test_no_import_cycle():
    graph = {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}
    graph.pop("advrl")
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_a_violation_is_caught(tmp_path):
    """The checker itself: a gan module importing an agent module breaks the rules."""
    patterns, allowed = layer_rules()
    assert layer_of("advrl.gan.metrics", patterns) == "gan"
    assert "agents" not in allowed["gan"] and "training" not in allowed["envs"]
    source = tmp_path / "x.py"
    source.write_text("from advrl.agents.networks import mlp\nimport advrl.train\n")
    assert imports_of(source) == {"advrl.agents.networks", "advrl.train"}


def test_no_orchestrator_reaches_everything():
    """The top is split: the trainer cannot import a sweep, a sweep cannot import a benchmark,
    and only the entry points may import the CLI."""
    patterns, allowed = layer_rules()
    assert layer_of("advrl.train", patterns) == "training"
    assert layer_of("advrl.sweeps.sweep", patterns) == "sweeps"
    assert layer_of("advrl.benchmarks.seqgan", patterns) == "benchmarks"
    assert layer_of("advrl.cli.train_agent", patterns) == "cli"
    assert not {"sweeps", "benchmarks", "cli"} & allowed["training"]
    assert not {"benchmarks", "cli"} & allowed["sweeps"]
    assert "cli" not in allowed["benchmarks"]
    assert [layer for layer in allowed if "cli" in allowed[layer]] == ["cli"]
