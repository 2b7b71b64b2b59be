"""The imitation-mujoco suite at toy size: an expert installed, demonstrations drawn, every
method run through a Ray Tune sweep, AIRL's reward transferred, and results.json in the shape
the issue gives, with the headline's checkpoints re-evaluable."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

from advrl.benchmarks import imitation_mujoco as suite
from advrl.core.demos import load_demos
from advrl.evaluation import evaluate, load_agent
from advrl.train import TrainSettings, train

pytest.importorskip("ray.tune")


@pytest.mark.xdist_group("ray")
@pytest.mark.slow
def test_the_suite_runs_every_method_and_writes_results_in_the_issues_shape(tmp_path):
    expert = train(
        TrainSettings(env="Hopper-v5", algo="ppo", seed=1, total_steps=1024, eval_episodes=0,
                      run_dir=tmp_path / "expert")
    )  # fmt: skip
    out, sweeps = tmp_path / "suite", tmp_path / "suite" / "sweeps"
    suite.copy_expert(expert["checkpoint"], "Hopper-v5", out)
    stages = (
        suite.Stage("Hopper-v5", 4, (1,)),
        suite.Stage("Hopper-v5", 4, (1,), transfer=True),
    )
    learner = {**suite.CLEANRL_PPO, "n_steps": "256"}
    results = suite.run_suite(stages, out, sweeps, total_steps=512, learner_hp=learner)

    demos = load_demos(suite.demos_path("Hopper-v5", 4, out))
    assert len(demos["episode_returns"]) == 4
    assert len(demos["obs"]) < demos["episode_returns"].size * 1000 // suite.EVERY + 4
    hopper = results["envs"]["Hopper-v5"]
    runs = hopper["runs"]
    assert sorted(run["method"] for run in runs) == [
        "airl", "airl_transfer", "airl_transfer_floor", "airl_transfer_rank", "bc", "bc_gail",
        "gail",
    ]  # fmt: skip
    keys = {"method", "demos", "seed", "return", "env_steps", "wall_s", "checkpoint"}
    steps = {"bc": 0, **dict.fromkeys(suite.TRANSFERS, 256)}
    for run in runs:
        assert keys <= set(run) and run["seed"] == 1 and run["demos"] == 4
        assert run["resumed_from"] is None  # no trial was cut off
        assert run["env_steps"] >= steps.get(run["method"], 512)
        expected = (run["return"] - hopper["random_return"]) / (
            hopper["expert_return"] - hopper["random_return"]
        )
        assert run["normalised"] == pytest.approx(expected)
    assert set(hopper["aggregates"]) == {f"{m} 4" for m in (*suite.METHODS, *suite.TRANSFERS)}
    # The headline's checkpoints are committed beside results.json and replay its returns.
    gail = next(run for run in runs if run["method"] == "gail")
    agent, factory, _ = load_agent(out / gail["checkpoint"])
    replayed = evaluate(agent, factory, 10, seed=1 + suite.EVAL_SEED)
    assert float(np.mean(replayed)) == pytest.approx(gail["return"])
    assert (out / "normalised_return.png").exists() and (out / "curves.png").exists()
    saved = json.loads((out / "results.json").read_text())
    assert saved["envs"]["Hopper-v5"]["runs"] == json.loads(json.dumps(runs))
    assert saved["protocol"]["steps"] == 512
    assert hopper["cost"]["env_steps"] == sum(run["env_steps"] for run in runs)
    assert hopper["cost"]["cpu_hours"] == pytest.approx(sum(r["wall_s"] for r in runs) / 3600)
    assert saved["cost"] == hopper["cost"]
    # The transfer trained on the committed copy of AIRL's reward.
    airl = next(run for run in runs if run["method"] == "airl")
    assert airl["reward_model"] == "checkpoints/airl_s1_reward.pt"
    assert (out / airl["reward_model"]).exists()

    # A fresh clone has results.json but no sweeps: it runs only what results.json lacks.
    shutil.rmtree(sweeps)
    saved["envs"]["Hopper-v5"]["runs"] = [r for r in saved["envs"]["Hopper-v5"]["runs"]
                                         if r["method"] != "bc"]  # fmt: skip
    (out / "results.json").write_text(json.dumps(saved))
    again = suite.run_suite(stages, out, sweeps, total_steps=512, learner_hp=learner)
    trials = [json.loads(p.read_text()) for p in sweeps.glob("*/tune/*/params.json")]
    assert [trial["variant"] for trial in trials] == ["bc_s1"]
    assert not (sweeps / stages[1].name).exists()
    rerun = {(r["method"], r["seed"]): r for r in again["envs"]["Hopper-v5"]["runs"]}
    assert sorted(rerun) == sorted((r["method"], r["seed"]) for r in runs)
    for run in runs:
        if run["method"] != "bc":
            assert rerun[(run["method"], run["seed"])] == json.loads(json.dumps(run))


def test_a_stage_owes_the_runs_results_json_lacks_and_lost_airl_rewards(tmp_path):
    """What a fresh clone resumes: every (method, seed) missing from results.json, and a
    headline AIRL run again if its reward, which the transfer trains on, was not kept."""
    out = tmp_path / "suite"
    (out / "checkpoints").mkdir(parents=True)
    runs = [
        {"method": method, "demos": demos, "seed": seed, "return": 1.0, "env_steps": 8,
         "wall_s": 1.0, "checkpoint": None}
        for demos in (4, 16) for method in suite.METHODS for seed in (1, 2)
        if (method, seed) != ("bc_gail", 2)
    ]  # fmt: skip
    info = {"expert_return": 1000.0, "random_return": 0.0}
    (out / "results.json").write_text(json.dumps({"envs": {"Hopper-v5": {**info, "runs": runs}}}))
    suite.reward_model_path(1, out).write_bytes(b"")  # seed 2's was never committed
    sweeps = tmp_path / "sweeps"

    def owed(stage: suite.Stage) -> dict:
        return suite.stage_variants(stage, out, sweeps, total_steps=100)

    headline = owed(suite.Stage("Hopper-v5", 4, (1, 2)))
    assert list(headline) == ["airl_s2", "bc_gail_s2"]
    assert headline["airl_s2"]["seed"] == 2 and headline["airl_s2"]["reward"] == "airl"
    assert list(owed(suite.Stage("Hopper-v5", 16, (1, 2)))) == ["bc_gail_s2"]
    assert owed(suite.Stage("Hopper-v5", 16, (3,))).keys() == {f"{m}_s3" for m in suite.METHODS}
    transfer = owed(suite.Stage("Hopper-v5", 4, (1, 2), transfer=True))
    assert list(transfer) == ["airl_transfer_s1", "airl_transfer_floor_s1", "airl_transfer_rank_s1"]
    assert transfer["airl_transfer_s1"]["reward"] == f"model:{suite.reward_model_path(1, out)}"
    assert transfer["airl_transfer_s1"]["total_steps"] == 50
    assert "reward_kwargs" not in transfer["airl_transfer_s1"]  # the saved reading
    assert transfer["airl_transfer_floor_s1"]["reward_kwargs"] == {"reward": "above_floor"}
    assert "demos" not in transfer["airl_transfer_floor_s1"]
    rank = transfer["airl_transfer_rank_s1"]  # ranks g among the demonstrations' states
    assert rank["reward_kwargs"] == {"reward": "expert_rank"}
    assert rank["demos"] == str(suite.demos_path("Hopper-v5", 4, out))


def test_a_finished_stage_runs_a_method_added_since_in_a_sweep_of_its_own(tmp_path, monkeypatch):
    """The transfer stage's sweep finished before airl_transfer_floor existed: the runs it
    now owes go to NAME_2, and the first sweep's folder is left as it was."""
    out, sweeps = tmp_path / "suite", tmp_path / "sweeps"
    suite.reward_model_path(1, out).parent.mkdir(parents=True)
    suite.reward_model_path(1, out).write_bytes(b"")
    stage = suite.Stage("Hopper-v5", 4, (1,), transfer=True)
    (sweeps / stage.name).mkdir(parents=True)
    (sweeps / stage.name / "results.json").write_text("{}")
    started = []
    monkeypatch.setattr(suite, "run_sweep", lambda settings: started.append(settings))
    suite.run_stage(stage, out, sweeps, total_steps=100)
    (settings,) = started
    assert settings.out == str(sweeps / f"{stage.name}_2")
    assert set(settings.variants) == {f"{method}_s1" for method in suite.TRANSFERS}
    assert (sweeps / stage.name / "results.json").read_text() == "{}"


