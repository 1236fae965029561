"""One episode's record: its statistics and its transcript (every step the agent took, as the env judged it).

The record is built from the option protocol's ``info`` keys only (``docs/protocol.md``), so any option-aware env
works. The transcript keeps, per step, what the agent wrote (the raw LLM reply, or the action it returned), what
that parses to, what the env executed and said, and the timings; ``hiper-bench view`` draws it, and
`hiper_agent.bench.failures` classifies lost episodes from it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any

from hiper_agent.bench.failures import classify
from hiper_agent.bench.protocol import AgentStep, failure_kind
from hiper_envs.options import OptionAction, looks_like_response, parse_response

__all__ = ["MAX_OBSERVATION_CHARS", "TIMING_KEYS", "EpisodeRecorder", "comparable", "prompt_hash"]

#: Longer observations (WebShop in ``html`` mode) are cut in the transcript, with a marker.
MAX_OBSERVATION_CHARS = 20_000
#: Keys of a record that measure time rather than behaviour (`comparable` drops them).
TIMING_KEYS = ("time",)
#: Keys of the final ``info`` copied into the record, when the env has them (ALFWorld's subtask in progress,
#: WebShop's reward breakdown after a purchase): what the failure analysis reads besides the transcript.
_FINAL_INFO_KEYS = ("subtask", "subtask_index", "reward_info")


def prompt_hash(prompt: str) -> str:
    """A short stable hash of a prompt (the first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(prompt.encode("utf-8", "replace")).hexdigest()[:16]


def _cut(text: Any) -> str:
    text = str(text)
    if len(text) <= MAX_OBSERVATION_CHARS:
        return text
    return text[:MAX_OBSERVATION_CHARS] + f" ...[{len(text) - MAX_OBSERVATION_CHARS} more characters cut]"


def _parsed(action: Any) -> dict[str, Any]:
    """What the agent asked for, read as the protocol reads it: switch, subgoal and action text."""
    if isinstance(action, OptionAction):
        return {"switch": action.switch, "subgoal": action.subgoal, "action": action.action}
    if isinstance(action, str):
        if looks_like_response(action):
            parsed = parse_response(action)
            return {"switch": parsed.switch, "subgoal": parsed.subgoal, "action": parsed.action}
        return {"switch": None, "subgoal": None, "action": action}
    if isinstance(action, dict) or (dataclasses.is_dataclass(action) and not isinstance(action, type)):
        fields = action if isinstance(action, dict) else dataclasses.asdict(action)
        return {k: fields.get(k) for k in ("switch", "subgoal", "action")}
    return {"switch": None, "subgoal": None, "action": None}


def _json_ready(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return str(value)


@dataclass
class EpisodeRecorder:
    """Accumulates one episode's statistics and transcript from the env's ``info``.

    Args:
        index: the panel episode.
        observation: what ``reset`` returned.
        info: the reset info.
        keep_prompts: keep each prompt's text in the transcript (else only its hash).
    """

    index: int
    observation: str
    info: dict[str, Any]
    keep_prompts: bool = False
    steps: int = 0
    episode_return: float = 0.0
    invalid_actions: int = 0
    format_errors: int = 0
    agent_format_errors: int = 0
    env_format_errors: int = 0
    option_lengths: dict[int, int] = field(default_factory=dict)
    proposed: set[int] = field(default_factory=set)
    achieved: set[int] = field(default_factory=set)
    transcript: list[dict[str, Any]] = field(default_factory=list)

    def step(
        self,
        observation: str,
        reward: float,
        info: dict[str, Any],
        agent_step: AgentStep,
        timing: dict[str, float] | None = None,
    ) -> None:
        """Record one env step: ``observation``, ``reward`` and ``info`` are what it returned."""
        self.steps += 1
        self.episode_return += float(reward)
        invalid = bool(info.get("invalid_action", False))
        env_errors = [str(e) for e in info.get("format_errors") or []]
        self.invalid_actions += invalid
        self.agent_format_errors += bool(agent_step.format_error)
        self.env_format_errors += bool(env_errors)
        self.format_errors += bool(agent_step.format_error or env_errors)
        option = int(info.get("option_id", 0))
        self.option_lengths[option] = self.option_lengths.get(option, 0) + 1
        if info.get("subgoal") is not None:
            self.proposed.add(option)
        if info.get("subgoal_status") == "achieved":
            self.achieved.add(option)
        entry: dict[str, Any] = {"t": self.steps - 1}
        if agent_step.prompt is not None:
            entry["prompt_sha"] = prompt_hash(agent_step.prompt)
            if self.keep_prompts:
                entry["prompt"] = agent_step.prompt
        if agent_step.reply is not None:
            entry["reply"] = agent_step.reply
        elif not isinstance(agent_step.action, str):
            entry["sent"] = _json_ready(_parsed(agent_step.action))
        entry["parsed"] = _json_ready(_parsed(agent_step.action))
        entry.update(
            command=info.get("action"),
            valid=not invalid,
            format_errors=list(agent_step.format_errors) or ([] if not agent_step.format_error else ["format"]),
            env_format_errors=env_errors,
            option_id=option,
            option_started=bool(info.get("option_started", self.steps == 1)),
            subgoal=info.get("subgoal"),
            subgoal_status=info.get("subgoal_status", "unknown"),
            reward=float(reward),
            observation=_cut(observation),
        )
        if agent_step.meta:
            entry["meta"] = _json_ready({k: v for k, v in agent_step.meta.items() if not k.endswith("_s")})
        times = {**(timing or {}), **{k: v for k, v in agent_step.meta.items() if k.endswith("_s")}}
        if times:
            entry["time"] = {k: round(float(v), 4) for k, v in times.items()}
        self.transcript.append(entry)
        self.info = info

    def finish(self, *, truncated: bool = False, error: BaseException | None = None) -> dict[str, Any]:
        """The episode's record (``docs/benchmarking.md`` lists the fields); an error makes it a failure."""
        info = self.info
        won = bool(info.get("won", False)) and error is None
        lengths = [self.option_lengths[k] for k in sorted(self.option_lengths)]
        record: dict[str, Any] = {
            "index": self.index,
            "task_id": str(info.get("task_id", "")),
            "task_type": str(info.get("task_type", "")),
            "task": str(info.get("task", "")),
            "num_subtasks": int(info.get("num_subtasks", 1)),
            "won": won,
            "score": float(info.get("score", 0.0)) if error is None else 0.0,
            "return": round(self.episode_return, 6),
            "steps": self.steps,
            "truncated": bool(truncated),
            "invalid_actions": self.invalid_actions,
            "format_errors": self.format_errors,
            "agent_format_errors": self.agent_format_errors,
            "env_format_errors": self.env_format_errors,
            "options": len(lengths),
            "option_lengths": lengths,
            "subgoals_proposed": len(self.proposed),
            "subgoals_achieved": len(self.achieved & self.proposed),
            "subtasks_done": int(info.get("subtasks_done", int(won))),
            "error": None if error is None else f"{type(error).__name__}: {error}",
            # None: the episode ran to its end (won or lost); "agent" or "infrastructure": it was cut by an error
            "failure": None if error is None else failure_kind(error),
            # the commands the env executed (None: an invalid step), so two runs can be compared step by step
            "actions": [step["command"] for step in self.transcript],
        }
        record.update({k: _json_ready(info[k]) for k in _FINAL_INFO_KEYS if k in info})
        record["observation"] = _cut(self.observation)
        record["transcript"] = self.transcript
        if not won:
            analysis = classify(record)
            record["failure_class"], record["failure_traits"] = analysis.primary, list(analysis.traits)
        else:
            record["failure_class"], record["failure_traits"] = None, []
        return record


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` without its timings: two runs of the same panel with the same agent give equal ones."""
    out = {k: v for k, v in record.items() if k not in TIMING_KEYS}
    if "transcript" in out:
        out["transcript"] = [{k: v for k, v in s.items() if k not in TIMING_KEYS} for s in out["transcript"]]
    return out
