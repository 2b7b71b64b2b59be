"""Command-line entry point of ``scripts/train_gan.py`` (``advrl-train-gan``).

User mistakes print one line, ``advrl: error: <what is wrong and the fix>``, and exit with
status 2 (``advrl.cli.common.run_main``), as ``train_agent.py`` does.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from advrl.cli.common import run_main
from advrl.core.config import field_docs
from advrl.gan.dcgan import DCGANConfig, GANSettings, planned_epochs, train_gan
from advrl.gan.family import GAN_NAMES
from advrl.gan.losses import GAN_LOSSES

FAMILY_OPTIONS = (
    "aux_weight",
    "info_codes",
    "info_continuous",
    "ebgan_margin",
    "ebgan_pt_weight",
    "began_gamma",
    "began_lambda_k",
    "ls_weight",
    "ls_lipschitz",
)
"""The variants' own options, each a flag of its name (``--began-gamma``)."""


PROGRESS_KEYS = {
    "frechet_distance": "FD",
    "label_accuracy": "label accuracy",
    "code_class_accuracy": "code accuracy",
    "mi_lower_bound": "MI bound",
    "k": "k",
    "m_global": "M_global",
}
"""Epoch metrics a progress line shows when a variant has them."""


def train_gan_parser() -> argparse.ArgumentParser:
    # argparse %-formats help strings: a bare % in a field's docstring ("10% of") must be %%.
    docs = {name: doc.replace("%", "%%") for name, doc in field_docs(DCGANConfig).items()}
    defaults = DCGANConfig()
    parser = argparse.ArgumentParser(
        prog="train_gan.py",
        description="Train an image GAN (a DCGAN, or with --gan one of its family) on images "
        "(by default scikit-learn's 8x8 digits). Writes "
        "sample grids (generated-images-0001.png, ...), TensorBoard logs, checkpoints and "
        "summary.json (losses and, for labelled data, class coverage) to the run dir.",
        epilog="examples:\n"
        "  train_gan.py --epochs 30 --seed 1\n"
        "  train_gan.py --conditional --loss hinge\n"
        "  train_gan.py --gan began --began-gamma 0.7\n"
        "  train_gan.py --data my_images/ --channels 3 --image-size 32\n"
        "  train_gan.py --resume runs/<run>/checkpoints/final.pt --epochs 60",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="a folder of PNG/JPG images (subfolders name classes); default: the digits",
    )
    parser.add_argument("--channels", type=int, default=1, help="1 (grayscale) or 3 (RGB)")
    parser.add_argument(
        "--image-size", type=int, default=None, help="8 for the digits, 32 for a folder"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"{docs['epochs']} In all: a resumed run continues up to this count (default "
        f"{defaults.epochs}, or the resumed run's own).",
    )
    parser.add_argument(
        "--batch-size", type=int, default=defaults.batch_size, help=docs["batch_size"]
    )
    parser.add_argument(
        "--latent-dim", type=int, default=defaults.latent_dim, help=docs["latent_dim"]
    )
    parser.add_argument(
        "--base-channels", type=int, default=defaults.base_channels, help=docs["base_channels"]
    )
    parser.add_argument(
        "--loss", choices=list(GAN_LOSSES), default=defaults.loss, help="default non_saturating"
    )
    parser.add_argument("--lr", type=float, default=defaults.lr, help=docs["lr"])
    parser.add_argument("--d-steps", type=int, default=None, help=docs["d_steps"])
    parser.add_argument("--conditional", action="store_true", help=docs["conditional"])
    parser.add_argument("--gan", choices=GAN_NAMES, default=defaults.gan, help=docs["gan"])
    for name in FAMILY_OPTIONS:
        flag = "--" + name.replace("_", "-")
        kind = type(getattr(defaults, name))
        parser.add_argument(flag, type=kind, default=getattr(defaults, name), help=docs[name])
    parser.add_argument(
        "--sample-every",
        type=int,
        default=1,
        metavar="EPOCHS",
        help="save a grid of samples from fixed latents every EPOCHS epochs (and at the end)",
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=0, metavar="EPOCHS", help="0: only at the end"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument(
        "--run-dir", type=Path, default=None, help="default runs/gan__{data}__{seed}__{time}"
    )
    parser.add_argument(
        "--resume", type=Path, default=None, metavar="CHECKPOINT", help="continue a run"
    )
    return parser


def _progress(epochs: int) -> Callable[[int, dict[str, float]], None]:
    """A progress line per epoch: losses and, for labelled data, class coverage."""

    def progress(epoch: int, metrics: dict[str, float]) -> None:
        line = f"epoch {epoch}/{epochs}  d_loss {metrics['d_loss']:.3f}"
        line += f"  g_loss {metrics.get('g_loss', float('nan')):.3f}"
        if "class_coverage" in metrics:
            line += f"  coverage {metrics['class_coverage']}"
        for key, label in PROGRESS_KEYS.items():
            if key in metrics:
                line += f"  {label} {metrics[key]:.3f}"
        print(line, flush=True)

    return progress


def train_gan_main(argv: Sequence[str] | None = None) -> int:
    """``train_gan.py``: parse arguments, train, print where everything went."""
    args = train_gan_parser().parse_args(argv)

    def main() -> int:
        epochs = args.epochs
        if epochs is None:
            epochs = planned_epochs(args.resume) if args.resume else DCGANConfig.epochs
        config = DCGANConfig(
            epochs=epochs,
            batch_size=args.batch_size,
            latent_dim=args.latent_dim,
            base_channels=args.base_channels,
            loss=args.loss,
            lr=args.lr,
            d_steps=args.d_steps,
            conditional=args.conditional,
            gan=args.gan,
            **{name: getattr(args, name) for name in FAMILY_OPTIONS},
        )
        settings = GANSettings(
            config=config,
            data=args.data,
            channels=args.channels,
            image_size=args.image_size,
            seed=args.seed,
            device=args.device,
            run_dir=args.run_dir,
            sample_every=args.sample_every,
            checkpoint_every=args.checkpoint_every,
            resume=args.resume,
        )
        summary = train_gan(settings, on_epoch=_progress(config.epochs))
        if "class_coverage" in summary:
            initial = summary["initial"].get("class_coverage", "?")
            print(
                f"class coverage {summary['class_coverage']}/{summary['n_classes']} (untrained "
                f"{initial}), mean confidence {summary['mean_confidence']:.3f}, classifier "
                f"accuracy {summary['classifier_accuracy']:.3f}"
            )
            print(
                f"Fréchet distance {summary['frechet_distance']:.1f} in the feature classifier's "
                f"space (untrained {summary['initial'].get('frechet_distance', float('nan')):.1f})"
            )
        print(f"trained {summary['epochs']} epochs in {summary['wall_time_s']:.1f}s")
        print(f"samples:     {summary['samples'][-1] if summary['samples'] else '-'}")
        print(f"tensorboard: tensorboard --logdir {summary['run_dir']}")
        print(f"checkpoint:  {summary['checkpoint']}")
        print(f"summary:     {Path(summary['run_dir']) / 'summary.json'}")
        return 0

    return run_main(main)