@pytest.fixture
def stage_sweeps(tmp_path, monkeypatch):
    """A one-seed Hopper stage whose sweeps are recorded, not run: (suite folder, sweeps
    folder, stage, the (settings, resume) of each run_sweep call)."""
    started: list[tuple] = []
    monkeypatch.setattr(suite, "run_sweep", lambda settings, resume=False: started.append(
        (settings, resume)))  # fmt: skip
    return tmp_path / "suite", tmp_path / "sweeps", suite.Stage("Hopper-v5", 4, (1,)), started


def test_a_stage_on_one_cpu_runs_one_run_at_a_time_new_or_resumed(stage_sweeps):
    """``--cpus 1`` (a core lent to another job) sizes a new stage's Ray and a resumed
    one's, whatever the resumed sweep was started with; the protocol's 2 at once stays."""
    out, sweeps, stage, started = stage_sweeps
    suite.run_stage(stage, out, sweeps, total_steps=100, cpus=1)
    ((settings, resume),) = started
    assert (settings.num_cpus, settings.max_concurrent, resume) == (1, 2, False)
    (sweeps / stage.name).mkdir(parents=True)
    (sweeps / stage.name / "sweep.json").write_text(
        json.dumps(dataclasses.asdict(settings) | {"num_cpus": 2})
    )
    suite.run_stage(stage, out, sweeps, total_steps=100, cpus=1)
    assert (started[1][0].num_cpus, started[1][1]) == (1, True)


