"""The agent spells the option protocol once: every tag and switch word comes from hiper_agent.protocol."""

import ast
from pathlib import Path

from hiper_agent import protocol
from hiper_envs import options

ROOT = Path(__file__).resolve().parents[2] / "hiper_agent"
# help and metric descriptions name the blocks for people; they are documentation, not protocol
DOCUMENTATION = {"config_parts.py", "metrics.py", "protocol.py"}


def _code_strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_module_respells_the_protocol():
    # a tag anywhere in a string, or a switch word as a whole string (prose may say "KEEP" in passing)
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in sorted(ROOT.rglob("*.py"))
        if path.name not in DOCUMENTATION
        for line, text in _code_strings(path)
        if any(s in text for s in protocol.TAG_TOKENS) or text in (protocol.KEEP, protocol.SWITCH)
    ]
    assert not found, "take these from hiper_agent.protocol:\n" + "\n".join(found)


def test_the_agent_protocol_is_the_envs_protocol():
    assert protocol.parse_response is options.parse_response and protocol.TAGS == options.TAGS
    text = protocol.format_response(True, "heat mug", "go to microwave 1")
    assert text == "<switch>SWITCH</switch>\n<subgoal>heat mug</subgoal>\n<action>go to microwave 1</action>"
    assert protocol.parse_response(text).action == "go to microwave 1"
