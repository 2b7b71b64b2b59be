"""The command-line scripts end to end, each in a fresh interpreter."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TESTS
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from advrl.core.checkpoint import load_checkpoint, save_checkpoint

SUMMARY_KEYS = {
    "env",
    "algo",
    "seed",
    "total_steps",
    "eval_return_mean",
    "eval_return_std",
    "eval_episodes",
    "wall_time_s",
    "sps",
}


def scalars(run_dir, tag):
    """(step, value) pairs of a TensorBoard scalar across all event files in run_dir, file by
    file in the order they were opened.

    Not EventAccumulator on the directory: it reads files in name order, and two writers opened
    in one second by one process are named by a counter, so ``...1234.9`` sorts after
    ``...1234.10``. A resumed run's points then came before the first run's.
    """
    files = []
    for path in Path(run_dir).glob("events.out.tfevents.*"):
        acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
        acc.Reload()
        files.append((acc.FirstEventTimestamp(), acc))
    files.sort(key=lambda pair: pair[0])
    return [
        (e.step, e.value)
        for _, acc in files
        if tag in acc.Tags()["scalars"]
        for e in acc.Scalars(tag)
    ]


def test_scalars_reads_event_files_in_the_order_they_were_written(tmp_path):
    """Two files of one second named by the writer counter 9 then 10: name order reverses them."""
    from torch.utils.tensorboard import SummaryWriter

    for step, counter in ((1, 9), (2, 10)):
        with SummaryWriter(tmp_path / str(step)) as writer:
            writer.add_scalar("x", float(step), step)
        (written,) = (tmp_path / str(step)).iterdir()
        written.rename(tmp_path / f"events.out.tfevents.1700000000.host.1.{counter}")
        time.sleep(0.01)
    by_name = EventAccumulator(str(tmp_path))
    assert [e.step for e in by_name.Reload().Scalars("x")] == [2, 1]
    assert scalars(tmp_path, "x") == [(1, 1.0), (2, 2.0)]


def assert_user_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("advrl: error:") or "usage:" in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One short GridWorld run with periodic checkpoints and a video, shared by tests."""
    from conftest import run_script

    run_dir = tmp_path_factory.mktemp("cli") / "run"
    result = run_script(
        "train_agent.py",
        "--env",
        "GridWorld-v0",
        "--algo",
        "reinforce",
        "--total-steps",
        "3000",
        "--checkpoint-every",
        "1024",
        "--seed",
        "3",
        "--run-dir",
        str(run_dir),
        "--eval-episodes",
        "2",
        "--capture-video",
    )
    assert result.returncode == 0, result.stderr
    return run_dir, result


def test_train_writes_events_checkpoints_summary_and_video(trained_run):
    run_dir, result = trained_run
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert summary["total_steps"] >= 3000 and summary["eval_episodes"] == 2
    assert (summary["env"], summary["algo"], summary["seed"]) == ("GridWorld-v0", "reinforce", 3)
    assert list(run_dir.glob("events.out.tfevents.*"))
    assert (run_dir / "checkpoints" / "final.pt").is_file()
    assert len(list((run_dir / "checkpoints").glob("step_*.pt"))) >= 2
    assert len(list((run_dir / "videos").glob("*.mp4"))) == 2
    assert scalars(run_dir, "charts/episodic_return")
    assert scalars(run_dir, "losses/policy_loss")
    for where in ("tensorboard", "checkpoint:", "videos:", "summary.json"):
        assert where in result.stdout


