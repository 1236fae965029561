"""A tiny scriptable OptionEnv (no game engine) for testing the protocol machinery in isolation."""

from __future__ import annotations

from typing import Any

from hiper_envs.core import OptionEnv, TaskInfo


class KeyDoorEnv(OptionEnv):
    """Take the key in the hall, go to the door, open it. Subgoals: "take key", "go to door", "open door"."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_episode_steps=kwargs.pop("max_episode_steps", 10), **kwargs)

    def _load_task(self, options: dict[str, Any] | None) -> tuple[str, TaskInfo]:
        self.room = str(self.np_random.choice(["hall", "kitchen"]))
        self.has_key = False
        self.at_door = False
        self.door_open = False
        task = TaskInfo(task="open the door", task_type="key_door", task_id=f"keydoor-{self.room}")
        return f"You are in the {self.room}. The key is here.", task

    def _admissible_commands(self) -> list[str]:
        cmds = ["look", "go to door", "go to key"]
        if not self.has_key and not self.at_door:
            cmds.append("take key")
        if self.has_key and self.at_door:
            cmds.append("open door")
        return cmds

    def _execute(self, command: str) -> tuple[str, float, bool, bool]:
        if command == "open door":
            self.door_open = True
        if command == "take key":
            self.has_key = True
        elif command == "go to door":
            self.at_door = True
        elif command == "go to key":
            self.at_door = False
        elif command == "open door":
            return "The door opens.", 1.0, True, True
        return f"You did: {command}.", 0.0, False, False

    def _subgoal_status(self, subgoal: str):
        checks = {"take key": self.has_key, "go to door": self.at_door, "open door": self.door_open}
        return ("achieved" if checks[subgoal] else "pending") if subgoal in checks else "unknown"

    def _subgoal_candidates(self) -> list[str]:
        return ["take key", "go to door", "open door"]

    def _expert(self) -> tuple[str, str]:
        if not self.has_key:
            return ("go to key", "take key") if self.at_door else ("take key", "take key")
        return ("go to door", "go to door") if not self.at_door else ("open door", "open door")
