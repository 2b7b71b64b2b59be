"""Sweeps on a real Ray: a grid over seeds, retries, resume, a cluster by address, ASHA.

The Ray tests share one xdist group (``make test`` runs ``--dist loadgroup``), so they run one
after another in one worker and never start two Rays at once on CI's two cores.
"""

# RAY_AUTH_MODE=token, which the scripts joining by --address need, is set in conftest.py,
# before any test module imports ray.
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from advrl.cli.sweep import sweep_main
from advrl.core.errors import UserError
from advrl.sweeps.aggregate import aggregate_scores, interquartile_mean, iqm_band
from advrl.sweeps.sweep import Spec, SweepSettings, check_sweep, parse_spec, rank_configurations

pytest.importorskip("ray.tune")
pytest.importorskip("rliable")

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
ray_group = pytest.mark.xdist_group("ray")


# --- no Ray needed ----------------------------------------------------------------------


def test_specs_parse_into_their_forms():
    assert parse_spec("--hp", "lr", "3e-4") == Spec("value", ("3e-4",))
    assert parse_spec("--hp", "lr", "grid(1e-3, 1e-2)") == Spec("grid", ("1e-3", "1e-2"))
    assert parse_spec("--hp", "h", "choice([64,64],[128,128])").items == ("[64,64]", "[128,128]")
    assert parse_spec("--hp", "lr", "loguniform(1e-4,1e-2)").form == "loguniform"
    assert parse_spec("--hp", "n", "randint(2,9)").probe_values() == ["2", "8"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gird(1,2)", "unknown SPEC form 'gird'"),
        ("uniform(1)", "two bounds"),
        ("uniform(2,1)", "lower bound"),
        ("loguniform(0,1)", "above 0"),
        ("randint(1.5,3)", "integers"),
        ("grid(1,,2)", "empty item"),
    ],
)
def test_malformed_specs_name_the_fix(text, message):
    with pytest.raises(UserError, match=message):
        parse_spec("--hp", "lr", text)


def settings(tmp_path, **overrides):
    values = {
        "env": "GridWorld-v0",
        "algo": "reinforce",
        "out": str(tmp_path / "sweep"),
        "total_steps": 2048,
        "eval_episodes": 2,
    }
    return SweepSettings(**{**values, **overrides})


