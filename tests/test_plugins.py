"""The trainer's plug-in protocol: hook order, stopping, state in checkpoints, evaluation."""

from __future__ import annotations

from advrl.core.checkpoint import load_checkpoint
from advrl.plugins import Plugin
from advrl.train import TrainSettings, train


class Recorder(Plugin):
    """Notes every hook call; stops learning at ``stop_at`` steps."""

    name = "recorder"

    def __init__(self, stop_at: int, evaluation: dict | None = None) -> None:
        self.stop_at, self.evaluation = stop_at, evaluation
        self.calls: list[str] = []
        self.updates = 0
        self.restored: dict | None = None

    def _note(self, call: str) -> None:
        if not self.calls or self.calls[-1] != call:
            self.calls.append(call)

    def wrap_envs(self, run, envs):
        self._note("wrap_envs")
        assert run.agent is None  # the agent is built on the wrapped envs
        return envs

    def load_state_dict(self, run, state):
        self._note("load_state_dict")
        self.restored = state

    def before_learn(self, run):
        self._note(f"before_learn resumed={run.resumed}")

    def after_update(self, run, step):
        self._note("after_update")
        self.updates += 1
        if step >= self.stop_at:
            run.stop()

    def state_dict(self, run):
        return {"updates": self.updates}

    def evaluate(self, run):
        self._note("evaluate")
        return self.evaluation

    def summary(self, run):
        self._note("summary")
        return {"recorder_updates": self.updates}


def test_hooks_run_in_order_stop_ends_learning_and_state_rides_in_checkpoints(tmp_path):
    first = Recorder(stop_at=512)
    settings = TrainSettings(
        env="GridWorld-v0", algo="reinforce", total_steps=10_000, eval_episodes=2,
        run_dir=tmp_path / "run",
    )  # fmt: skip
    summary = train(settings, plugins=[first])
    # GridWorld's REINFORCE preset: 4 envs x 64 steps = 256 env steps per update.
    assert summary["total_steps"] == 512 and summary["recorder_updates"] == 2
    assert summary["eval_episodes"] == 2  # evaluate() returned None: greedy episodes ran
    expected = ["wrap_envs", "before_learn resumed=False", "after_update", "evaluate", "summary"]
    assert first.calls == expected
    assert load_checkpoint(summary["checkpoint"])["plugins"]["recorder"] == {"updates": 2}

    second = Recorder(stop_at=10**9, evaluation={"my_score": 1.5})
    resumed = train(TrainSettings(resume=summary["checkpoint"], total_steps=1024), plugins=[second])
    assert second.restored == {"updates": 2}
    assert second.calls[:2] == ["wrap_envs", "load_state_dict"]
    assert second.calls[2] == "before_learn resumed=True"
    assert resumed["total_steps"] == 1024 and resumed["my_score"] == 1.5
    assert resumed["eval_episodes"] == 0 and resumed["eval_return_mean"] is None
