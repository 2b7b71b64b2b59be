"""Every command and Python example in README.md and the documentation site (docs/) runs as
written, on a tiny budget.

A new user copies commands out of the README and the docs; this test keeps them working. It
reads the pages themselves, so a command that is added, changed or removed there is tested
without editing this file. A command, Python block or transcript that appears on several
pages runs once, where it appears first (README.md, then docs/ in path order).

Rules (each case's id is ``<page>:L<line> <command>``, so a failure names the place):

- ```` ```bash ```` blocks: lines continued with a trailing ``\\`` are joined and ``# ...``
  comments stripped. Lines that start with ``source``, ``tensorboard``, ``make``, ``pip`` or
  run pytest are not runs and are left out; every other line must run a ``python
  scripts/<script>.py`` that exists (``test_readme_commands_are_known``).
- A command whose trailing comment contains the word ``long`` (``# long: 10M steps``) is
  skipped: it cannot be shrunk to a smoke test. So is one with ``--device cuda`` when CUDA
  is not available, and one that reads ``../shared/...`` when that file is not there.
- Each command runs in a fresh folder (``tmp_path``) with ``scripts/`` linked into it, so
  ``runs/``, ``demos.npz`` and ``my_envs.py`` land there. Only the budget is changed:
  ``--total-steps`` (256, Atari 512), ``--eval-episodes 1``,
  ``--episodes`` and ``--epochs`` (1; 2 for a resume), and SeqGAN-v0 gets a small oracle
  and recipe (``SEQGAN_ENV``, ``SEQGAN_RECIPE``). What a command reads is made first by a
  short run: a ``runs/<name>/...`` placeholder or a missing ``runs/...`` checkpoint becomes
  a copy of such a run, ``--demos`` a recording from ``record_demos.py``, ``--data`` a
  folder of small PNGs, and ``--env my_envs:...`` the README's Python block just before.
- ```` ```python ```` blocks run in a subprocess (cwd a fresh folder, the repo on
  PYTHONPATH), unless their first line is ``# fragment`` (an illustration: the Double DQN
  lines, a ``return`` outside a function). A block that does not compile and is not so
  marked fails. A
  prelude shrinks them the same way: ``advrl.train.train`` gets at most 256 steps and one
  evaluation episode, ``gym.make("SeqGAN-v0")`` the small oracle, and SB3's ``learn()`` one
  rollout.
- ``$ command`` lines of plain ``` blocks (the error examples) run in the repo and print
  the output shown under them (``...`` matches anything), with exit status 2 for an
  ``advrl: error:`` and no traceback.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import ROOT

pytestmark = pytest.mark.slow

README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").rglob("*.md"))]
"""The pages whose blocks run: the README, then every page of the documentation site."""
SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))
SHARED = ROOT.parent / "shared"
TIMEOUT = 300
"""Seconds per command; the slowest shrunk command takes about 20 s on 2 busy cores."""

NOT_RUNS = ("source", "tensorboard", "make", "pip")
"""First words of bash lines that set up or view, rather than run, anything of ours."""
CHECKS = ("pytest", "mypy")
"""Checks the suite runs itself (tests/test_types.py runs mypy), by any path to them."""
STEPS = 256
ATARI_STEPS = 512
SEQGAN_ENV = {
    "vocab_size": "50",
    "seq_len": "6",
    "n_train": "200",
    "n_test": "100",
    "n_rollouts": "2",
    "d_negatives": "64",
    "d_every": "32",
}
"""A SeqGAN-v0 small enough for a smoke run; vocab_size is left to the data when a command
gives ``oracle_params`` or ``dataset`` (seq_len 6 truncates their sequences)."""
SEQGAN_RECIPE = {"mle_epochs": "1", "d_pretrain_rounds": "1", "eval_samples": "100"}
"""The SeqGAN recipe's options: ``--recipe-kwargs`` where train_agent.py has it, else
``--env-kwargs`` (where they lived before it)."""


@dataclass(frozen=True)
class Command:
    """One shell command of a ```bash block, continuation lines joined."""

    line: int
    """README line of the command's first line (1-based)."""
    text: str
    """The command without its comment."""
    comment: str
    """Its trailing ``# ...`` comment, without the ``#``; empty if none."""
    python_before: str | None
    """Source of the ```python block right before this command's block, if it is the
    previous block (the "your own environment" example writes it to ``my_envs.py``)."""
    page: str = "README.md"
    """The page it is on, relative to the repository."""

    @property
    def argv(self) -> list[str]:
        """The words of the command; a placeholder keeps its ``<>`` but loses its spaces
        (``runs/<gail run>/x`` is one word ``runs/<gail-run>/x``)."""
        words = re.sub(r"<([^<>]+)>", lambda m: "<" + re.sub(r"\W+", "-", m[1]) + ">", self.text)
        return shlex.split(words)

    @property
    def id(self) -> str:
        return f"{self.page}:L{self.line} {self.text.replace('python scripts/', '')[:60]}"


@dataclass(frozen=True)
class PythonBlock:
    """One ```python block."""

    line: int
    """Page line of its first line of code."""
    source: str
    page: str = "README.md"

    @property
    def id(self) -> str:
        first = next((s for s in self.source.splitlines() if s.strip()), "")
        return f"{self.page}:L{self.line} {first[:60]}"


def split_comment(line: str) -> tuple[str, str]:
    """``cmd  # note`` -> (``cmd``, ``note``); a ``#`` inside quotes or a word is kept."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1 :].strip()
    return line.rstrip(), ""


def fenced_blocks(text: str) -> Iterator[tuple[str, int, list[str]]]:
    """(language, line of the first content line, lines) of each fenced block."""
    language, start, lines = None, 0, []
    for number, line in enumerate(text.splitlines(), start=1):
        if language is None:
            match = re.match(r"^```(\w*)\s*$", line)
            if match:
                language, start, lines = match.group(1), number + 1, []
        elif line.startswith("```"):
            yield language, start, lines
            language = None
        else:
            lines.append(line)


