"""Metrics of sequence generators: NLL-oracle, NLL-test, BLEU and Self-BLEU.

- NLL-oracle (quality; SeqGAN): the oracle's mean per-token NLL of generated sequences.
- NLL-test (coverage): the generator's own mean per-token NLL of held-out real sequences.
  A generator that drops modes scores well on NLL-oracle and badly here.
- BLEU-n against held-out real sentences (quality) and Self-BLEU-n among generated ones
  (diversity: high means repetitive; Zhu et al. 2018, Texygen).
- A temperature sweep: lowering the sampling temperature alone lowers NLL-oracle and raises
  BLEU and Self-BLEU, so a single number is not a fair comparison; report the curve.

BLEU follows the protocol of the text-GAN literature (Texygen, used by LeakGAN, RelGAN and
most later papers): for each generated sentence, NLTK's ``sentence_bleu`` with *every*
held-out sentence as a reference, uniform weights 1/n over orders 1..n, and NLTK's
``SmoothingFunction().method1`` (a zero n-gram match count becomes 0.1); the score is the
mean over hypotheses. Self-BLEU is the same with each generated sentence as hypothesis and
all the other generated sentences as references.

We reimplement that definition instead of calling NLTK, and a test checks that the two
agree to 1e-12 on random corpora. The reason is cost: NLTK re-counts the n-grams of every
reference for every hypothesis and order, O(hypotheses x references), which for 1,000
hypotheses against 10,000 references is several minutes of CPU (hence Texygen's habit of
scoring only 500 hypotheses). Here the references are counted once: per order, the largest
count of each n-gram in any one reference (all that BLEU's clipped precision needs) and the
set of reference lengths (all that the brevity penalty needs). For Self-BLEU the largest
count among the *other* sentences comes from the two largest counts. Scoring is then linear
in the corpus sizes: about a second for 1,000 hypotheses against 10,000 references.
``sample`` still scores a random subset of hypotheses (the references stay complete), for
parity with Texygen or for very large sets.

Image generators (the DCGAN) are judged for mode collapse by ``ImageClassifier``, a logistic
regression on the real images: ``mode_metrics`` of its predictions on generated ones.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, overload

import numpy as np
import torch

from advrl.core.stats import batched_mean
from advrl.gan.image_networks import Generator, generate
from advrl.gan.images import ImageData
from advrl.gan.oracle import OracleLSTM

EPSILON = 0.1
"""NLTK's SmoothingFunction().method1 epsilon: the count given to an order with no match."""

Tokens = Sequence[Hashable]

# --- likelihoods ------------------------------------------------------------------------


def nll_oracle(oracle: OracleLSTM, sequences: torch.Tensor) -> float:
    """The oracle's mean per-token NLL (nats) of ``sequences`` (B, T): SeqGAN's metric."""
    return oracle.nll(sequences).mean().item()


@torch.no_grad()
def nll_test(
    nll_fn: Callable[[torch.Tensor], torch.Tensor],
    test_sequences: torch.Tensor,
    batch_size: int = 1000,
) -> float:
    """A model's mean per-token NLL of held-out real sequences (B, T).

    ``nll_fn`` maps a batch (b, T) to each sequence's mean per-token NLL (b,), at the
    temperature the samples are reported at. Pass the held-out set, never training data.
    """
    return batched_mean(nll_fn, test_sequences, batch_size)


def temperature_sweep(
    sample: Callable[[float], Any],
    evaluate: Callable[[Any, float], dict[str, float]],
    temperatures: Iterable[float] = (0.5, 0.75, 1.0, 1.25, 1.5),
) -> list[dict[str, float]]:
    """``evaluate(sample(τ), τ)`` for each temperature τ, as rows that record τ.

    ``evaluate`` receives τ so that likelihoods are measured at the temperature the samples
    were drawn at (a Texygen pitfall is mixing the two).
    """
    return [{"temperature": tau, **evaluate(sample(tau), tau)} for tau in temperatures]


# --- BLEU -------------------------------------------------------------------------------


