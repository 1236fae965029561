"""The README's Quick start and `.ci/run` must not drift apart."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "README's Quick start has no ```bash block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_quick_start_has_install_and_test_commands():
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    assert commands[0].startswith("pip install") and "torch==2.13.0" in commands[0]
    assert commands[1].startswith("pytest")


def test_ci_runs_exactly_the_quick_start():
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    for command in quick_start_commands():
        assert command in ci_lines, f"{command!r} is in README's Quick start but not in .ci/run"
