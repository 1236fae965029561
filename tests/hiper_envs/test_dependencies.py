"""The core install runs every ``hiper_envs`` module: each third-party import is a declared core dependency."""

import ast
import importlib.metadata
import pathlib
import re
import sys

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def _top_level_imports(package: pathlib.Path) -> set[str]:
    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_third_party_import_of_hiper_envs_is_a_core_dependency():
    # `python -m hiper_envs.alfworld.generate` once imported tqdm, declared only by the `agent` extra (issue 11).
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_normalize(re.match(r"[A-Za-z0-9._-]+", req).group()) for req in project["dependencies"]}
    imports = _top_level_imports(ROOT / "hiper_envs")
    assert "hiper_agent" not in imports, "the envs never import the agent"
    distributions = importlib.metadata.packages_distributions()
    missing = {
        module: distributions.get(module)
        for module in imports - set(sys.stdlib_module_names) - {"hiper_envs"}
        if not {_normalize(d) for d in distributions.get(module, [module])} & core
    }
    assert not missing, f"imported by hiper_envs but not in [project].dependencies: {missing}"