@overload
def bleu(
    hypotheses: Any, references: Any, n: int = 4, sample: int | None = None, seed: int = 0
) -> float: ...
@overload
def bleu(
    hypotheses: Any, references: Any, n: Sequence[int], sample: int | None = None, seed: int = 0
) -> dict[int, float]: ...
def bleu(
    hypotheses: Any,
    references: Any,
    n: int | Sequence[int] = 4,
    sample: int | None = None,
    seed: int = 0,
) -> float | dict[int, float]:
    """Mean sentence BLEU-n of ``hypotheses``, each against all ``references`` (Texygen).

    Both are corpora: a (B, T) tensor or array of ids, or a list of token sequences (str or
    int tokens; a plain string is split on whitespace). Cut generated text at its end
    token first (``SequenceData.tokens``). ``n`` an int gives a float; a sequence of
    orders, e.g. ``(2, 3, 4, 5)``, gives {order: score} from one counting pass.
    ``sample`` scores a seeded random subset of that many hypotheses.
    """
    orders = _orders(n)
    hyps = _subset(_token_lists(hypotheses), sample, seed)
    refs = _token_lists(references)
    if not hyps or not refs:
        raise ValueError("BLEU needs at least one hypothesis and one reference")
    max_counts = [_max_counts(refs, k) for k in range(1, max(orders) + 1)]
    lengths = sorted({len(ref) for ref in refs})
    scores = {k: 0.0 for k in orders}
    for hyp in hyps:
        ref_len = _closest(lengths, len(hyp))
        matches, totals = _clipped_matches(
            hyp, max(orders), lambda k, g: max_counts[k - 1].get(g, 0)
        )
        for k in orders:
            scores[k] += _sentence_bleu(matches[:k], totals[:k], len(hyp), ref_len)
    result = {k: s / len(hyps) for k, s in scores.items()}
    return result[orders[0]] if isinstance(n, int) else result


@overload
def self_bleu(hypotheses: Any, n: int = 4, sample: int | None = None, seed: int = 0) -> float: ...
@overload
def self_bleu(
    hypotheses: Any, n: Sequence[int], sample: int | None = None, seed: int = 0
) -> dict[int, float]: ...
def self_bleu(
    hypotheses: Any, n: int | Sequence[int] = 4, sample: int | None = None, seed: int = 0
) -> float | dict[int, float]:
    """Mean BLEU-n of each generated sentence against all the others (Zhu et al. 2018).

    High means the generator repeats itself. ``sample`` scores a seeded random subset of
    that many sentences, each still against all the others. Inputs as for ``bleu``.
    """
    orders = _orders(n)
    corpus = _token_lists(hypotheses)
    if len(corpus) < 2:
        raise ValueError("Self-BLEU needs at least two sentences")
    top2 = [_top_two_counts(corpus, k) for k in range(1, max(orders) + 1)]
    length_counts = Counter(len(s) for s in corpus)
    chosen = _subset(list(range(len(corpus))), sample, seed)
    scores = {k: 0.0 for k in orders}
    for i in chosen:
        hyp = corpus[i]
        own = [Counter(_ngrams(hyp, k)) for k in range(1, max(orders) + 1)]

        def others_max(k: int, gram: tuple, own: list[Counter] = own) -> int:
            first, second = top2[k - 1][gram]
            return second if own[k - 1][gram] == first else first

        lengths = sorted(m for m, c in length_counts.items() if c - (m == len(hyp)) > 0)
        ref_len = _closest(lengths, len(hyp))
        matches, totals = _clipped_matches(hyp, max(orders), others_max)
        for k in orders:
            scores[k] += _sentence_bleu(matches[:k], totals[:k], len(hyp), ref_len)
    result = {k: s / len(chosen) for k, s in scores.items()}
    return result[orders[0]] if isinstance(n, int) else result


