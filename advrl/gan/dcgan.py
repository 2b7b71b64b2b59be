"""Train an image GAN: ``train_gan`` runs a DCGAN experiment and writes TensorBoard logs,
sample grids, checkpoints and summary.json to its run dir, through the same run-dir,
checkpoint, ``--resume``, summary and Ctrl-C machinery as the RL trainer
(``advrl.core.runs``).

The parts live in ``advrl.gan``: the networks in ``image_networks``, the data and grids in
``images``, the mode-collapse metric in ``metrics``; the discriminator side is a
``RewardModel``, so any loss of ``GAN_LOSSES`` works. Both networks train with Adam, lr 2e-4,
betas (0.5, 0.999) (Radford et al. 2016); WGAN-GP follows Gulrajani et al. 2017: betas
(0.0, 0.9) and five critic steps per generator step (WGAN too). A conditional run draws its
fakes with the labels of the real batch they are compared with, which keeps WGAN-GP's
interpolated label planes one-hot.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from advrl.core.checkpoint import set_rng_state
from advrl.core.device import keep_freed_memory, resolve_device
from advrl.core.errors import UserError, did_you_mean
from advrl.core.logger import hparams_table
from advrl.core.runs import (
    CtrlC,
    RunFiles,
    exit_interrupted,
    load_resume,
    new_run_dir,
    resumed_run_dir,
)
from advrl.core.seeding import seed_everything
from advrl.core.stats import mean_metrics
from advrl.gan.energy import ENERGY_KINDS
from advrl.gan.family import CONDITIONAL, GAN_NAMES, ImageGAN, build_image_gan
from advrl.gan.image_networks import generate
from advrl.gan.images import GRID_COLUMNS, image_grid, load_data, save_grid
from advrl.gan.losses import get_loss
from advrl.gan.metrics import COVERAGE_MIN_FRACTION, EVAL_SAMPLES, ImageJudges

# --- configuration ------------------------------------------------------------------------


@dataclass
class DCGANConfig:
    """Hyperparameters of the DCGAN; defaults follow Radford et al. 2016, scaled down."""

    epochs: int = 30
    """Passes over the training images."""
    batch_size: int = 64
    """Real images per discriminator step (the paper's 128 is over 10% of the digits)."""
    latent_dim: int = 32
    """Size of the generator's noise vector z ~ N(0, I) (the paper's 100 was for 64x64)."""
    base_channels: int = 128
    """Channels of the generator's first (2x2) feature map, halved at each up-sampling stage
    (at least 16); the discriminator mirrors them."""
    loss: str = "non_saturating"
    """GAN loss: minimax, non_saturating, wgan, wgan_gp, least_squares, hinge or rsgan (not
    for the energy variants, which train by their own objectives)."""
    lr: float = 2e-4
    """Adam learning rate of both networks."""
    betas: tuple[float, float] | None = None
    """Adam's betas; None is (0.5, 0.999) (the paper's), or (0.0, 0.9) for wgan_gp."""
    d_steps: int | None = None
    """Discriminator steps per generator step; None is 5 for wgan and wgan_gp, else 1."""
    conditional: bool = False
    """Condition both networks on the class label (needs labelled data): ``gan=cgan``."""
    gan: str = "dcgan"
    """The variant: dcgan, cgan, acgan, infogan, ebgan, began or lsgan_ls
    (``advrl.gan.family``)."""
    aux_weight: float = 1.0
    """acgan: the weight of the class loss; infogan: λ, the weight of Q's loss."""
    info_codes: int = 10
    """infogan: values of the categorical code."""
    info_continuous: int = 2
    """infogan: continuous codes, each uniform in [-1, 1]."""
    ebgan_margin: float = 0.3
    """ebgan: the margin m of fake energies (per-pixel mean squared error). Chosen on the
    digits' development seed 11 among 0.1, 0.3 and 1 (Fréchet distance 11, 5; 1 left the
    generator stuck at the margin on seeds 1-3)."""
    ebgan_pt_weight: float = 0.1
    """ebgan: the pulling-away term's weight."""
    began_gamma: float = 1.0
    """began: γ, the target ratio of fake to real autoencoder losses. Chosen on the digits'
    development seed 11 among 0.5 (the paper's usual), 0.7 and 1 (Fréchet distance 209,
    125, 61): with 0.5 the fakes' loss never falls below half the reals' in 30 short epochs,
    k_t stays at 0 and D is an autoencoder of the reals alone."""
    began_lambda_k: float = 0.001
    """began: the learning rate of the equilibrium variable k_t."""
    ls_weight: float = 1.0
    """lsgan_ls: λ, the weight of the margin term."""
    ls_lipschitz: float = 1.0
    """lsgan_ls: κ, the weight of the gradient penalty that keeps the loss Lipschitz."""

    def resolved_gan(self) -> str:
        """The variant; ``conditional`` on a dcgan is a cgan (``--conditional``)."""
        return "cgan" if self.conditional and self.gan == "dcgan" else self.gan

    def resolved_betas(self) -> tuple[float, float]:
        if self.betas is not None:
            return tuple(self.betas)  # type: ignore[return-value]
        return (0.0, 0.9) if self.loss == "wgan_gp" else (0.5, 0.999)

    def resolved_d_steps(self) -> int:
        if self.d_steps is not None:
            return self.d_steps
        return 5 if self.loss in ("wgan", "wgan_gp") else 1

    def validate(self) -> list[str]:
        """Problems with these values, each naming the bad one; empty when all are valid."""
        problems = []
        for name in ("epochs", "batch_size", "latent_dim", "base_channels"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if self.d_steps is not None and self.d_steps < 1:
            problems.append(f"d_steps must be >= 1, got {self.d_steps}")
        if self.betas is not None and not all(0 <= b < 1 for b in self.betas):
            problems.append(f"betas must be in [0, 1), got {self.betas}")
        if self.gan not in GAN_NAMES:
            problems.append(
                f"gan must be one of {', '.join(GAN_NAMES)}, got {self.gan!r}"
                + did_you_mean(self.gan, GAN_NAMES)
            )
        elif self.conditional and self.gan not in ("dcgan", "cgan"):
            problems.append(f"--conditional is the cgan variant; drop it for --gan {self.gan}")
        if self.gan in ENERGY_KINDS and self.loss != "non_saturating":
            problems.append(f"--gan {self.gan} trains by its own energy objective; drop --loss")
        if self.info_codes < 2 or self.info_continuous < 0:
            problems.append("info_codes must be >= 2 and info_continuous >= 0")
        if not 0 < self.began_gamma <= 1:
            problems.append(f"began_gamma must be in (0, 1], got {self.began_gamma}")
        return problems


@dataclass
class GANSettings:
    """One run of ``train_gan``: what to train on, where to write, and the hyperparameters."""

    config: DCGANConfig = dataclasses.field(default_factory=DCGANConfig)
    data: Path | None = None
    """A folder of images; None is scikit-learn's digits."""
    channels: int = 1
    """1 (grayscale) or 3 (RGB), for folder data."""
    image_size: int | None = None
    """Side of the (square) images; None is 8 for the digits, 32 for a folder."""
    seed: int = 1
    device: str = "auto"
    run_dir: Path | None = None
    """Default runs/gan__{data}__{seed}__{time}."""
    sample_every: int = 1
    """Save a sample grid every this many epochs (and after the last)."""
    checkpoint_every: int = 0
    """Checkpoint every this many epochs; 0 is only at the end."""
    resume: Path | None = None
    """Continue from this checkpoint (``config.epochs`` is the new total)."""


# --- planning and resume ------------------------------------------------------------------

GAN_RECORD = "gan_run"
"""The checkpoint key of a GAN run's record (``load_resume`` refuses a checkpoint without it)."""
_RESUMABLE = {"epochs"}


def planned_epochs(resume: Path) -> int:
    """The total of epochs the run of checkpoint ``resume`` was set to train: what it
    continues to unless told otherwise, as a resumed ``train_agent.py`` run does."""
    return load_resume(resume, GAN_RECORD, "train_gan.py")["config"]["epochs"]


def _plan(settings: GANSettings) -> tuple[GANSettings, dict[str, Any] | None]:
    """Settings with the checkpoint's run filled in when resuming, and the checkpoint."""
    if settings.resume is None:
        problems = settings.config.validate()
        if problems:
            raise UserError(f"invalid GAN settings: {'; '.join(problems)}")
        if settings.sample_every < 1 or settings.checkpoint_every < 0:
            raise UserError("--sample-every must be >= 1 and --checkpoint-every >= 0")
        get_loss(settings.config.loss)
        return settings, None
    checkpoint = load_resume(settings.resume, GAN_RECORD, "train_gan.py")
    run = checkpoint[GAN_RECORD]
    saved = DCGANConfig(**checkpoint["config"])
    for f in dataclasses.fields(DCGANConfig):
        given = getattr(settings.config, f.name)
        if f.name not in _RESUMABLE and given != f.default and given != getattr(saved, f.name):
            raise UserError(
                f"{f.name}={given!r} differs from the checkpoint's {getattr(saved, f.name)!r}; "
                "only --epochs may change when resuming"
            )
    if settings.config.epochs <= checkpoint["epoch"]:
        raise UserError(
            f"the checkpoint has trained {checkpoint['epoch']} epochs already; pass a larger "
            "--epochs (the new total) to continue"
        )
    resumed = dataclasses.replace(
        settings,
        config=dataclasses.replace(saved, epochs=settings.config.epochs),
        data=Path(run["data"]) if run["data"] else None,
        channels=run["channels"],
        image_size=run["image_size"],
        seed=run["seed"],
        run_dir=resumed_run_dir(settings.run_dir, run["run_dir"], settings.resume),
    )
    return resumed, checkpoint


# --- batches and inputs ------------------------------------------------------------------


def _batches(
    images: torch.Tensor,
    labels: torch.Tensor | None,
    batch_size: int,
    shuffle: torch.Generator,
    skip: int = 0,
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """One shuffled epoch of full batches: (B, C, H, W) images and (B,) labels or None,
    from batch ``skip`` on (a run resumed mid-epoch)."""
    order = torch.randperm(len(images), generator=shuffle).to(images.device)
    for start in range(skip * batch_size, len(images) - batch_size + 1, batch_size):
        index = order[start : start + batch_size]
        yield images[index], None if labels is None else labels[index]


def _epoch_means(
    d_metrics: list[dict[str, float]], g_metrics: list[dict[str, float] | float]
) -> dict[str, float]:
    """Means over an epoch's steps, the discriminator's ``loss`` renamed ``d_loss`` (a
    generator step's metrics are a float, ``g_loss``, in checkpoints written before them)."""
    means = mean_metrics(d_metrics)
    means["d_loss"] = means.pop("loss")
    g_rows = [m if isinstance(m, dict) else {"g_loss": m} for m in g_metrics]
    if g_rows:
        means |= mean_metrics(g_rows)
    return means


def _grid_inputs(
    gan: ImageGAN, n_classes: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Fixed latents of the sample grid: one row per class (InfoGAN: per categorical code,
    continuous codes 0), the same latent down each column; otherwise 10 x 10 latents."""
    gen = torch.Generator().manual_seed(seed + 1)
    rows = n_classes if gan.conditional else gan.info_codes or GRID_COLUMNS
    columns_z = torch.randn(GRID_COLUMNS, gan.latent_dim, generator=gen)  # (10, L)
    if gan.conditional or gan.info_codes:
        z = torch.cat([columns_z, torch.zeros(GRID_COLUMNS, gan.info_continuous)], dim=1)
        return z.repeat(rows, 1), torch.arange(rows).repeat_interleave(GRID_COLUMNS)
    return torch.randn(rows * GRID_COLUMNS, gan.latent_dim, generator=gen), None


def _evaluation_inputs(
    gan: ImageGAN, n_classes: int, seed: int, n: int = EVAL_SAMPLES
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Fixed inputs of the evaluation samples: balanced classes when conditional, InfoGAN's
    codes drawn as in training (balanced categorical values)."""
    gen = torch.Generator().manual_seed(seed + 2)
    z = gan.latents(n, None, generator=gen)[0].cpu()  # InfoGAN's continuous codes in it
    if gan.conditional:
        return z, torch.arange(n) % n_classes
    return z, torch.arange(n) % gan.info_codes if gan.info_codes else None


# --- training -----------------------------------------------------------------------------


def train_gan(
    settings: GANSettings, on_epoch: Callable[[int, dict[str, float]], None] | None = None
) -> dict[str, Any]:
    """Train a DCGAN as ``settings`` say and return the summary written to summary.json.

    ``on_epoch(epoch, metrics)`` is called after each epoch (for progress lines). The first
    Ctrl-C stops after the current batch, saves ``checkpoints/epoch_<E>_batch_<B>.pt`` (E
    epochs and B batches done; ``--resume`` continues it exactly) and raises
    KeyboardInterrupt; the second stops at once.
    """
    from torch.utils.tensorboard import SummaryWriter

    start_time = time.perf_counter()
    keep_freed_memory()
    settings, checkpoint = _plan(settings)
    config, seed, variant = settings.config, settings.seed, settings.config.resolved_gan()
    device = resolve_device(settings.device)
    data = load_data(settings.data, settings.channels, settings.image_size)
    if variant in CONDITIONAL and data.labels is None:
        flag = "--conditional" if config.conditional else f"--gan {variant}"
        raise UserError(
            f"{flag} needs classes: put each class's images in its own subfolder of --data"
        )
    _, channels, image_size, _ = data.images.shape
    if checkpoint is None:
        run_dir = new_run_dir(settings.run_dir, "gan", data.name, seed)
    else:
        run_dir = Path(settings.run_dir)  # type: ignore[arg-type]
    record = {
        "data": str(Path(settings.data).resolve()) if settings.data else None,
        "channels": channels,
        "image_size": image_size,
        "seed": seed,
        "run_dir": str(run_dir),
    }
    files = RunFiles(run_dir, GAN_RECORD, record, settings.resume)
    files.create()

    seed_everything(seed)
    n_classes = data.n_classes
    # Shuffling and latents come from their own generators, so CPU runs are reproducible.
    shuffle_gen = torch.Generator().manual_seed(seed + 3)
    noise_gen = torch.Generator().manual_seed(seed + 4)
    steps = build_image_gan(config, channels, image_size, n_classes, device, noise_gen)
    generator, reward_model = steps.generator, steps.reward_model
    judges = ImageJudges.of(data, seed) if data.labels is not None else None
    grid_z, grid_labels = _grid_inputs(steps, n_classes, seed)
    eval_z, eval_labels = _evaluation_inputs(steps, n_classes, seed)

    start_epoch, samples_written = 0, 0
    # Where a run stopped by Ctrl-C mid-epoch stood: batches done of the next epoch, and
    # their metrics (shuffle_rng is then that epoch's state before its shuffle).
    skip, partial = 0, _no_steps()
    history: dict[str, Any] = {}
    if checkpoint is not None:
        steps.load_state_dict(checkpoint)
        shuffle_gen.set_state(checkpoint["shuffle_rng"])
        set_rng_state(checkpoint["rng"])
        start_epoch, samples_written = checkpoint["epoch"], checkpoint["samples_written"]
        skip, partial = checkpoint.get("batch", 0), checkpoint.get("partial_epoch", partial)
        history = checkpoint["history"]

    images = data.images.to(device)
    labels = data.labels.to(device) if steps.conditional else None  # type: ignore[union-attr]
    batch_size = min(config.batch_size, len(images))
    d_steps = config.resolved_d_steps()
    # Epoch E's scalars are logged at step E: a resumed run drops what came after its
    # checkpoint, from step start_epoch + 1 on.
    writer = SummaryWriter(str(run_dir), purge_step=start_epoch + 1 if checkpoint else None)
    if checkpoint is None:
        hparams = {**record, **dataclasses.asdict(config), "device": str(device)}
        writer.add_text("hyperparameters", hparams_table(hparams), 0)

    def evaluate_now(epoch: int) -> dict[str, float]:
        if judges is None:
            return {}
        samples = generate(generator, eval_z, eval_labels)
        classes = eval_labels if steps.conditional else None
        codes = eval_labels if steps.info_codes else None
        metrics = judges.evaluate(samples, classes, codes, steps.info_codes)
        for key, value in metrics.items():
            writer.add_scalar(f"eval/{key}", value, epoch)
        return metrics

    def write_samples(epoch: int) -> Path:
        nonlocal samples_written
        samples_written += 1
        grid = image_grid(generate(generator, grid_z, grid_labels))
        writer.add_image("samples", grid, epoch, dataformats="HWC")
        path = run_dir / f"generated-images-{samples_written:04d}.png"
        return save_grid(grid, path, image_side=image_size)

    def save(
        name: str,
        epoch: int,
        batch: int = 0,
        epoch_shuffle: torch.Tensor | None = None,
        epoch_steps: dict[str, list] | None = None,
    ) -> Path:
        """Checkpoint after ``epoch`` epochs and ``batch`` batches of the next; mid-epoch,
        with that epoch's shuffle state from before its shuffle and its steps' metrics."""
        state = {
            "epoch": epoch,
            "samples_written": samples_written,
            "history": history,
            **steps.state_dict(),
            "shuffle_rng": shuffle_gen.get_state() if epoch_shuffle is None else epoch_shuffle,
            "batch": batch,
            "partial_epoch": epoch_steps or _no_steps(),
        }
        return files.save(name, dataclasses.asdict(config), state)

    if checkpoint is None:
        history["initial"] = evaluate_now(0)
    with CtrlC("batch").catching() as ctrl_c:
        for epoch in range(start_epoch + 1, config.epochs + 1):
            epoch_shuffle = shuffle_gen.get_state()  # before this epoch's shuffle
            d_metrics, g_metrics = partial["d_metrics"], partial["g_losses"]
            batches = _batches(images, labels, batch_size, shuffle_gen, skip)
            for batch, (real_x, real_y) in enumerate(batches, skip + 1):
                d_metrics.append(steps.discriminator(real_x, real_y))
                if reward_model.updates % d_steps == 0:  # counted over the run: epochs may be short
                    paired = real_x if reward_model.pairs_with_reals else None
                    g_metrics.append(steps.generator_step(batch_size, real_y, paired))
                if ctrl_c.pressed:
                    steps_so_far = {"d_metrics": d_metrics, "g_losses": g_metrics}
                    path = save(f"epoch_{epoch - 1:04d}_batch_{batch:04d}.pt", epoch - 1,
                                batch, epoch_shuffle, steps_so_far)  # fmt: skip
                    writer.close()
                    exit_interrupted(path, f"epoch {epoch}, batch {batch}")
            skip, partial = 0, _no_steps()
            epoch_metrics = _epoch_means(d_metrics, g_metrics)
            for key, value in epoch_metrics.items():
                writer.add_scalar(f"gan/{key}", value, epoch)
            if epoch % settings.sample_every == 0 or epoch == config.epochs:
                write_samples(epoch)
                epoch_metrics |= evaluate_now(epoch)
            if settings.checkpoint_every and epoch % settings.checkpoint_every == 0:
                save(f"epoch_{epoch:04d}.pt", epoch)
            history["final"] = epoch_metrics
            if on_epoch is not None:
                on_epoch(epoch, epoch_metrics)
    final_path = save("final.pt", config.epochs)
    final = history.get("final", {})
    if "class_coverage" not in final:
        final |= evaluate_now(config.epochs)
    writer.close()

    summary: dict[str, Any] = {
        "data": record["data"] or "digits",
        "seed": seed,
        "epochs": config.epochs,
        "device": str(device),
        "image_shape": [channels, image_size, image_size],
        "n_classes": n_classes,
        "hyperparameters": dataclasses.asdict(config),
        **final,
    }
    if judges is not None:
        summary |= {
            "classifier_accuracy": judges.classifier.accuracy,
            "feature_classifier_accuracy": judges.features.accuracy,
            "coverage_min_fraction": COVERAGE_MIN_FRACTION,
            "eval_samples": len(eval_z),
            "initial": history.get("initial", {}),
        }
    summary |= {
        "samples": [
            str(run_dir / f"generated-images-{i:04d}.png") for i in range(1, samples_written + 1)
        ],
        **files.summary_entries(final_path),
        "wall_time_s": time.perf_counter() - start_time,
    }
    files.write_summary(summary)
    return summary


def _no_steps() -> dict[str, list]:
    """An epoch's step metrics before its first batch."""
    return {"d_metrics": [], "g_losses": []}