def parse_readme(text: str, page: str = "README.md") -> tuple[list[Command], list[PythonBlock]]:
    """The bash commands and Python blocks of a page, in order."""
    commands, blocks = [], []
    previous: tuple[str, str] | None = None
    for language, start, lines in fenced_blocks(text):
        if language == "python":
            blocks.append(PythonBlock(start, "\n".join(lines) + "\n", page))
        elif language == "bash":
            before = previous[1] if previous and previous[0] == "python" else None
            pending, first = "", 0
            for offset, raw in enumerate(lines):
                if not pending:
                    first = start + offset
                if raw.rstrip().endswith("\\"):
                    pending += raw.rstrip()[:-1].rstrip() + " "
                    continue
                code, comment = split_comment(pending + raw.strip())
                pending = ""
                if code.strip():
                    text = " ".join(code.split())
                    commands.append(Command(first, text, comment, before, page))
        previous = (language, "\n".join(lines) + "\n")
    return commands, blocks


@dataclass(frozen=True)
class Transcript:
    """A ``$ command`` of a plain ``` block and the output the README shows after it."""

    line: int
    command: str
    expected: list[str]
    page: str = "README.md"

    @property
    def id(self) -> str:
        return f"{self.page}:L{self.line} {self.command.replace('python scripts/', '')[:60]}"


def transcripts(text: str, page: str = "README.md") -> list[Transcript]:
    """The ``$ ...`` lines of plain ``` blocks (the error examples), with their output."""
    found: list[Transcript] = []
    for language, start, lines in fenced_blocks(text):
        if language:
            continue
        for offset, line in enumerate(lines):
            if line.startswith("$ "):
                found.append(Transcript(start + offset, line[2:].strip(), [], page))
            elif found and found[-1].line >= start and line.strip():
                found[-1].expected.append(line.strip())
    return found


def is_run(command: Command) -> bool:
    """False for lines that set up or view things (``make``, ``source``, pytest, ...)."""
    words = [w for w in command.argv if not re.match(r"^\w+=", w)]
    return not (words[0] in NOT_RUNS or Path(words[0]).name in CHECKS)


