"""``--capture-video`` on a classic-control env, which renders through pygame.

The README's ``train_agent.py --env CartPole-v1 --algo ppo --capture-video`` trained and
then died at the video ("pygame is not installed") while the video tests covered only
GridWorld and Atari, which render without pygame.
"""

from pathlib import Path


def test_capture_video_on_cartpole(script, tmp_path: Path, monkeypatch) -> None:
    """A short CartPole-v1 PPO run exits 0 and writes an mp4 of its evaluation episode."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # tiny networks; two threads on busy cores crawl
    run_dir = tmp_path / "run"
    result = script(
        "train_agent.py",
        *("--env", "CartPole-v1", "--algo", "ppo", "--total-steps", "512"),
        *("--eval-episodes", "1", "--capture-video", "--run-dir", str(run_dir)),
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    videos = list((run_dir / "videos").glob("*.mp4"))
    assert videos, f"no mp4 under {run_dir / 'videos'}: {result.stderr[-2000:]}"
    assert all(video.stat().st_size > 0 for video in videos)