def _sentence_bleu(matches: list[int], totals: list[int], hyp_len: int, ref_len: int) -> float:
    """NLTK's sentence_bleu with uniform weights and method1 smoothing, from the counts.

    The arithmetic follows NLTK's ``corpus_bleu`` step by step, so results are identical.
    """
    if matches[0] == 0:
        return 0.0  # no unigram in common: NLTK returns 0 before smoothing
    weight = 1.0 / len(matches)
    log_precisions = (
        weight * math.log(m / t if m else EPSILON / t) for m, t in zip(matches, totals, strict=True)
    )
    return _brevity_penalty(ref_len, hyp_len) * math.exp(math.fsum(log_precisions))


def _brevity_penalty(ref_len: int, hyp_len: int) -> float:
    if hyp_len > ref_len:
        return 1.0
    if hyp_len == 0:
        return 0.0
    return math.exp(1 - ref_len / hyp_len)


def _clipped_matches(
    hyp: Tokens, max_n: int, ref_max: Callable[[int, tuple], int]
) -> tuple[list[int], list[int]]:
    """Per order k = 1..max_n: clipped n-gram matches and max(1, n-grams in hyp)."""
    matches, totals = [], []
    for k in range(1, max_n + 1):
        counts = Counter(_ngrams(hyp, k))
        matches.append(sum(min(c, ref_max(k, gram)) for gram, c in counts.items()))
        totals.append(max(1, sum(counts.values())))
    return matches, totals


def _closest(lengths: list[int], hyp_len: int) -> int:
    """NLTK's closest reference length: nearest to hyp_len, the shorter one on ties."""
    return min(lengths, key=lambda length: (abs(length - hyp_len), length))


def _max_counts(corpus: list[Tokens], k: int) -> dict[tuple, int]:
    """Each k-gram's largest count within any one sentence of ``corpus``."""
    best: dict[tuple, int] = {}
    for sentence in corpus:
        for gram, c in Counter(_ngrams(sentence, k)).items():
            if c > best.get(gram, 0):
                best[gram] = c
    return best


def _top_two_counts(corpus: list[Tokens], k: int) -> dict[tuple, tuple[int, int]]:
    """Each k-gram's two largest per-sentence counts (the second is 0 if only one has it;
    equal to the first when two sentences tie)."""
    best: dict[tuple, tuple[int, int]] = {}
    for sentence in corpus:
        for gram, c in Counter(_ngrams(sentence, k)).items():
            first, second = best.get(gram, (0, 0))
            best[gram] = (c, first) if c >= first else (first, max(second, c))
    return best


def _ngrams(tokens: Tokens, k: int) -> Iterable[tuple]:
    return zip(*(tokens[i:] for i in range(k)), strict=False)


def _token_lists(corpus: Any) -> list[Sequence[Hashable]]:
    """A corpus as lists of tokens: rows of a 2-D tensor / array, or sequences of tokens."""
    if isinstance(corpus, torch.Tensor | np.ndarray):
        if corpus.ndim != 2:
            raise ValueError(f"a token tensor must be 2-D (B, T), got shape {tuple(corpus.shape)}")
        return [list(row) for row in corpus.tolist()]
    return [s.split() if isinstance(s, str) else list(s) for s in corpus]


def _orders(n: int | Sequence[int]) -> list[int]:
    orders = [n] if isinstance(n, int) else list(n)
    if not orders or min(orders) < 1:
        raise ValueError(f"BLEU orders must be >= 1, got {n}")
    return orders


def _subset(items: list, sample: int | None, seed: int) -> list:
    if sample is None or sample >= len(items):
        return items
    return random.Random(seed).sample(items, sample)


# --- mode collapse of image generators ----------------------------------------------------

COVERAGE_MIN_FRACTION = 0.01
"""A class counts as covered when it is the top prediction for at least 1% of samples."""
EVAL_SAMPLES = 1000


