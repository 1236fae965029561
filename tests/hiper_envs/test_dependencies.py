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


def _top_level_imports(package: pathlib.Path, skip: str | None = None) -> set[str]:
    names: set[str] = set()
    for path in package.rglob("*.py"):
        if skip is not None and skip in path.relative_to(package).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _undeclared(imports: set[str], declared: set[str], own: set[str]) -> dict[str, list[str] | None]:
    distributions = importlib.metadata.packages_distributions()
    return {
        module: distributions.get(module)
        for module in imports - set(sys.stdlib_module_names) - own
        if not {_normalize(d) for d in distributions.get(module, [module])} & declared
    }


def _requirements(reqs: list[str]) -> set[str]:
    return {_normalize(re.match(r"[A-Za-z0-9._-]+", req).group()) for req in reqs}


def test_every_third_party_import_of_hiper_envs_is_a_core_dependency():
    # `python -m hiper_envs.alfworld.generate` once imported tqdm, declared only by the `agent` extra (issue 11).
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = _requirements(project["dependencies"])
    imports = _top_level_imports(ROOT / "hiper_envs", skip="webshop")
    assert "hiper_agent" not in imports, "the envs never import the agent"
    missing = _undeclared(imports, core, {"hiper_envs"})
    assert not missing, f"imported by hiper_envs but not in [project].dependencies: {missing}"


def test_the_webshop_env_needs_only_the_webshop_extra():
    # HiPER/WebShop-v0 drives the bundled site (webshop_server, same distribution) with the `webshop` extra
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _requirements(project["dependencies"]) | _requirements(project["optional-dependencies"]["webshop"])
    imports = _top_level_imports(ROOT / "hiper_envs" / "webshop")
    assert "hiper_agent" not in imports, "the envs never import the agent"
    missing = _undeclared(imports, declared, {"hiper_envs", "webshop_server"})
    assert not missing, f"imported by hiper_envs.webshop but not in the core or webshop dependencies: {missing}"
