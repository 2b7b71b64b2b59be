"""Learning curves of finished or stopped runs, from their TensorBoard logs, as JSON and PNG.

``python -m advrl.benchmarks.atari_curves OUT RUN_DIR [RUN_DIR ...]`` writes ``OUT/curves.json``
({run name: {"episodic_return": [[step, return], ...], "eval_mean_return": [...],
"sps": [[step, sps], ...]}}) and ``OUT/curves.png`` (raw game scores against env steps, a
moving mean of 20 episodes per run, greedy evaluations as dots).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from advrl.core.curves import plot_learning_curves

TAGS = {
    "episodic_return": "charts/episodic_return",
    "eval_mean_return": "eval/mean_return",
    "sps": "charts/SPS",
}


def read_curves(run_dir: Path) -> dict[str, list[list[float]]]:
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    available = set(events.Tags()["scalars"])
    return {
        key: [[float(e.step), float(e.value)] for e in events.Scalars(tag)]
        for key, tag in TAGS.items()
        if tag in available
    }


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: atari_curves.py OUT RUN_DIR [RUN_DIR ...]", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    curves = {Path(run).name: read_curves(Path(run)) for run in argv[1:]}
    (out / "curves.json").write_text(json.dumps(curves))
    plot_learning_curves(curves, out / "curves.png")
    print(f"curves: {out / 'curves.json'} {out / 'curves.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