class ImageClassifier:
    """Multinomial logistic regression on raw pixels, the judge of generated images.

    Trained on 80% of the real images (stratified, seeded); ``accuracy`` is on the other 20%
    (about 0.97 on the digits).
    """

    def __init__(self, data: ImageData, seed: int = 0) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split
        from threadpoolctl import threadpool_limits

        if data.labels is None:
            raise ValueError("the classifier needs labelled images")
        x = data.images.flatten(1).numpy()
        y = data.labels.numpy()
        x_train, x_test, y_train, y_test = train_test_split(
            x, y, test_size=0.2, random_state=seed, stratify=y
        )
        # One BLAS thread: on a busy machine a threaded fit of this small problem is ~100x
        # slower (measured: 0.04 s against 6 s on two shared cores).
        with threadpool_limits(1):
            self.model = LogisticRegression(max_iter=2000).fit(x_train, y_train)
            self.accuracy = float(self.model.score(x_test, y_test))
        self.n_classes = data.n_classes

    def predict_proba(self, images: torch.Tensor) -> np.ndarray:
        """(B, K) class probabilities of images (B, C, H, W) in [-1, 1]."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return self.model.predict_proba(images.detach().cpu().flatten(1).numpy())


def mode_metrics(
    probs: np.ndarray, labels: np.ndarray | None = None, min_fraction: float = COVERAGE_MIN_FRACTION
) -> dict[str, float]:
    """Class coverage, entropy of the predicted-class histogram and mean confidence.

    ``probs`` (B, K) are the classifier's probabilities for B generated samples; ``labels``,
    for a conditional generator, the classes asked for (adds ``label_accuracy``). Coverage
    counts the classes that are the top pick for at least ``min_fraction`` of the samples;
    the entropy is log K (2.30 nats for 10 classes) when the picks are uniform.
    """
    n_classes = probs.shape[1]
    predicted = probs.argmax(1)
    fractions = np.bincount(predicted, minlength=n_classes) / len(predicted)
    nonzero = fractions[fractions > 0]
    metrics = {
        "class_coverage": int((fractions >= min_fraction).sum()),
        "class_entropy": float(-(nonzero * np.log(nonzero)).sum()) + 0.0,
        "mean_confidence": float(probs.max(1).mean()),
    }
    if labels is not None:
        metrics["label_accuracy"] = float((predicted == labels).mean())
    return metrics


def evaluation_inputs(
    latent_dim: int, n_classes: int, conditional: bool, seed: int, n: int = EVAL_SAMPLES
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Fixed latents (and balanced labels when conditional) on which coverage is measured."""
    gen = torch.Generator().manual_seed(seed + 2)
    z = torch.randn(n, latent_dim, generator=gen)
    labels = torch.arange(n) % n_classes if conditional else None
    return z, labels


def evaluate_generator(
    generator: Generator,
    classifier: ImageClassifier,
    z: torch.Tensor,
    labels: torch.Tensor | None,
) -> dict[str, float]:
    """``mode_metrics`` of the classifier on the generator's samples from ``z``."""
    probs = classifier.predict_proba(generate(generator, z, labels))
    return mode_metrics(probs, None if labels is None else labels.numpy())


# --- sample quality of image generators ---------------------------------------------------


