#!/usr/bin/env bash
# DQN and PPO on Breakout with --device cuda and ale-py's C++ vector env, for a machine with a
# GPU: at most 10 minutes in all (each run is stopped by Ctrl-C at its time limit, which
# checkpoints it and keeps its TensorBoard curve). Writes both run dirs, curves.json,
# curves.png and sps.txt to one folder.
#
#   bash benchmarks/gpu_atari.sh [OUT]        # default runs/gpu_atari
#
# Not run by the tests, and not yet measured: no GPU has been lent to this project.
set -uo pipefail
OUT=${1:-runs/gpu_atari}
PYTHON=${PYTHON:-.venv/bin/python}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-280}
mkdir -p "$OUT"

train() {  # name, then train_agent.py arguments
    local name=$1
    shift
    # SIGINT at the limit: the run stops after its current update and saves a checkpoint.
    timeout -s INT -k 30 "$SECONDS_PER_RUN" "$PYTHON" scripts/train_agent.py --env ALE/Breakout-v5 \
        --device cuda --vec auto --seed 1 --run-dir "$OUT/$name" "$@" || true
}

# PPO with CleanRL's Atari settings (the preset), 16 C++ envs.
train ppo --algo ppo --num-envs 16 --total-steps 2000000 --eval-every 250000 --eval-episodes 3
# DQN, the Nature preset, with replay warm-up shortened so learning starts within the budget.
train dqn --algo dqn --total-steps 500000 --hp learning_starts=20000 --eval-every 100000 \
    --eval-episodes 3

"$PYTHON" advrl/benchmarks/atari_curves.py "$OUT" "$OUT/ppo" "$OUT/dqn"
"$PYTHON" - "$OUT" <<'PY' | tee "$OUT/sps.txt"
import json, sys
from pathlib import Path
curves = json.loads((Path(sys.argv[1]) / "curves.json").read_text())
for name, run in curves.items():
    sps = [v for _, v in run.get("sps", [])]
    last = run.get("episodic_return", [[0, float("nan")]])[-1]
    median = sorted(sps)[len(sps) // 2] if sps else float("nan")
    print(f"{name}: median SPS {median:,.0f}, last step {last[0]:,.0f}, last return {last[1]:.1f}")
PY