def test_an_interrupted_stage_is_resumed_not_started_afresh(stage_sweeps):
    """Ctrl-C leaves results.json with the cut-off trial ``stopped``: the next run of the
    stage resumes that sweep (and its trial's checkpoint) instead of starting NAME_2; only
    the last sweep is resumed, never one a later sweep took over from."""
    out, sweeps, stage, started = stage_sweeps
    suite.run_stage(stage, out, sweeps, total_steps=100, cpus=1)
    folder = sweeps / stage.name
    folder.mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps(dataclasses.asdict(started[0][0])))
    trials = [{"variant": "gail_s1", "status": "finished"}, {"variant": "airl_s1"}]
    trials[1]["status"] = "stopped"
    (folder / "results.json").write_text(json.dumps({"trials": trials}))
    suite.run_stage(stage, out, sweeps, total_steps=100, cpus=1)
    assert (started[1][0].out, started[1][1]) == (str(folder), True)
    trials[1]["status"] = "failed"  # ran to its end: owed runs go to a sweep of their own
    (folder / "results.json").write_text(json.dumps({"trials": trials}))
    suite.run_stage(stage, out, sweeps, total_steps=100, cpus=1)
    assert (started[2][0].out, started[2][1]) == (str(sweeps / f"{stage.name}_2"), False)
    trials[1]["status"] = "stopped"  # an interrupted sweep that a later one took over from
    (folder / "results.json").write_text(json.dumps({"trials": trials}))
    later = sweeps / f"{stage.name}_2"
    later.mkdir()
    (later / "sweep.json").write_text(json.dumps(dataclasses.asdict(started[2][0])))
    suite.run_stage(stage, out, sweeps, total_steps=100, cpus=1)
    assert (started[3][0].out, started[3][1]) == (str(later), True)


def test_a_resumed_trials_curve_keeps_the_reports_from_before_its_cut_off(tmp_path):
    """Tune starts a resumed trial's result.json afresh; the earlier reports come back from
    the trial's TensorBoard file of its first run, and none is counted twice."""
    from torch.utils.tensorboard import SummaryWriter

    trial = tmp_path / "trial"
    for run, points in enumerate([[(100, 1.5), (200, 2.5), (300, 3.5)], [(300, 3.0), (400, 4.0)]]):
        writer = SummaryWriter(str(trial), filename_suffix=f".run{run}")
        for iteration, (step, value) in enumerate(points, start=1):
            writer.add_scalar("ray/tune/env_steps", step, iteration)
            writer.add_scalar("ray/tune/episodic_return", value, iteration)
        writer.close()
    reports = [{"env_steps": 300, "episodic_return": 3.0}, {"env_steps": 400,
               "episodic_return": 4.0}, {"env_steps": 400, "finished": True}]  # fmt: skip
    (trial / "result.json").write_text("\n".join(json.dumps(r) for r in reports))
    curve = suite._reported_curve(trial / "result.json")
    assert curve == [[100.0, 1.5], [200.0, 2.5], [300.0, 3.0], [400.0, 4.0]]