def test_resume_continues_the_step_count(trained_run, script):
    run_dir, _ = trained_run
    first_steps = [s for s, _ in scalars(run_dir, "charts/episodic_return")]
    final = run_dir / "checkpoints" / "final.pt"
    first = json.loads((run_dir / "summary.json").read_text())
    payload = load_checkpoint(final)  # the wall time so far, as if the first part took 1,000 s
    assert 0 < payload["wall_time_s"] < first["wall_time_s"]
    payload.pop("format_version")
    save_checkpoint(final, {**payload, "wall_time_s": 1000.0})
    result = script(
        "train_agent.py",
        "--resume",
        str(run_dir / "checkpoints" / "final.pt"),
        "--total-steps",
        "6000",
        "--eval-episodes",
        "1",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["total_steps"] >= 6000
    assert summary["resumed_from"].endswith("final.pt")
    assert 1000 < summary["wall_time_s"] < 1300  # both parts of the run, not the second alone
    steps = [s for s, _ in scalars(run_dir, "charts/episodic_return")]
    assert max(steps) > max(first_steps) >= 2000
    resumed = [s for s in steps if s > max(first_steps)]
    assert resumed and min(resumed) > 3000  # the curve continues, it does not restart at 0


def test_evaluate_script_and_its_video(trained_run, script, tmp_path):
    run_dir, _ = trained_run
    result = script(
        "evaluate.py",
        str(run_dir / "checkpoints" / "final.pt"),
        "--episodes",
        "3",
        "--video",
        str(tmp_path / "vids"),
    )
    assert result.returncode == 0, result.stderr
    assert "GridWorld-v0 reinforce: return" in result.stdout and "over 3 episodes" in result.stdout
    assert len(list((tmp_path / "vids").glob("*.mp4"))) == 3
    result = script("evaluate.py", str(run_dir / "checkpoints" / "final.pt"), "--json")
    assert json.loads(result.stdout)["episodes"] == 10


@pytest.mark.parametrize(
    "env_spec", ["custom_envs:Corridor", "custom_envs:make_corridor", "custom_envs:Corridor-v0"]
)
def test_custom_env_plugs_in(env_spec, script, tmp_path):
    result = script(
        "train_agent.py",
        "--env",
        env_spec,
        "--env-kwargs",
        "length=4",
        "--algo",
        "reinforce",
        "--total-steps",
        "512",
        "--run-dir",
        str(tmp_path / "r"),
        "--eval-episodes",
        "1",
        cwd=TESTS,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["env"] == env_spec


BAD_INPUTS = [
    (
        ["--env", "GridWrld-v0", "--algo", "reinforce"],
        ["unknown env 'GridWrld-v0'", "GridWorld-v0"],
    ),
    (["--env", "GridWorld-v0", "--algo", "reinfroce"], ["unknown algorithm", "reinforce"]),
    (
        ["--env", "GridWorld-v0", "--algo", "reinforce", "--hp", "gama=0.9"],
        ["unknown hyperparameter 'gama'", "did you mean gamma"],
    ),
    (
        ["--env", "GridWorld-v0", "--algo", "reinforce", "--hp", "lr=fast"],
        ["lr='fast'", "expected a number"],
    ),
    (["--env", "GridWorld-v0", "--algo", "reinforce", "--hp", "gamma=2"], ["gamma must be in"]),
    (
        ["--env", "GridWorld-v0", "--algo", "reinforce", "--env-kwargs", "slipp=0.2"],
        ["no argument 'slipp'", "did you mean slip"],
    ),
    (
        ["--env", "GridWorld-v0", "--algo", "reinforce", "--env-kwargs", "slip=2"],
        ["rejected its arguments", "slip"],
    ),
    (
        ["--env", "custom_envs:MultiButton", "--algo", "reinforce"],
        ["cannot handle", "MultiDiscrete"],
    ),
    (["--env", "no_such_module:Env", "--algo", "reinforce"], ["cannot import module"]),
    (["--resume", "missing/checkpoint.pt"], ["does not exist"]),
    (["--env", "GridWorld-v0"], ["--env and --algo are required"]),
    (
        ["--env", "GridWorld-v0", "--algo", "reinforce", "--num-envs", "0"],
        ["--num-envs must be at least 1", "leave it out"],
    ),
    (
        ["--env", "SeqGAN-v0", "--algo", "dqn"],
        ["--algo dqn cannot train SeqGAN-v0", "use --algo ppo or --algo reinforce"],
    ),
    (
        ["--env", "SeqGAN-v0", "--algo", "ppo", "--env-kwargs", "mle_epochs=2"],
        ["no argument 'mle_epochs'", "--recipe-kwargs mle_epochs="],
    ),
    (
        ["--env", "SeqGAN-v0", "--algo", "ppo", "--pretrain", "bc", "--demos", "x.npz"],
        ["pre-trains by MLE", "--recipe-kwargs"],
    ),
]


@pytest.mark.parametrize(
    ("args", "fragments"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS]
)
def test_bad_input_exits_2_with_one_readable_line(args, fragments, script, tmp_path):
    result = script("train_agent.py", *args, "--run-dir", str(tmp_path / "r"), cwd=TESTS)
    assert_user_error(result, *fragments)
    assert not (tmp_path / "r").exists()  # nothing was written


def test_corrupt_checkpoint_is_refused(script, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a zip file at all")
    assert_user_error(script("train_agent.py", "--resume", str(bad)), "corrupt")
    assert_user_error(script("evaluate.py", str(bad)), "corrupt")


def test_existing_run_dir_is_not_overwritten(script, tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("precious")
    result = script(
        "train_agent.py", "--env", "GridWorld-v0", "--algo", "reinforce", "--run-dir", str(run_dir)
    )
    assert_user_error(result, "already holds files")
    assert [p.name for p in run_dir.iterdir()] == ["notes.txt"]
    assert (run_dir / "notes.txt").read_text() == "precious"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_without_cuda_is_a_user_error(script, tmp_path):
    result = script(
        "train_agent.py",
        "--env",
        "GridWorld-v0",
        "--algo",
        "reinforce",
        "--device",
        "cuda",
        "--run-dir",
        str(tmp_path / "r"),
    )
    assert_user_error(result, "no CUDA device")


def test_ctrl_c_saves_a_checkpoint_that_resumes(tmp_path):
    run_dir = tmp_path / "r"
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "train_agent.py"),
            "--env",
            "GridWorld-v0",
            "--algo",
            "reinforce",
            "--total-steps",
            "10000000",
            "--run-dir",
            str(run_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while not list(run_dir.glob("events.out.tfevents.*")) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2.0)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    saved = list((run_dir / "checkpoints").glob("step_*.pt"))
    assert len(saved) == 1 and "--resume" in stdout

    assert load_checkpoint(saved[0])["agent"]["global_step"] > 0


def test_dqn_refuses_continuous_actions(script, tmp_path):
    result = script(
        "train_agent.py", "--env", "Pendulum-v1", "--algo", "dqn", "--run-dir", str(tmp_path / "r")
    )
    assert_user_error(result, "--algo dqn cannot handle", "Discrete")
    assert not (tmp_path / "r").exists()


def test_dqn_atari_smoke_run_writes_events_checkpoint_and_video(script, tmp_path):
    """A few thousand steps of Pong on CPU, through the Nature preset and the frame buffer."""
    run_dir = tmp_path / "pong"
    result = script(
        "train_agent.py",
        "--env",
        "PongNoFrameskip-v4",
        "--env-kwargs",
        "max_episode_steps=2000",  # raw frames: keeps the evaluation game short
        "--algo",
        "double_dqn",
        "--total-steps",
        "2000",
        "--hp",
        "buffer_size=10000",
        "learning_starts=1000",
        "--capture-video",
        "--eval-episodes",
        "1",
        "--device",
        "cpu",
        "--run-dir",
        str(run_dir),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["algo"] == "double_dqn" and summary["total_steps"] == 2000
    assert summary["hyperparameters"]["target_update_interval"] == 1000  # the Nature preset
    assert (run_dir / "checkpoints" / "final.pt").is_file()
    assert len(list((run_dir / "videos").glob("*.mp4"))) == 1
    assert len(scalars(run_dir, "losses/td_loss")) == 2  # 250 gradient steps, a log every 100
    assert scalars(run_dir, "charts/epsilon")[-1][1] == pytest.approx(0.01)


def test_a_failed_video_loses_nothing_and_is_one_line(script, tmp_path):
    """The run's checkpoint, evaluation and summary are written; the video error is one line."""
    run_dir = tmp_path / "r"
    result = script(
        "train_agent.py",
        "--env", "custom_envs:NoRenderer", "--algo", "reinforce", "--total-steps", "256",
        "--eval-episodes", "2", "--capture-video", "--run-dir", str(run_dir),
        cwd=TESTS,
    )  # fmt: skip
    assert_user_error(result, "the run is saved", "video failed", "pip install")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["eval_episodes"] == 2 and summary["videos"] is None
    assert (run_dir / "checkpoints" / "final.pt").is_file()