def test_every_swept_value_is_checked_against_the_typed_config(tmp_path):
    with pytest.raises(UserError, match="unknown hyperparameter 'learning_rate'"):
        check_sweep(settings(tmp_path, hp={"learning_rate": "grid(1e-3,1e-2)"}))
    with pytest.raises(UserError, match="n_steps"):  # the second value is ill-typed
        check_sweep(settings(tmp_path, hp={"n_steps": "grid(64,sixty)"}))
    with pytest.raises(UserError, match="--search grid takes values"):
        check_sweep(settings(tmp_path, hp={"lr": "uniform(1e-4,1e-2)"}))
    with pytest.raises(UserError, match="nothing to draw"):
        check_sweep(settings(tmp_path, search="random"))
    hp, _ = check_sweep(settings(tmp_path, hp={"lr": "grid(1e-3,1e-2)", "gamma": "0.9"}))
    assert hp["lr"].swept and not hp["gamma"].swept


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--hp", "lr=gird(1,2)"], "unknown SPEC form"),
        (["--hp", "learning_rate=grid(1,2)"], "unknown hyperparameter"),
        (["--seeds", "0"], "--seeds must be at least 1"),
        (["--address", "127.0.0.1:1"], "nothing answered at 127.0.0.1:1"),
        (["--resume", "{out}"], "no sweep.json there"),
        (["--num-cpus", "0"], "--num-cpus must be at least 1"),
        (["--num-cpus", "1", "--address", "auto"], "--num-cpus sizes the local Ray"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_any_trial(argv, message, tmp_path, capsys):
    out = tmp_path / "sweep"
    base = ["--env", "GridWorld-v0", "--algo", "reinforce", "--out", str(out)]
    assert sweep_main([*base, *(a.format(out=out) for a in argv)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and err.startswith("advrl: error:")
    assert not out.exists()  # nothing written, no trial started


def test_num_cpus_sizes_the_local_ray_and_may_change_on_resume(tmp_path, monkeypatch):
    """``--num-cpus`` reaches ``ray.init`` of a local Ray, and a resumed sweep takes the one
    it is given now, not the one it was started with (a core lent to another job)."""
    import ray
    from ray import tune

    from advrl.sweeps import sweep as sweep_module

    inits, connects = [], []
    monkeypatch.setattr(ray, "init", lambda **kwargs: inits.append(kwargs))
    sweep_module.connect(None, 1)
    assert inits[0]["num_cpus"] == 1 and inits[0]["address"] == "local"

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    monkeypatch.setattr(sweep_module, "connect", lambda *args: connects.append(args))

    def fit(settings, hp, env_kwargs, out, experiment, resume):  # what _fit keeps of a sweep
        (out / sweep_module.SETTINGS_FILE).write_text(json.dumps(dataclasses.asdict(settings)))
        return []

    monkeypatch.setattr(sweep_module, "_fit", fit)
    empty = {"trials": [], "configurations": []}
    monkeypatch.setattr(sweep_module, "write_outputs", lambda settings, trials: empty)
    monkeypatch.setattr(tune.Tuner, "can_restore", staticmethod(lambda path: True))
    sweep_module.run_sweep(settings(tmp_path, num_cpus=2))
    sweep_main(["--resume", str(tmp_path / "sweep"), "--num-cpus", "1"])
    assert connects == [(None, 2), (None, 1)]


def test_the_ranking_is_rliables_iqm_and_interval(tmp_path):
    rng = np.random.default_rng(0)
    trials = []
    for label, centre in (("lr=a", 0.2), ("lr=b", 0.8)):
        for seed in range(5):
            value = float(centre + 0.1 * rng.standard_normal())
            trials.append(
                {
                    "label": label,
                    "config": {"hp": {"lr": label[-1]}},
                    "seed": seed,
                    "status": "finished",
                    "metric": value,
                }
            )
    trials.append({"label": "lr=c", "config": {}, "seed": 0, "status": "failed", "metric": None})
    rows = rank_configurations(settings(tmp_path, seed=3), trials)
    assert [row["label"] for row in rows] == ["lr=b", "lr=a", "lr=c"]
    assert "iqm" not in rows[2] and rows[2]["failed"] == 1

    from rliable import library, metrics  # the same numbers straight through rliable

    np.random.seed(3)  # rliable's bootstrap draws from NumPy's global generator

    scores = {
        lbl: np.array([[t["metric"]] for t in trials if t["label"] == lbl])
        for lbl in ("lr=a", "lr=b")
    }
    point, interval = library.get_interval_estimates(
        scores,
        lambda m: np.array([metrics.aggregate_iqm(m)]),
        reps=2_000,
        random_state=np.random.RandomState(3),
    )
    best = rows[0]
    assert best["iqm"] == pytest.approx(point["lr=b"][0], rel=1e-12)
    assert best["iqm_ci95"] == pytest.approx(interval["lr=b"][:, 0].tolist(), rel=1e-12)
    assert best["mean"] == pytest.approx(np.mean(scores["lr=b"]))
    assert aggregate_scores({"x": [1.0, 2.0, 3.0, 4.0]})["x"].iqm == pytest.approx(2.5)


def test_our_interquartile_mean_is_rliables_at_every_size():
    """aggregate_scores' bootstrap uses a NumPy IQM in place of rliable's scipy call."""
    from rliable import metrics

    rng = np.random.default_rng(5)
    for size in range(1, 14):
        scores = rng.normal(size=(size, 1)) * 100
        assert interquartile_mean(scores) == pytest.approx(metrics.aggregate_iqm(scores), 1e-12)
    assert np.isnan(interquartile_mean(np.array([])))


def test_the_same_scores_give_the_same_interval():
    scores = {"a": [0.1, 0.5, 0.3, 0.9, 0.7]}
    np.random.seed(1)
    first = aggregate_scores(scores, seed=3)
    after_first = np.random.random()
    np.random.seed(2)  # another global state must not matter
    assert aggregate_scores(scores, seed=3) == first
    np.random.seed(1)
    assert np.random.random() == after_first  # and the global generator is left as it was


def test_an_iqm_band_is_rliables_iqm_at_every_point_with_its_bootstrap():
    """iqm_band takes each resample's IQMs in one trimmed mean over all points; the band
    must be what rliable's aggregate_iqm gives point by point, from the same resamples."""
    from rliable import library, metrics

    curves = np.random.default_rng(0).normal(size=(5, 30)).cumsum(1)
    centre, low, high = iqm_band(curves, seed=4, reps=300)
    np.random.seed(4)
    point, interval = library.get_interval_estimates(
        {"c": curves[:, None, :]},
        lambda m: np.array([metrics.aggregate_iqm(m[..., j]) for j in range(m.shape[-1])]),
        reps=300,
        random_state=np.random.RandomState(4),
    )
    np.testing.assert_allclose(centre, point["c"], rtol=1e-12)
    np.testing.assert_allclose(low, interval["c"][0], rtol=1e-12)
    np.testing.assert_allclose(high, interval["c"][1], rtol=1e-12)


# --- on a real Ray ----------------------------------------------------------------------


def read_results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


@ray_group
@pytest.mark.slow
def test_a_grid_of_two_configurations_by_two_seeds_on_a_local_ray(tmp_path, capsys):
    out = tmp_path / "grid"
    argv = [
        "--env",
        "GridWorld-v0",
        "--algo",
        "reinforce",
        "--total-steps",
        "1024",
        "--hp",
        "lr=grid(3e-3,1e-4)",
        "--seeds",
        "2",
        "--eval-episodes",
        "3",
        "--out",
        str(out),
    ]
    assert sweep_main(argv) == 0
    results = read_results(out)
    trials = results["trials"]
    assert len(trials) == 4 and {t["status"] for t in trials} == {"finished"}
    assert sorted((t["label"], t["seed"]) for t in trials) == [
        ("lr=1e-4", 1),
        ("lr=1e-4", 2),
        ("lr=3e-3", 1),
        ("lr=3e-3", 2),
    ]  # values as given
    for t in trials:  # each trial is an ordinary run: its own run dir and summary.json
        summary = json.loads((Path(t["run_dir"]) / "summary.json").read_text())
        assert summary["seed"] == t["seed"] and summary["eval_return_mean"] == t["metric"]
        assert summary["hyperparameters"]["lr"] == float(t["label"].split("=")[1])
        assert len(t["curve"]) > 3 and t["curve"][-1][0] <= 1024
    scores = {
        lbl: [t["metric"] for t in trials if t["label"] == lbl] for lbl in ("lr=3e-3", "lr=1e-4")
    }
    expected = aggregate_scores(scores, seed=1)
    report = (out / "report.md").read_text()
    for row in results["configurations"]:
        agg = expected[row["label"]]
        assert row["iqm"] == pytest.approx(agg.iqm)
        assert row["iqm_ci95"] == pytest.approx([agg.iqm_low, agg.iqm_high])
        assert f"{agg.iqm:.3f} [{agg.iqm_low:.3f}, {agg.iqm_high:.3f}]" in report
    assert (out / "curves.png").stat().st_size > 10_000
    assert "4 trials: 4 finished" in capsys.readouterr().out


@pytest.fixture(scope="module")
def ray_head():
    """One Ray cluster for the sweeps below, started once by this process (``ray.init``):
    in-process sweeps use it as a notebook's Ray, and scripts join it by ``--address``.
    (Starting a second one with ``ray start --head`` took over 120 s on CI's two busy cores.)"""
    import ray

    # Its workers inherit this environment: tests/ on the path for custom_envs.
    paths = [str(TESTS), os.environ.get("PYTHONPATH", "")]
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@ray_group
@pytest.mark.slow
def test_retries_a_flaky_trial_and_reports_one_that_always_fails(ray_head, tmp_path):
    out = tmp_path / "flaky"
    argv = [
        "--env",
        "custom_envs:FlakyCorridor",
        "--algo",
        "reinforce",
        "--env-kwargs",
        "fail=grid(once,always)",
        f"marker={tmp_path / 'failed-once'}",
        "--total-steps",
        "512",
        "--eval-episodes",
        "1",
        "--max-failures",
        "1",
        "--address",
        ray_head,
        "--out",
        str(out),
    ]
    assert sweep_main(argv) == 0
    by_label = {t["label"]: t for t in read_results(out)["trials"]}
    assert by_label["fail=once"]["status"] == "finished"
    assert (tmp_path / "failed-once").exists()  # it did fail once, and the retry finished
    failed = by_label["fail=always"]
    assert failed["status"] == "failed" and "fails at every reset" in failed["error"]
    report = (out / "report.md").read_text()
    assert "Trials that did not finish" in report and "fails at every reset" in report


def test_variants_are_checked_like_any_run_before_a_trial(tmp_path):
    with pytest.raises(UserError, match="variant 'x' sets learning_rate"):
        check_sweep(settings(tmp_path, variants={"x": {"learning_rate": 1}}))
    with pytest.raises(UserError, match="--reward gail needs --demos"):
        check_sweep(settings(tmp_path, variants={"gail": {"reward": "gail"}}))
    with pytest.raises(UserError, match="--seeds 2 would run it 2 times on that one seed"):
        check_sweep(settings(tmp_path, seeds=2, variants={"a_s4": {"seed": 4}, "b": {}}))


@ray_group
@pytest.mark.slow
def test_a_sweep_over_named_variants_runs_each_with_every_seed(ray_head, tmp_path):
    from advrl.sweeps.sweep import run_sweep

    variants = {
        "short": {"total_steps": 512, "hp": {"lr": "1e-3"}},
        "long": {"total_steps": 1024},
    }
    out = tmp_path / "variants"
    results = run_sweep(
        settings(tmp_path, out=str(out), seeds=2, variants=variants, address=ray_head)
    )
    trials = results["trials"]
    assert sorted((t["variant"], t["seed"]) for t in trials) == [
        ("long", 1), ("long", 2), ("short", 1), ("short", 2)
    ]  # fmt: skip
    for t in trials:
        summary = json.loads((Path(t["run_dir"]) / "summary.json").read_text())
        assert summary["total_steps"] == variants[t["variant"]]["total_steps"]
        assert summary["hyperparameters"]["lr"] == (1e-3 if t["variant"] == "short" else 3e-3)
    assert {row["label"] for row in results["configurations"]} == {"short", "long"}


@ray_group
@pytest.mark.slow
def test_variants_that_name_their_seeds_are_the_grid_and_ray_shows_no_other_seed(
    ray_head, tmp_path
):
    from advrl.sweeps.sweep import TUNE_NAME, run_sweep

    variants = {"s4": {"seed": 4}, "s5": {"seed": 5}, "default": {}}
    out = tmp_path / "seeded"
    results = run_sweep(
        settings(
            tmp_path, out=str(out), seed=1, total_steps=512, variants=variants, address=ray_head
        )
    )
    trials = results["trials"]
    assert sorted((t["variant"], t["seed"]) for t in trials) == [
        ("default", 1), ("s4", 4), ("s5", 5)
    ]  # fmt: skip
    for t in trials:
        assert json.loads((Path(t["run_dir"]) / "summary.json").read_text())["seed"] == t["seed"]
        # What Ray's progress table prints: the variant, and no grid seed that is not the run's.
        params = json.loads((out / TUNE_NAME / t["trial_id"] / "params.json").read_text())
        assert params["variant"] == t["variant"] and "seed" not in params


@ray_group
@pytest.mark.slow
def test_an_interrupted_sweep_resumes_with_only_the_trials_left(ray_head, tmp_path):
    out = tmp_path / "resume"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable,
        str(ROOT / "scripts" / "sweep.py"),
        "--env",
        "GridWorld-v0",
        "--algo",
        "reinforce",
        "--total-steps",
        "1024",
        "--seeds",
        "3",
        "--eval-episodes",
        "1",
        "--max-concurrent",
        "1",
        "--address",
        ray_head,
        "--out",
        str(out),
    ]
    sweep = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not list(out.glob("runs/*/summary.json")):
        assert sweep.poll() is None, sweep.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no trial finished within 240 s"
        time.sleep(0.2)
    sweep.send_signal(signal.SIGINT)  # Ctrl-C: Tune saves the experiment and stops
    sweep.wait(timeout=120)
    # What the interrupted sweep reported finished (a trial that wrote its summary.json as
    # Ctrl-C came, but had not reported yet, is unfinished and runs again).
    finished = [t["trial_id"] for t in read_results(out)["trials"] if t["status"] == "finished"]
    assert 1 <= len(finished) < 3
    finished_before = {n: (out / "runs" / n / "summary.json").stat().st_mtime_ns for n in finished}

    resumed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sweep.py"), "--resume", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    trials = read_results(out)["trials"]
    assert len(trials) == 3 and {t["status"] for t in trials} == {"finished"}
    assert sorted(t["seed"] for t in trials) == [1, 2, 3]
    for name, mtime in finished_before.items():  # finished trials were kept, not rerun
        assert (out / "runs" / name / "summary.json").stat().st_mtime_ns == mtime


@ray_group
@pytest.mark.slow
def test_asha_stops_a_clearly_worse_configuration_early(ray_head, tmp_path):
    out = tmp_path / "asha"
    argv = [
        "--env",
        "GridWorld-v0",
        "--algo",
        "reinforce",
        "--total-steps",
        "8192",
        "--hp",
        "lr=grid(1e-2,1e-9)",
        "--seeds",
        "2",
        "--scheduler",
        "asha",
        "--max-concurrent",
        "1",
        "--eval-episodes",
        "1",
        "--address",
        ray_head,
        "--out",
        str(out),
    ]
    assert sweep_main(argv) == 0
    trials = read_results(out)["trials"]
    worse = [t for t in trials if t["label"] == "lr=1e-9"]
    better = [t for t in trials if t["label"] == "lr=1e-2"]
    assert any(t["status"] == "stopped" and t["env_steps"] < 8192 for t in worse)
    assert any(t["status"] == "finished" and t["env_steps"] == 8192 for t in better)


def test_a_finished_sweeps_folder_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "sweep.json").write_text("{}")
    argv = ["--env", "GridWorld-v0", "--algo", "reinforce", "--out", str(out)]
    assert sweep_main(argv) == 2
    assert "already holds a sweep; --resume" in capsys.readouterr().err