def test_the_reference_runs_each_method_and_seed_once_and_joins_the_results(tmp_path):
    """The imitation library's runs go through its own interpreter (here a stand-in that
    prints what the real script prints), are journaled, and are not run twice."""
    calls = tmp_path / "calls.txt"
    fake = tmp_path / "python"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$3 $5" >> {calls}\n'
        'echo \'{"method": "imitation_\'$4\'", "env": "Hopper-v5", "env_id_run": "Hopper-v4", '
        '"demos": 4, "seed": \'$6\', "return": 100.0, "env_steps": \'$5\', "wall_s": 1.0}\'\n'
    )
    fake.chmod(0o755)
    out = tmp_path / "suite"
    out.mkdir()
    (out / "expert_Hopper-v5.json").write_text(
        json.dumps({"expert_return": 1000.0, "expert_return_std": 0.0, "random_return": 0.0})
    )
    first = suite.run_reference(str(fake), out, total_steps=64, cpus=1)
    assert sorted((r["method"], r["seed"]) for r in first) == [
        (f"imitation_{m}", s) for m in ("airl", "gail") for s in (1, 2, 3)
    ]
    assert suite.run_reference(str(fake), out, total_steps=64) == []  # all journaled
    assert len(calls.read_text().splitlines()) == 6
    results = suite.write_results(out, out / "sweeps", total_steps=64)
    runs = results["envs"]["Hopper-v5"]["runs"]
    assert {r["method"] for r in runs} == {"imitation_gail", "imitation_airl"}
    assert all(r["normalised"] == pytest.approx(0.1) and r["checkpoint"] is None for r in runs)
    assert results["cost"] == {"env_steps": 0, "cpu_hours": 0.0}  # advrl's runs only


def test_a_library_run_counts_when_it_trained_every_whole_round_of_the_budget():
    """The library trains whole 2,048-step rounds: 976 of them (1,998,848 steps) had the 2M
    budget, one round fewer did not."""
    assert suite.reference_finished({"env_steps": 2_000_896}, 2_000_000)
    assert suite.reference_finished({"env_steps": 1_998_848}, 2_000_000)
    assert not suite.reference_finished({"env_steps": 1_996_800}, 2_000_000)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--cases", "Hopper-v5_3_methods"], "has no stage Hopper-v5_3_methods; its stages:"),
        (["--cpus", "0"], "--cpus must be at least 1, got 0"),
        (["--side-by-side"], "give its venv's interpreter with --reference-python"),
    ],
)
def test_bad_suite_options_are_one_line_and_exit_2_before_any_run(argv, message, capsys):
    from advrl.cli.benchmark import benchmark_main

    assert benchmark_main(["--suite", "imitation-mujoco", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_side_by_side_runs_ours_and_the_librarys_at_once_and_resumes(tmp_path, monkeypatch):
    """Each pair runs together: the stand-in for the library's script starts before ours
    has finished and waits for it to finish (run one after the other, it would time out).
    Pairs are journaled, their ratios summarised in results.json, and none runs twice."""
    monkeypatch.setattr(suite, "REFERENCE", (("Hopper-v5", 4, (1,)),))
    out, sweeps = tmp_path / "suite", tmp_path / "sweeps"
    expert = train(
        TrainSettings(env="Hopper-v5", algo="ppo", seed=1, total_steps=1024, eval_episodes=0,
                      run_dir=tmp_path / "expert")
    )  # fmt: skip
    suite.copy_expert(expert["checkpoint"], "Hopper-v5", out)
    suite.prepare("Hopper-v5", out)
    calls = tmp_path / "calls.txt"
    fake = tmp_path / "python"
    fake.write_text(
        "#!/bin/sh\n"
        f'summary="{sweeps}/side_by_side/Hopper-v5_4_$4_s$6/summary.json"\n'
        'test -e "$summary" && exit 3\n'  # ours had already finished: not side by side
        f'echo "$4 $5 $6" >> {calls}\n'
        'for i in $(seq 600); do test -e "$summary" && break; sleep 0.2; done\n'
        'test -e "$summary" || exit 4\n'
        'echo \'{"method": "imitation_\'$4\'", "env_id_run": "Hopper-v4", "seed": \'$6\', '
        '"return": 100.0, "env_steps": \'$5\', "wall_s": 1.0}\'\n'
    )
    fake.chmod(0o755)
    learner = {**suite.CLEANRL_PPO, "n_steps": "256"}
    pairs = suite.run_side_by_side(str(fake), out, sweeps, total_steps=512, learner_hp=learner)

    assert [(pair["method"], pair["seed"]) for pair in pairs] == [("gail", 1), ("airl", 1)]
    assert calls.read_text().splitlines() == ["gail 512 1", "airl 512 1"]
    for pair in pairs:
        assert pair["advrl"]["env_steps"] >= 512 and pair["library"]["env_steps"] == 512
        assert pair["library"]["wall_s"] >= pair["advrl"]["wall_s"] * 0.5  # it waited for ours
        assert pair["ratio"] == pytest.approx(pair["advrl"]["wall_s"] / pair["library"]["wall_s"])
    assert suite.run_side_by_side(str(fake), out, sweeps, total_steps=512) == []  # journaled
    summary = suite.write_results(out, sweeps, total_steps=512)["side_by_side"]
    assert set(summary) == {"gail 512", "airl 512"} and summary["gail 512"]["seeds"] == [1]
    assert summary["airl 512"]["median_ratio"] == pytest.approx(pairs[1]["ratio"])