def first_of_each(items: list, key: Callable[[Any], str]) -> list:
    """``items`` without repeats (by ``key``), each kept where it first appears."""
    seen: set[str] = set()
    return [item for item in items if not (key(item) in seen or seen.add(key(item)))]


def collect() -> tuple[list[Command], list[PythonBlock], list[Transcript]]:
    """Every page's commands, Python blocks and transcripts, each once."""
    commands, blocks, shown = [], [], []
    for path in DOCUMENTS:
        page, text = path.relative_to(ROOT).as_posix(), path.read_text()
        page_commands, page_blocks = parse_readme(text, page)
        commands += page_commands
        blocks += page_blocks
        shown += transcripts(text, page)
    return (
        first_of_each(commands, lambda c: c.text),
        first_of_each(blocks, lambda b: b.source),
        first_of_each(shown, lambda t: t.command),
    )


COMMANDS, PYTHON_BLOCKS, TRANSCRIPTS = collect()
RUNS = [c for c in COMMANDS if is_run(c)]


# ---------------------------------------------------------------------------------------
# Running things


def child_env(*paths: Path) -> dict[str, str]:
    """The environment of a command: the repo (and ``paths``) importable, one torch thread.

    One thread because the networks here are tiny and the 2 cores are shared: two OpenMP
    threads on busy cores made small runs several times slower.
    """
    pythonpath = [str(p) for p in (*paths, ROOT)] + [os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(pythonpath), "OMP_NUM_THREADS": "1"}


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run ``argv`` (``python`` is this interpreter), assert exit 0, return its output."""
    argv = [sys.executable if a == "python" else a for a in argv]
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=env or child_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, (
        f"exit {result.returncode}: {shlex.join(argv)}\n(cwd {cwd})\n{output[-4000:]}"
    )
    return output


def script(name: str, *args: str, cwd: Path) -> str:
    """Run ``scripts/<name>`` with ``args`` in ``cwd``."""
    return run([sys.executable, str(ROOT / "scripts" / name), *args], cwd)


@cache
def help_text(name: str) -> str:
    """``scripts/<name> --help``, run once per session."""
    return script(name, "--help", cwd=ROOT)


def has_recipe_kwargs() -> bool:
    """Whether train_agent.py takes ``--recipe-kwargs`` (being added in parallel)."""
    return "--recipe-kwargs" in help_text("train_agent.py")


def option_index(argv: list[str], flag: str) -> int | None:
    return next((i for i, a in enumerate(argv) if a == flag), None)


def set_option(argv: list[str], flag: str, value: str) -> list[str]:
    """``argv`` with ``flag`` set to ``value``: replaced where given, else appended."""
    argv = [a for a in argv if not a.startswith(flag + "=")]
    i = option_index(argv, flag)
    if i is None:
        return [*argv, flag, value]
    return [*argv[: i + 1], value, *argv[i + 2 :]]


def option(argv: list[str], flag: str) -> str | None:
    i = option_index(argv, flag)
    return argv[i + 1] if i is not None and i + 1 < len(argv) else None


def kwargs_of(argv: list[str], flag: str) -> dict[str, str]:
    """The ``key=value`` items after every ``flag`` (nargs="+" options)."""
    values, taking = {}, False
    for a in argv:
        if a.startswith("--"):
            taking = a == flag
        elif taking and "=" in a:
            key, _, value = a.partition("=")
            values[key] = value
    return values


def seqgan_options(argv: list[str]) -> list[str]:
    """The options that shrink a SeqGAN-v0 run (a later ``--env-kwargs`` key wins)."""
    env_kwargs = kwargs_of(argv, "--env-kwargs")
    env = dict(SEQGAN_ENV)
    if "oracle_params" in env_kwargs or "dataset" in env_kwargs:
        del env["vocab_size"]  # the data's own
    pairs = [f"{k}={v}" for k, v in env.items()]
    recipe = [f"{k}={v}" for k, v in SEQGAN_RECIPE.items()]
    if has_recipe_kwargs():
        return ["--env-kwargs", *pairs, "--recipe-kwargs", *recipe]
    return ["--env-kwargs", *pairs, *recipe]


def is_atari(env: str | None) -> bool:
    return bool(env) and (env.startswith("ALE/") or "NoFrameskip" in env)


# ---------------------------------------------------------------------------------------
# What commands read, made by short runs (once per module, and only when asked for)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    return Artifacts(tmp_path_factory.mktemp("readme-artifacts"))


class Artifacts:
    """Short runs whose outputs README commands read; each is made on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: dict[str, Path] = {}

    def get(self, name: str) -> Path:
        if name not in self.made:
            self.made[name] = getattr(self, f"_make_{name}")()
        return self.made[name]

    def _make_agent(self) -> Path:
        """A CartPole PPO run (checkpoints/final.pt, and best.pt from --eval-every): the
        README's expert, shortened."""
        out = self.root / "agent"
        argv = ["--env", "CartPole-v1", "--algo", "ppo", "--total-steps", str(STEPS)]
        evaluation = ["--eval-episodes", "1", "--eval-every", str(STEPS // 2)]
        script("train_agent.py", *argv, *evaluation, "--run-dir", str(out), cwd=self.root)
        return out

    def _make_demos(self) -> Path:
        out = self.root / "demos.npz"
        checkpoint = self.get("agent") / "checkpoints" / "final.pt"
        script(
            "record_demos.py", str(checkpoint), "--episodes", "2", "--out", str(out), cwd=self.root
        )
        return out

    def _make_hopper_agent(self) -> Path:
        """A short Hopper-v5 PPO run: the MuJoCo examples' expert."""
        out = self.root / "hopper-agent"
        argv = ["--env", "Hopper-v5", "--algo", "ppo", "--total-steps", "512"]
        script(
            "train_agent.py", *argv, "--eval-episodes", "0", "--run-dir", str(out), cwd=self.root
        )
        return out

    def _make_hopper_demos(self) -> Path:
        out = self.root / "hopper-demos.npz"
        checkpoint = self.get("hopper_agent") / "checkpoints" / "final.pt"
        script(
            "record_demos.py", str(checkpoint), "--episodes", "2", "--out", str(out), cwd=self.root
        )
        return out

    def _make_airl(self) -> Path:
        """An AIRL run on Hopper-v5 (reward_model.pt holding its g)."""
        out = self.root / "airl"
        argv = ["--env", "Hopper-v5", "--algo", "ppo", "--total-steps", "512"]
        argv += ["--reward", "airl", "--demos", str(self.get("hopper_demos"))]
        script(
            "train_agent.py", *argv, "--eval-episodes", "0", "--run-dir", str(out), cwd=self.root
        )
        return out

    def _make_gail(self) -> Path:
        """A GAIL run (reward_model.pt)."""
        out = self.root / "gail"
        argv = ["--env", "CartPole-v1", "--algo", "ppo", "--total-steps", str(STEPS)]
        argv += ["--reward", "gail", "--demos", str(self.get("demos")), "--eval-episodes", "1"]
        script("train_agent.py", *argv, "--run-dir", str(out), cwd=self.root)
        return out

    def _make_seqgan(self) -> Path:
        """A small SeqGAN-v0 run (discriminator.pt), with the same shrunk options."""
        out = self.root / "seqgan"
        argv = ["--env", "SeqGAN-v0", "--algo", "ppo", "--total-steps", str(STEPS)]
        argv += ["--eval-episodes", "1", "--run-dir", str(out)]
        script("train_agent.py", *argv, *seqgan_options(argv), cwd=self.root)
        return out

    def _make_gan(self) -> Path:
        """A one-epoch DCGAN run on the digits (checkpoints/final.pt)."""
        out = self.root / "gan"
        script("train_gan.py", "--epochs", "1", "--run-dir", str(out), cwd=self.root)
        return out

    def _make_images(self) -> Path:
        """A folder of 64 small random RGB PNGs, for ``--data``."""
        import numpy as np
        from PIL import Image

        out = self.root / "images"
        out.mkdir()
        rng = np.random.default_rng(0)
        for i in range(64):
            pixels = rng.integers(0, 256, size=(12, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(out / f"image_{i:02d}.png")
        return out


def placeholder_run(path: str, script_name: str) -> str:
    """The artifact a ``runs/<...>/FILE`` path stands for."""
    if path.endswith("reward_model.pt"):
        return "airl" if "airl" in path else "gail"
    if path.endswith("discriminator.pt"):
        return "seqgan"
    return "gan" if script_name == "train_gan.py" else "agent"


def provide_run(path: str, script_name: str, workspace: Path, artifacts: Artifacts) -> str:
    """Put the run a ``runs/...`` path needs into ``workspace``; return the path to use.

    ``runs/<gail run>/reward_model.pt`` becomes ``runs/gail-run/reward_model.pt``, a copy
    of the short GAIL run; an existing-looking path such as ``runs/expert/...`` gets the
    copy at its own place.
    """
    concrete = re.sub(r"<([^>]+)>", lambda m: re.sub(r"\W+", "-", m.group(1)), path)
    run_dir = workspace / Path(concrete).parts[0] / Path(concrete).parts[1]
    if not run_dir.exists():
        shutil.copytree(artifacts.get(placeholder_run(path, script_name)), run_dir)
    return concrete


def prepare(command: Command, workspace: Path, artifacts: Artifacts) -> list[str]:
    """The command's argv, shrunk, with everything it reads put into ``workspace``."""
    argv = command.argv
    python = next(i for i, a in enumerate(argv) if a == "python")
    env_vars, argv = argv[:python], argv[python:]
    script_name = Path(argv[1]).name
    (workspace / "scripts").symlink_to(ROOT / "scripts", target_is_directory=True)

    for i, arg in enumerate(argv):
        if "../shared/" in arg:
            target = SHARED / arg.split("../shared/", 1)[1]
            if not target.exists():
                pytest.skip(f"needs {target}, which is not on this machine")
            argv[i] = arg.replace("../shared/", f"{SHARED}/")
        prefix, sep, path = arg.rpartition(":") if arg.startswith("model:") else ("", "", arg)
        if path.startswith("runs/") and ("<" in path or not (workspace / path).exists()):
            previous = argv[i - 1] if i else ""
            if previous != "--run-dir":
                argv[i] = prefix + sep + provide_run(path, script_name, workspace, artifacts)

    demos = option(argv, "--demos")
    if demos and not (workspace / demos).exists():
        mujoco = (option(argv, "--env") or "").startswith("Hopper")
        shutil.copy(artifacts.get("hopper_demos" if mujoco else "demos"), workspace / demos)
    data = option(argv, "--data")
    if data and not (workspace / data).exists():
        shutil.copytree(artifacts.get("images"), workspace / data)
    env = option(argv, "--env") or ""
    module = env.split(":")[0] if ":" in env else None
    if module and not module.startswith("advrl") and not (ROOT / f"{module}.py").exists():
        assert command.python_before, f"{env}: no Python block before this command to write"
        (workspace / f"{module}.py").write_text(command.python_before)

    if script_name == "train_agent.py" and "--list-hp" not in argv:
        if option(argv, "--device") == "cuda" and not torch.cuda.is_available():
            pytest.skip("--device cuda, and CUDA is not available")
        atari = is_atari(option(argv, "--env"))
        argv = set_option(argv, "--total-steps", str(ATARI_STEPS if atari else STEPS))
        # Atari too: evaluation presses FIRE after a lost life, so an untrained agent's game
        # ends (it used to run to the 27,000-step cap: 444 s for one episode, measured).
        argv = set_option(argv, "--eval-episodes", "1")
        if option(argv, "--env") == "SeqGAN-v0":
            argv += seqgan_options(argv)
    elif script_name in ("evaluate.py", "record_demos.py"):
        argv = set_option(argv, "--episodes", "1")
    elif script_name == "benchmark.py" and option(argv, "--suite") == "estimators":
        argv = set_option(argv, "--repeats", "4")  # the lab's; 100 by default, a minute
    elif script_name == "train_gan.py":
        argv = set_option(argv, "--epochs", "2" if "--resume" in argv else "1")
    return [*env_vars, *argv]


# ---------------------------------------------------------------------------------------
# The tests


def test_readme_has_examples() -> None:
    """The parser found what the README holds (a broken parser would test nothing)."""
    assert len(RUNS) >= 20, [c.text for c in RUNS]
    assert len(PYTHON_BLOCKS) >= 4
    assert any("--capture-video" in c.text for c in RUNS)
    assert TRANSCRIPTS and all(t.expected for t in TRANSCRIPTS)


def test_readme_commands_are_known() -> None:
    """Every bash line is a setup line or runs one of ``scripts/*.py``, which exists."""
    names = {p.name for p in SCRIPTS}
    for command in RUNS:
        words = [w for w in command.argv if not re.match(r"^\w+=", w)]
        assert words[0] == "python" and words[1].startswith("scripts/"), (
            f"{command.page} line {command.line}: {command.text!r} is neither a setup line "
            f"({', '.join(NOT_RUNS + CHECKS)}) nor `python scripts/...`"
        )
        assert Path(words[1]).name in names, f"{command.page} line {command.line}: no {words[1]}"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_help(path: Path) -> None:
    """``--help`` of every script exits 0 and prints its usage."""
    assert "usage:" in help_text(path.name)


@pytest.mark.parametrize("command", RUNS, ids=lambda c: c.id)
def test_readme_command(command: Command, tmp_path: Path, artifacts: Artifacts) -> None:
    """The command runs end to end (shrunk) and writes what it says it writes."""
    if re.search(r"\blong\b", command.comment, re.IGNORECASE):
        pytest.skip(f"marked long in the README: # {command.comment}")
    argv = prepare(command, tmp_path, artifacts)
    before = set(tmp_path.glob("runs/*"))
    output = run(argv, tmp_path, child_env(tmp_path))
    script_name = Path(argv[argv.index("python") + 1]).name
    if "--list-hp" in argv:
        assert "hyperparameters of" in output, output
    elif script_name in ("train_agent.py", "train_gan.py"):
        run_dir = option(argv, "--run-dir")
        resumed = option(argv, "--resume")
        if run_dir:
            run_dirs = [tmp_path / run_dir]
        elif resumed:
            run_dirs = [tmp_path / Path(resumed).parent.parent]
        else:
            run_dirs = sorted(set(tmp_path.glob("runs/*")) - before)
        assert len(run_dirs) == 1, f"expected one new run dir, got {run_dirs}\n{output}"
        assert (run_dirs[0] / "summary.json").is_file(), output
        assert (run_dirs[0] / "checkpoints" / "final.pt").is_file(), output
        if "--capture-video" in argv and option(argv, "--eval-episodes") != "0":
            assert list((run_dirs[0] / "videos").glob("*.mp4")), output
    elif script_name == "record_demos.py":
        assert (tmp_path / (option(argv, "--out") or "demos.npz")).is_file(), output
    elif script_name == "evaluate.py" and "--video" in argv:
        checkpoint = next(a for a in argv if a.endswith(".pt"))
        videos = (tmp_path / checkpoint).parent.parent / "videos" / "evaluate"
        assert list(videos.glob("*.mp4")), output


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=lambda t: t.id)
def test_readme_transcript(transcript: Transcript) -> None:
    """A ``$ command`` shown with its output exits as the README says (2 for a mistake,
    0 otherwise) and prints that output; ``...`` in the README stands for any text."""
    argv = [sys.executable if a == "python" else a for a in shlex.split(transcript.command)]
    result = subprocess.run(
        argv, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=TIMEOUT
    )
    output = result.stdout + result.stderr
    expected_status = 2 if any(e.startswith("advrl: error:") for e in transcript.expected) else 0
    assert result.returncode == expected_status, output[-4000:]
    assert "Traceback" not in output, output[-4000:]
    for expected in transcript.expected:
        fragments = [f.strip() for f in expected.split("...") if f.strip()]
        pattern = ".*?".join(re.escape(f) for f in fragments)
        assert re.search(pattern, output), (
            f"{transcript.page} line {transcript.line} shows {expected!r}:\n{output}"
        )


PRELUDE = '''\
"""Shrinks what a README block runs; then runs the block, its lines numbered as in README."""
import dataclasses
import runpy
import sys

STEPS = {steps}
SEQGAN_ENV = {seqgan_env}
SEQGAN_RECIPE = {seqgan_recipe}
source = open(sys.argv[1]).read()

if "advrl.train" in source:
    import advrl.train

    original_train = advrl.train.train
    fields = {{f.name for f in dataclasses.fields(advrl.train.TrainSettings)}}

    def train(settings, *args, **kwargs):
        changes = {{
            "total_steps": min(settings.total_steps or STEPS, STEPS),
            "eval_episodes": min(settings.eval_episodes, 1),
        }}
        if settings.env == "SeqGAN-v0":
            changes["env_kwargs"] = {{**settings.env_kwargs, **SEQGAN_ENV}}
            if "recipe_kwargs" in fields:
                changes["recipe_kwargs"] = {{**settings.recipe_kwargs, **SEQGAN_RECIPE}}
            else:
                changes["env_kwargs"].update(SEQGAN_RECIPE)
        return original_train(dataclasses.replace(settings, **changes), *args, **kwargs)

    advrl.train.train = train

if "SeqGAN-v0" in source and "gym.make(" in source:
    import gymnasium

    original_make = gymnasium.make

    def make(env_id, *args, **kwargs):
        if env_id == "SeqGAN-v0":
            kwargs = {{**kwargs, **SEQGAN_ENV}}
        return original_make(env_id, *args, **kwargs)

    gymnasium.make = make

if "stable_baselines3" in source:
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

    original_learn = OnPolicyAlgorithm.learn

    def learn(self, total_timesteps, *args, **kwargs):
        return original_learn(self, 1, *args, **kwargs)  # one rollout

    OnPolicyAlgorithm.learn = learn

runpy.run_path(sys.argv[1], run_name="__main__")
'''


def is_illustration(block: PythonBlock) -> str | None:
    """Why a block is not meant to run (its first line is ``# fragment``), or None."""
    first = next((s.strip() for s in block.source.splitlines() if s.strip()), "")
    return "marked # fragment" if first.lower().startswith("# fragment") else None


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda b: b.id)
def test_every_python_block_compiles_or_is_marked_a_fragment(block: PythonBlock) -> None:
    if is_illustration(block):
        return
    try:
        compile(block.source, block.page, "exec")
    except SyntaxError as error:
        pytest.fail(
            f"{block.page} line {block.line + (error.lineno or 1) - 1}: the block does not "
            f"compile ({error.msg}); fix it, or start it with `# fragment` if it only "
            "illustrates"
        )


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda b: b.id)
def test_readme_python_block(block: PythonBlock, tmp_path: Path, artifacts: Artifacts) -> None:
    """The block runs in a fresh interpreter; its traceback lines are README lines."""
    reason = is_illustration(block)
    if reason:
        pytest.skip(reason)
    path = tmp_path / f"{Path(block.page).stem}_line_{block.line}.py"
    path.write_text("\n" * (block.line - 1) + block.source)
    (tmp_path / "prelude.py").write_text(
        PRELUDE.format(
            steps=STEPS,
            seqgan_env={k: int(v) for k, v in SEQGAN_ENV.items()},
            seqgan_recipe={k: int(v) for k, v in SEQGAN_RECIPE.items()},
        )
    )
    for name in re.findall(r"[\"'](\w+\.npz)[\"']", block.source):
        shutil.copy(artifacts.get("demos"), tmp_path / name)
    run(["python", "prelude.py", path.name], tmp_path, child_env(tmp_path))
