"""What both trainers share (advrl.core.runs): run dirs never overwritten, checkpoints with
the run's record, config, state and RNG states, resume refusing another trainer's
checkpoint, summary.json, and Ctrl-C as a request to stop."""

import json
import os
import signal
import threading

import pytest
import torch

import advrl
from advrl.core.checkpoint import load_checkpoint
from advrl.core.errors import UserError
from advrl.core.runs import CtrlC, RunFiles, exit_interrupted, load_resume, new_run_dir
from advrl.plan import TrainSettings, plan_run


def test_a_checkpoint_holds_the_record_config_state_and_rng(tmp_path):
    files = RunFiles(tmp_path, "gan_run", {"seed": 3}, resumed_from=None)
    files.create()
    path = files.save("x.pt", {"lr": 0.5}, {"weights": torch.ones(2), "epoch": 4})
    assert path == tmp_path / "checkpoints" / "x.pt"
    checkpoint = load_checkpoint(path)  # weights_only: nothing in it runs code
    assert set(checkpoint) == {"format_version", "gan_run", "config", "weights", "epoch", "rng"}
    assert checkpoint["gan_run"] == {"seed": 3, "advrl_version": advrl.__version__}
    assert checkpoint["config"] == {"lr": 0.5} and torch.equal(checkpoint["weights"], torch.ones(2))
    assert {"python", "numpy", "torch"} <= set(checkpoint["rng"])
    assert os.listdir(tmp_path / "checkpoints") == ["x.pt"]  # written atomically


def test_summary_says_where_the_run_is_and_what_it_resumed(tmp_path):
    files = RunFiles(tmp_path, "run", {}, resumed_from=tmp_path / "a.pt")
    entries = files.summary_entries(tmp_path / "final.pt")
    assert entries == {
        "run_dir": str(tmp_path),
        "checkpoint": str(tmp_path / "final.pt"),
        "resumed_from": str(tmp_path / "a.pt"),
        "advrl_version": advrl.__version__,
    }
    files.write_summary({"x": 1, **entries})
    assert json.loads((tmp_path / "summary.json").read_text())["x"] == 1


def test_resume_refuses_another_trainers_checkpoint(tmp_path):
    gan = RunFiles(tmp_path / "gan", "gan_run", {}).save("final.pt", {}, {})
    agent = RunFiles(tmp_path / "agent", "run", {}).save("final.pt", {}, {})
    assert load_resume(gan, "gan_run", "train_gan.py")["gan_run"]["advrl_version"]
    with pytest.raises(UserError, match=r"not a train_gan\.py checkpoint"):
        load_resume(agent, "gan_run", "train_gan.py")
    # The trainer read checkpoint["run"] and failed with a KeyError before.
    with pytest.raises(UserError, match=r"not a train_agent\.py checkpoint"):
        plan_run(TrainSettings(resume=gan))


def test_a_run_dir_with_files_is_refused(tmp_path):
    assert new_run_dir(tmp_path / "new", "x") == tmp_path / "new"
    assert new_run_dir(None, "CartPole-v1", "ppo", 1).name.startswith("CartPole-v1__ppo__1__")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "notes.txt").write_text("precious")
    with pytest.raises(UserError, match="already holds files"):
        new_run_dir(tmp_path / "new", "x")


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals: main thread"
)
def test_first_ctrl_c_asks_to_stop_the_second_stops_at_once(capsys):
    previous = signal.getsignal(signal.SIGINT)
    with CtrlC("batch").catching() as ctrl_c:
        handler = signal.getsignal(signal.SIGINT)
        handler(signal.SIGINT, None)
        assert ctrl_c.pressed
        assert "stopping after this batch" in capsys.readouterr().err
        with pytest.raises(KeyboardInterrupt):
            handler(signal.SIGINT, None)
    assert signal.getsignal(signal.SIGINT) is previous


def test_an_interrupted_run_says_how_to_resume(tmp_path, capsys):
    with pytest.raises(KeyboardInterrupt):
        exit_interrupted(tmp_path / "c.pt", "epoch 2, batch 5")
    out = capsys.readouterr().out
    assert "interrupted at epoch 2, batch 5" in out and f"--resume {tmp_path / 'c.pt'}" in out
