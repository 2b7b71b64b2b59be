"""``scripts/train_agent.py``: train an agent on a Gymnasium env, with TensorBoard logs,
checkpoints, a greedy evaluation and summary.json."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path

from advrl.agents import ALGORITHMS, get_algorithm
from advrl.agents.bc import BCConfig
from advrl.cli.common import add_assignments, run_main
from advrl.core.config import field_docs, split_assignments, type_name
from advrl.core.errors import UserError
from advrl.envs.make import make_env, registered_creator, resolve_env
from advrl.envs.seqgan import SeqGANConfig
from advrl.plugins.gail import AIRLConfig, GAILConfig
from advrl.plugins.seqgan_recipe import SeqGANRecipeConfig, brief
from advrl.presets import find_preset
from advrl.train import DEFAULT_TOTAL_STEPS, TrainSettings, train


def train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train_agent.py",
        description="Train an advrl agent on a Gymnasium env, with TensorBoard logs, "
        "checkpoints, a greedy evaluation and summary.json.",
        epilog="examples:\n"
        "  train_agent.py --env GridWorld-v0 --algo reinforce\n"
        "  train_agent.py --env GridWorld-v0 --algo reinforce --env-kwargs slip=0.2 "
        "--hp lr=1e-3\n"
        "  train_agent.py --env my_envs:Corridor --algo reinforce   # your own env\n"
        "  train_agent.py --resume runs/<run>/checkpoints/final.pt --total-steps 200000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--env",
        help="registered id (GridWorld-v0, CartPole-v1, ALE/Pong-v5), "
        "module.path:ClassOrFactory, or module.path:EnvId",
    )
    add_assignments(
        parser,
        "--env-kwargs",
        "arguments for the env constructor, typed by "
        "its signature (e.g. step_reward=-0.5 slip=0.2)",
    )
    parser.add_argument("--algo", help=f"one of: {', '.join(sorted(ALGORITHMS))}")
    parser.add_argument(
        "--total-steps",
        type=int,
        default=None,
        help=f"env steps in all (default {DEFAULT_TOTAL_STEPS:,})",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--num-envs", type=int, default=None, help="parallel envs, >= 1 (default: the preset's)"
    )
    parser.add_argument(
        "--reward",
        default="env",
        help="what the agent learns from: env (the env's reward), gail or airl (a "
        "discriminator trained on --demos), or model:PATH (a saved reward model, frozen)",
    )
    parser.add_argument(
        "--demos",
        type=Path,
        default=None,
        help="demonstrations for gail, airl and --pretrain bc",
    )
    add_assignments(
        parser,
        "--reward-kwargs",
        "GAIL and AIRL options: d_every, d_steps, batch_size, lr, hidden_sizes, loss, reward "
        "(AIRL also state_only, gamma); --list-hp --reward airl shows them",
    )
    parser.add_argument(
        "--pretrain",
        choices=["bc"],
        default=None,
        help="bc: fit the policy to --demos by maximum likelihood (behaviour cloning) "
        "before RL or GAIL; --total-steps 0 stops there",
    )
    add_assignments(
        parser,
        "--pretrain-kwargs",
        "behaviour cloning options: epochs, lr, batch_size, patience, val_fraction",
    )
    add_assignments(
        parser,
        "--recipe-kwargs",
        "SeqGAN-v0's recipe options: "
        + ", ".join(field.name for field in dataclasses.fields(SeqGANRecipeConfig)),
    )
    parser.add_argument(
        "--vec",
        choices=["auto", "sync", "async", "native"],
        default="auto",
        help="vector env kind: the env's own batched vector env where it has one (auto, "
        "native), one process (sync) or a process per env (async)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument(
        "--run-dir", type=Path, default=None, help="default runs/{env}__{algo}__{seed}__{time}"
    )
    add_assignments(
        parser,
        "--hp",
        "hyperparameter override, repeatable (see --list-hp); preset=NAME picks a named "
        "preset such as SeqGAN-v0's paper",
    )
    parser.add_argument(
        "--list-hp",
        action="store_true",
        help="print the algorithm's hyperparameters with their defaults and exit",
    )
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument(
        "--eval-epsilon",
        type=float,
        default=None,
        metavar="EPS",
        help="chance of a random action in evaluation episodes (default: the preset's; 0.05 "
        "for DQN on Atari as Nature DQN and CleanRL evaluate, 0 elsewhere: greedy)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="torch's intra-op threads (default: OMP_NUM_THREADS if set, else 1 for small "
        "networks and every core for a CNN or token LSTM)",
    )
    parser.add_argument(
        "--eval-every",
        type=int,
        default=None,
        metavar="STEPS",
        help="every STEPS env steps, --eval-episodes greedy episodes on a separate env: "
        "eval/mean_return in TensorBoard and the best weights in checkpoints/best.pt "
        "(default: evaluate at the end only)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        metavar="STEPS",
        help="checkpoint every STEPS env steps (default: only at the end)",
    )
    parser.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="CHECKPOINT",
        help="continue a run from its checkpoint; the curve continues",
    )
    parser.add_argument(
        "--capture-video",
        action="store_true",
        help="record the evaluation episodes to <run_dir>/videos",
    )
    return parser


def _print_fields(config: type, values: dict[str, object]) -> None:
    """One line per dataclass field: name=value, type and its docstring."""
    docs = field_docs(config)
    for f in dataclasses.fields(config):
        value = values.get(f.name, f.default)
        print(f"  {f.name}={value}  [{type_name(f.type)}]  {docs.get(f.name, '')}")


def _list_hp(
    algo: str, env: str | None, hp: dict[str, str], reward: str = "env", pretrain: str | None = None
) -> int:
    algo_cls = get_algorithm(algo)
    variant = hp.get("preset", "default")
    preset = find_preset(algo, env or "*", variant)
    values = dict(preset.hp)
    options = None
    if env:
        factory = resolve_env(env)
        creator = registered_creator(env.split(":")[-1])
        options = getattr(creator, "options", None)
        # What the env asks of the agent (SeqGAN-v0's discount) is applied over the preset.
        if hasattr(creator, "recommended_hp"):
            probe = make_env(dataclasses.replace(factory, kwargs=preset.env_kwargs), training=False)
            values |= getattr(probe.unwrapped, "recommended_hp", {})
            probe.close()
    where = f" ({variant} preset for {env})" if env else ""
    print(f"hyperparameters of {algo}{where}, set with --hp KEY=VALUE:")
    _print_fields(algo_cls.Config, values)
    if dataclasses.is_dataclass(options):
        if not isinstance(options, type):
            raise TypeError(f"{env}'s options must be a dataclass class, got an instance")
        print(f"options of {env}, set with --env-kwargs KEY=VALUE:")
        _print_fields(options, preset.env_kwargs)
    if getattr(creator if env else None, "options", None) is SeqGANConfig:
        print(f"options of {env}'s recipe, set with --recipe-kwargs KEY=VALUE:")
        _print_fields(SeqGANRecipeConfig, preset.recipe_kwargs)
    if reward in ("gail", "airl"):
        print(f"options of --reward {reward}, set with --reward-kwargs KEY=VALUE:")
        _print_fields(AIRLConfig if reward == "airl" else GAILConfig, {})
    if pretrain == "bc":
        print("options of --pretrain bc, set with --pretrain-kwargs KEY=VALUE:")
        _print_fields(BCConfig, {})
    return 0


def train_main(argv: Sequence[str] | None = None) -> int:
    """``train_agent.py``: parse arguments, train, print where everything went."""
    args = train_parser().parse_args(argv)

    def main() -> int:
        if args.list_hp:
            if not args.algo:
                raise UserError("--list-hp needs --algo")
            hp = split_assignments(args.hp, "--hp")
            return _list_hp(args.algo, args.env, hp, args.reward, args.pretrain)
        settings = TrainSettings(
            env=args.env,
            algo=args.algo,
            total_steps=args.total_steps,
            seed=args.seed,
            num_envs=args.num_envs,
            device=args.device,
            run_dir=args.run_dir,
            env_kwargs=split_assignments(args.env_kwargs, "--env-kwargs"),
            hp=split_assignments(args.hp, "--hp"),
            eval_episodes=args.eval_episodes,
            eval_every=args.eval_every,
            eval_epsilon=args.eval_epsilon,
            threads=args.threads,
            checkpoint_every=args.checkpoint_every,
            resume=args.resume,
            capture_video=args.capture_video,
            vec=args.vec,
            reward=args.reward,
            demos=args.demos,
            reward_kwargs=split_assignments(args.reward_kwargs, "--reward-kwargs"),
            pretrain=args.pretrain,
            pretrain_kwargs=split_assignments(args.pretrain_kwargs, "--pretrain-kwargs"),
            recipe_kwargs=split_assignments(args.recipe_kwargs, "--recipe-kwargs"),
        )
        summary = train(settings)
        if summary["eval_episodes"]:
            print(
                f"eval return {summary['eval_return_mean']:.3f} ± "
                f"{summary['eval_return_std']:.3f} over {summary['eval_episodes']} episodes"
            )
        if "nll_test" in summary:  # a generator: its generation metrics, not episodes
            print(f"generator: {brief(summary)}")
        print(
            f"trained {summary['total_steps']:,} steps in {summary['wall_time_s']:.1f}s "
            f"({summary['sps']:,.0f} SPS)"
        )
        run_dir = summary["run_dir"]
        print(f"tensorboard: tensorboard --logdir {run_dir}")
        print(f"checkpoint:  {summary['checkpoint']}")
        if summary.get("best_checkpoint"):
            print(
                f"best:        {summary['best_checkpoint']} (eval return "
                f"{summary['best_eval_return_mean']:.3f} at step {summary['best_step']:,})"
            )
        if summary["videos"]:
            print(f"videos:      {summary['videos']}")
        if summary.get("reward_model"):
            print(f"reward model: {summary['reward_model']}")
        print(f"summary:     {Path(run_dir) / 'summary.json'}")
        return 0

    return run_main(main)