class FeatureClassifier:
    """A small MLP classifier of the real images whose hidden layer is the feature space of
    the Fréchet distance (FID's recipe, Heusel et al. 2017, with a network trained here
    instead of Inception: the digits are 8 x 8).

    Trained on 80% of the images (stratified, seeded) for ``epochs`` epochs of Adam;
    ``accuracy`` is on the other 20% (about 0.97 on the digits). ``features`` are the
    second hidden layer's ReLU activations.
    """

    def __init__(self, data: ImageData, seed: int = 0, hidden: int = 64, epochs: int = 60) -> None:
        from sklearn.model_selection import train_test_split

        if data.labels is None:
            raise ValueError("the feature classifier needs labelled images")
        x, y = data.images.flatten(1), data.labels
        train_idx, test_idx = train_test_split(
            np.arange(len(x)), test_size=0.2, random_state=seed, stratify=y.numpy()
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.body = torch.nn.Sequential(
                torch.nn.Linear(x.shape[1], 2 * hidden), torch.nn.ReLU(),
                torch.nn.Linear(2 * hidden, hidden), torch.nn.ReLU(),
            )  # fmt: skip
            self.head = torch.nn.Linear(hidden, data.n_classes)
            params = [*self.body.parameters(), *self.head.parameters()]
            optimizer = torch.optim.Adam(params, lr=1e-3)
            order = torch.as_tensor(train_idx)
            for _ in range(epochs):
                for batch in order[torch.randperm(len(order))].split(64):
                    loss = torch.nn.functional.cross_entropy(self.logits(x[batch]), y[batch])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        with torch.no_grad():
            test = torch.as_tensor(test_idx)
            self.accuracy = float((self.logits(x[test]).argmax(1) == y[test]).float().mean())

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(images.flatten(1)))

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> np.ndarray:
        """(B, hidden) features of images (B, C, H, W) in [-1, 1], as float64."""
        return self.body(images.detach().cpu().float().flatten(1)).double().numpy()

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> np.ndarray:
        """(B,) predicted classes."""
        return self.logits(images.detach().cpu().float()).argmax(1).numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to feature rows ``a`` and ``b``:
    ‖μ_a - μ_b‖² + Tr(Σ_a + Σ_b - 2 (Σ_a Σ_b)^½). 0 for identical sets."""
    import warnings

    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # dead ReLU units make the covariances singular
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(root).all():  # nudge both, as FID's reference code does
            offset = np.eye(len(cov_a)) * 1e-6
            root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    trace = np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(root.real)
    return float(max(((mu_a - mu_b) ** 2).sum() + trace, 0.0))


def assignment_accuracy(
    codes: np.ndarray, classes: np.ndarray, n_codes: int, n_classes: int
) -> float:
    """How well ``codes`` predict ``classes`` under the best one-to-one assignment of codes to
    classes (the Hungarian method): InfoGAN's unsupervised categorical code as a classifier."""
    from scipy.optimize import linear_sum_assignment

    counts = np.zeros((n_codes, n_classes))
    np.add.at(counts, (codes, classes), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / max(len(codes), 1))


class ImageJudges:
    """Everything that judges an image generator on labelled data, trained once per data set
    and seed: the logistic-regression classifier (class coverage, label accuracy) and the
    feature classifier (the Fréchet distance to the real images), with the real images'
    features."""

    _cache: dict[tuple[Any, ...], ImageJudges] = {}

    def __init__(self, data: ImageData, seed: int = 0) -> None:
        self.classifier = ImageClassifier(data, seed)
        self.features = FeatureClassifier(data, seed)
        self.real_features = self.features.features(data.images)
        self.n_classes = data.n_classes

    @classmethod
    def of(cls, data: ImageData, seed: int = 0) -> ImageJudges:
        """The judges of ``data`` and ``seed``, trained on first use in this process."""
        key = (data.name, tuple(data.images.shape), float(data.images.double().sum()), seed)
        if key not in cls._cache:
            cls._cache[key] = cls(data, seed)
        return cls._cache[key]

    def evaluate(
        self,
        samples: torch.Tensor,
        classes: torch.Tensor | None = None,
        codes: torch.Tensor | None = None,
        n_codes: int = 0,
    ) -> dict[str, float]:
        """``mode_metrics`` of ``samples`` by the logistic-regression judge,
        ``frechet_distance`` to the real images in the feature classifier's space, and by
        that same feature classifier: ``label_accuracy``, its accuracy against the
        ``classes`` the samples were asked for, and for InfoGAN's categorical ``codes``
        (``n_codes`` values) ``code_class_accuracy``, how well the code predicts its class
        under the best one-to-one assignment."""
        metrics = mode_metrics(self.classifier.predict_proba(samples))
        generated = self.features.features(samples)
        metrics["frechet_distance"] = frechet_distance(self.real_features, generated)
        predicted = self.features.predict(samples)
        if classes is not None:
            metrics["label_accuracy"] = float((predicted == classes.numpy()).mean())
        if codes is not None:
            metrics["code_class_accuracy"] = assignment_accuracy(
                codes.numpy(), predicted, n_codes, self.n_classes
            )
        return metrics
