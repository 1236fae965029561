"""`hiper-train`: builds a `HiPERConfig` from a preset plus `--<field>` overrides, then trains.

Every config field gets a flag, generated from the dataclass: `--num-envs 16`, `--lr 3e-6`,
`--norm-adv/--no-norm-adv`, `--max-episode-steps none`, `--env-kwargs num_subtasks=3 split=train` (or a JSON
object, which replaces the preset's dict), `--resume [PATH]`. `--env` is short for `--env-id`.

NOTE: fast_downward (used by the ALFWorld env) overwrites `sys.argv` on every env reset, so `main` reads the
arguments once, before anything creates an env, and nothing here reads `sys.argv` again.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import sys
import textwrap
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from hiper_agent.errors import SetupError
from hiper_agent.ppo_config import (
    PRESETS,
    SECTIONS,
    HiPERConfig,
    KeepPenaltyMode,
    KLEstimator,
    advantage_estimator_names,
)

__all__ = ["build_parser", "config_reference", "main", "parse_args"]

DEFAULT_PRESET = "cpu"
_ALIASES = {"env_id": ["--env"]}
_NONE_WORDS = ("none", "null")
# String fields with a closed set of values: argparse lists and checks them.
_CHOICES = {
    "advantage_estimator": advantage_estimator_names,
    "keep_penalty_mode": lambda: [e.value for e in KeepPenaltyMode],
    "kl_estimator": lambda: [e.value for e in KLEstimator],
}
# Missing optional dependencies that mean "the agent extra is not installed" rather than a bug.
_AGENT_DEPS = {"torch", "transformers", "tokenizers", "accelerate", "safetensors", "peft", "tensorboard"}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _cli_fields() -> list[dataclasses.Field[Any]]:
    """The fields that get a flag: settable ones, except `preset` (that is `--preset`)."""
    return [f for f in dataclasses.fields(HiPERConfig) if f.init and f.name != "preset"]


def _kind(name: str) -> tuple[str, type | None]:
    """Classifies a field's type: (`bool` | `dict` | `resume` | `scalar` | `optional`, scalar type)."""
    hint = typing.get_type_hints(HiPERConfig)[name]
    args = typing.get_args(hint)
    if hint is bool:
        return "bool", bool
    if typing.get_origin(hint) is dict:
        return "dict", None
    if isinstance(hint, types.UnionType) and set(args) == {bool, str}:
        return "resume", None
    if isinstance(hint, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return "optional", inner
    return "scalar", hint


def _type_name(name: str) -> str:
    kind, inner = _kind(name)
    return {"dict": "dict", "resume": "bool | path", "optional": f"{getattr(inner, '__name__', inner)} | None"}.get(
        kind, getattr(inner, "__name__", str(inner))
    )


def _optional(inner: type) -> Any:
    def convert(text: str) -> Any:
        return None if text.lower() in _NONE_WORDS else inner(text)

    convert.__name__ = inner.__name__  # argparse names the type in "invalid <type> value" errors
    return convert


def _json_or_str(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class _DictAction(argparse.Action):
    """Collects `key=value` pairs and JSON objects, in order, to apply to the preset's dict later."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option: str | None = None):
        ops = list(getattr(namespace, self.dest, None) or [])
        for token in values:
            if token.lstrip().startswith("{"):
                try:
                    value = json.loads(token)
                except json.JSONDecodeError as e:
                    raise argparse.ArgumentError(self, f"invalid JSON object {token!r}: {e}") from None
                ops.append(("replace", value))
            elif "=" in token:
                key, _, value = token.partition("=")
                ops.append(("set", key.strip(), _json_or_str(value)))
            else:
                raise argparse.ArgumentError(self, f"expected key=value or a JSON object, got {token!r}")
        setattr(namespace, self.dest, ops)


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps each help line separately, so the bullet lists of string options stay lists."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        lines: list[str] = []
        for paragraph in text.splitlines():
            indent = "  " if paragraph.startswith("- ") else ""
            lines += textwrap.wrap(paragraph, width, subsequent_indent=indent) or [""]
        return lines


def build_parser(preset: str = DEFAULT_PRESET) -> argparse.ArgumentParser:
    """The argument parser, with `preset`'s values shown as the defaults in `--help`."""
    defaults = HiPERConfig.from_preset(preset)
    parser = argparse.ArgumentParser(
        prog="hiper-train",
        usage="hiper-train [--preset NAME] [--<field> VALUE ...] [--print-config] [-h]",
        description="Train an LLM agent with HiPER (hierarchical plan-execute PPO). Start from --preset, then "
        "override any field. Reference: docs/training.md.",
        formatter_class=_HelpFormatter,
        allow_abbrev=False,  # `--lr` must never silently mean `--lr-...`
        argument_default=argparse.SUPPRESS,  # only flags actually given override the preset
    )
    parser.add_argument(
        "--preset",
        default=preset,
        help=f"Named settings to start from: {', '.join(PRESETS)} (default: {DEFAULT_PRESET}).",
    )
    parser.add_argument(
        "--print-config", action="store_true", help="Print the resolved config as JSON and exit without training."
    )
    group = parser
    for f in _cli_fields():
        if f.name in SECTIONS:
            group = parser.add_argument_group(SECTIONS[f.name])
        kind, inner = _kind(f.name)
        default = getattr(defaults, f.name)
        shown = json.dumps(default) if isinstance(default, dict) else default
        help_text = f.metadata["help"] + (" Pass `none` for None." if kind == "optional" else "")
        help_text += ("\n" if "\n" in help_text else " ") + f"(default: {shown})"
        help_text = help_text.replace("%", "%%")  # argparse %-formats help strings
        flags = [_flag(f.name), *_ALIASES.get(f.name, [])]
        if kind == "bool":
            group.add_argument(*flags, dest=f.name, action=argparse.BooleanOptionalAction, help=help_text)
        elif kind == "dict":
            group.add_argument(*flags, dest=f.name, nargs="+", action=_DictAction, metavar="KEY=VALUE|JSON",
                               help=help_text)  # fmt: skip
        elif kind == "resume":
            group.add_argument(*flags, dest=f.name, nargs="?", const=True, metavar="PATH", help=help_text)
            group.add_argument("--no-" + flags[0][2:], dest=f.name, action="store_const", const=False,
                               help="Start fresh (the opposite of --resume).")  # fmt: skip
        elif kind == "optional":
            group.add_argument(*flags, dest=f.name, type=_optional(inner), metavar=inner.__name__.upper(),
                               help=help_text)  # fmt: skip
        elif f.name in _CHOICES:
            choices = list(_CHOICES[f.name]())
            group.add_argument(*flags, dest=f.name, choices=choices, metavar="{" + ",".join(choices) + "}",
                               help=help_text)  # fmt: skip
        else:
            group.add_argument(*flags, dest=f.name, type=inner, metavar=inner.__name__.upper(), help=help_text)
    return parser


def _apply_dict_ops(base: Mapping[str, Any], ops: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
    out = dict(base)
    for op in ops:
        if op[0] == "replace":
            out = dict(op[1])
        else:
            out[op[1]] = op[2]
    return out


def _parse(argv: Sequence[str]) -> tuple[HiPERConfig, argparse.Namespace]:
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--preset", default=DEFAULT_PRESET)
    preset = pre.parse_known_args(argv)[0].preset
    parser = build_parser(preset if preset in PRESETS else DEFAULT_PRESET)
    if preset not in PRESETS:
        parser.error(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")

    namespace, unknown = parser.parse_known_args(argv)
    if unknown:
        known = [s for action in parser._actions for s in action.option_strings]
        hints = [
            f"{token} (did you mean {match[0]}?)" if (match := difflib.get_close_matches(token, known, n=1)) else token
            for token in unknown
        ]
        parser.error(f"unrecognized arguments: {' '.join(hints)}; see hiper-train --help.")
    overrides = {k: v for k, v in vars(namespace).items() if k not in ("preset", "print_config")}
    for f in _cli_fields():
        if f.name in overrides and _kind(f.name)[0] == "dict":
            overrides[f.name] = _apply_dict_ops(PRESETS[preset].get(f.name, {}), overrides[f.name])
    try:
        config = HiPERConfig.from_preset(preset, **overrides)
    except ValueError as e:
        parser.error(str(e))
    return config, namespace


def parse_args(argv: Sequence[str] | None = None) -> HiPERConfig:
    """Parses `hiper-train` arguments into a validated config.

    Args:
        argv: The arguments without the program name; None reads `sys.argv[1:]` (once).

    Returns:
        The config of `--preset` (default `cpu`) with the given flags applied.

    Raises:
        SystemExit: on `--help` (code 0) or an invalid flag, value or config (code 2, with the reason).
    """
    return _parse(list(sys.argv[1:] if argv is None else argv))[0]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `hiper-train`: parse, train, print the one-line summary. Returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)  # read once: envs rewrite sys.argv later
    config, namespace = _parse(argv)
    if getattr(namespace, "print_config", False):
        print(json.dumps(config.to_dict(), indent=2))
        return 0
    try:
        from hiper_agent.ppo_trainer import train
    except ModuleNotFoundError as e:
        if e.name not in _AGENT_DEPS:
            raise
        print(
            f"hiper-train: {e.name} is missing; install the agent extra: pip install 'hiper[agent]'.", file=sys.stderr
        )
        return 1
    try:
        summary = train(config)
    except SetupError as e:  # a used run dir, nothing to --resume from, a model that is not there
        print(f"hiper-train: {e}", file=sys.stderr)
        return 2
    line = summary.get("summary") if isinstance(summary, Mapping) else None
    print(line if line else json.dumps(summary, default=str))
    return 0


def sft_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `hiper-sft`: only the SFT warm start (same flags as `hiper-train`), then save the model.

    The model goes to `run_dir/sft_policy`; `hiper-train --model <that folder> --sft-epochs 0` starts RL from it.
    """
    argv = list(sys.argv[1:] if argv is None else argv)  # read once: envs rewrite sys.argv later
    config, _ = _parse(argv)
    if config.sft_epochs == 0 or config.sft_episodes == 0:
        print("hiper-sft: set --sft-epochs and --sft-episodes above 0.", file=sys.stderr)
        return 2
    from hiper_agent.ppo_trainer import HiPERTrainer

    metrics = HiPERTrainer(config).warm_start()
    before, after = metrics.get("before/eval/success_rate"), metrics.get("eval/success_rate")
    if before is not None and after is not None:
        print(f"SFT warm start: held-out success {100 * before:.1f}% -> {100 * after:.1f}%")
    print(f"saved: {config.run_dir}/sft_policy")
    return 0


def config_reference() -> str:
    """The Markdown reference of every field (flag, type, default, help) and of the presets, for the docs."""
    lines: list[str] = []
    for f in dataclasses.fields(HiPERConfig):
        if f.name in SECTIONS:
            lines += [
                "",
                f"### {SECTIONS[f.name]}",
                "",
                "| field | flag | type | default | meaning |",
                "|---|---|---|---|---|",
            ]
        flag = "`--preset`" if f.name == "preset" else ("-" if not f.init else f"`{_flag(f.name)}`")
        default = "derived" if not f.init else (f.default_factory() if callable(f.default_factory) else f.default)
        meaning = f.metadata["help"].replace("|", "\\|").replace("\n", "<br>")
        type_name = _type_name(f.name).replace("|", "\\|")
        lines.append(f"| `{f.name}` | {flag} | {type_name} | `{json.dumps(default)}` | {meaning} |")
    lines += ["", "### Presets", "", "Values each preset sets (other fields keep their defaults):", ""]
    names = list(PRESETS)
    lines += ["| field | " + " | ".join(f"`{n}`" for n in names) + " |", "|---" * (len(names) + 1) + "|"]
    for f in dataclasses.fields(HiPERConfig):
        if any(f.name in p for p in PRESETS.values()):
            cells = [f"`{json.dumps(PRESETS[n][f.name])}`" if f.name in PRESETS[n] else "" for n in names]
            lines.append(f"| `{f.name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines[1:]) + "\n"


if __name__ == "__main__":
    sys.exit(main())
