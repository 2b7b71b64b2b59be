"""Real sequences for sequence GANs: samples of the synthetic oracle, or a text file.

Both loaders return a ``SequenceData``: fixed-length LongTensors of token ids for training
and for a held-out test set (NLL-test and BLEU references must never be training data, a
DESIGN.md pitfall), plus what is needed to read them back.

Text (``text_data``): one sentence per line, words split on whitespace and kept as they
are (no case folding unless ``lowercase=True``; punctuation stays attached, as in the
COCO captions file). The vocabulary is built from the training split only and starts with
three special tokens, ``<pad>`` = 0, ``<eos>`` = 1, ``<unk>`` = 2, then words by frequency.
A sentence becomes its words, ``<eos>``, then ``<pad>`` up to T; a sentence of T or more
words is cut to its first T words (no ``<eos>``: it did not end inside the window). A
generator starts from ``start_id``, which for text is ``<eos>`` (the end of the previous
sentence, as GPT-2 uses its end-of-text token), so no fourth special token is needed.

COCO captions (``../shared/benchmarks/coco_captions/train.txt``, 10,000 lines): 10.5 words
on average, 95% have at most 15 and all at most 35; 6,094 distinct words, 3,151 of them
seen at least twice. The defaults pick T automatically as the shortest length that holds
95% of the training sentences with their ``<eos>`` (16 for COCO, which fits 96.5%) and
``min_count=2`` (V = 3,154 with the specials; the 2,943 singletons, mostly typos and
punctuation variants, are 2.8% of tokens and become ``<unk>``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from advrl.core.errors import UserError
from advrl.gan.oracle import OracleLSTM

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
SPECIALS = (PAD, EOS, UNK)


@dataclass
class SequenceData:
    """Training and held-out sequences of one dataset, as token ids of a fixed length T."""

    train: torch.Tensor
    """(N, T) int64 training sequences."""
    test: torch.Tensor
    """(M, T) int64 held-out sequences, disjoint from ``train``."""
    vocab_size: int
    """V: ids are in [0, V)."""
    start_id: int = 0
    """The token a generator is fed at step 0 (the oracle's token 0; ``<eos>`` for text)."""
    vocab: list[str] | None = None
    """Id -> word for text; None for the oracle's anonymous tokens."""
    pad_id: int | None = None
    eos_id: int | None = None
    unk_id: int | None = None
    test_tokens: list[list[str]] | None = None
    """The held-out sentences as their raw words (no ``<unk>``, not cut): BLEU references."""
    stats: dict[str, float] = field(default_factory=dict)
    """What loading did: sentence counts, sentences cut, ``<unk>`` rates, length quantiles."""

    @property
    def length(self) -> int:
        """T, the sequence length."""
        return self.train.shape[1]

    def encode(self, sentence: str | Sequence[str]) -> torch.Tensor:
        """A sentence (a string or its words) as ids (T,): words, ``<eos>``, ``<pad>``."""
        if self.vocab is None:
            raise ValueError("encode needs a text vocabulary; oracle data has none")
        words = sentence.split() if isinstance(sentence, str) else list(sentence)
        index = {word: i for i, word in enumerate(self.vocab)}
        return torch.tensor(_encode(words, index, self.length), dtype=torch.long)

    def tokens(self, sequences: torch.Tensor | Iterable[Sequence[int]]) -> list[list]:
        """Sequences (B, T) as token lists for BLEU: words for text, cut at the first
        ``<eos>`` and without ``<pad>``; the ids themselves for oracle data."""
        rows = sequences.tolist() if isinstance(sequences, torch.Tensor) else sequences
        out: list[list] = []
        for row in rows:
            ids = [int(i) for i in row]
            if self.eos_id is not None and self.eos_id in ids:
                ids = ids[: ids.index(self.eos_id)]
            ids = [i for i in ids if i != self.pad_id]
            out.append(ids if self.vocab is None else [self.vocab[i] for i in ids])
        return out

    def decode(self, ids: torch.Tensor | Sequence[int]) -> str:
        """One sequence of ids as text: words up to the first ``<eos>``, pads dropped."""
        tokens = self.tokens([ids.tolist() if isinstance(ids, torch.Tensor) else ids])[0]
        return " ".join(str(token) for token in tokens)

    def references(self) -> list[list]:
        """The held-out set as BLEU references: raw words for text, ids for oracle data."""
        return self.test_tokens if self.test_tokens is not None else self.tokens(self.test)


def oracle_data(
    oracle: OracleLSTM,
    n_train: int = 10_000,
    n_test: int = 5_000,
    length: int = 20,
    seed: int = 0,
) -> SequenceData:
    """``n_train`` + ``n_test`` oracle samples of ``length`` tokens, from one seeded stream.

    The defaults are SeqGAN's (10,000 training sequences of 20 tokens). The held-out set is
    for NLL-test: 5,000 sequences put its standard error near 0.01 nats.
    """
    generator = torch.Generator(device=oracle.embedding.device).manual_seed(seed)
    samples = oracle.sample(n_train + n_test, length, generator=generator).cpu()
    return SequenceData(
        train=samples[:n_train],
        test=samples[n_train:],
        vocab_size=oracle.vocab_size,
        start_id=oracle.start_token,
        stats={"n_train": n_train, "n_test": n_test},
    )


def text_data(
    path: str | Path,
    max_len: int | None = None,
    min_count: int = 2,
    test_fraction: float = 0.1,
    test_path: str | Path | None = None,
    seed: int = 0,
    lowercase: bool = False,
    coverage: float = 0.95,
) -> SequenceData:
    """Sentences of a text file (one a line, UTF-8) as a ``SequenceData``.

    Args:
        path: the training text. Blank lines are skipped.
        max_len: T; None picks the shortest T that holds ``coverage`` of the training
            sentences with their ``<eos>``.
        min_count: words seen fewer times in the training split become ``<unk>``.
        test_fraction: share of ``path`` held out (a seeded shuffle) when ``test_path`` is
            None; at least one sentence each way.
        test_path: a separate held-out file; then all of ``path`` is training data.
        seed: the shuffle's seed.
        lowercase: fold case before anything else.
        coverage: the share of sentences an automatic ``max_len`` must fit.
    """
    sentences = _read_sentences(path, lowercase)
    if test_path is not None:
        train_words, test_words = sentences, _read_sentences(test_path, lowercase)
    else:
        if not 0 < test_fraction < 1:
            raise UserError(f"test_fraction must be in (0, 1), got {test_fraction}")
        if len(sentences) < 2:
            raise UserError(
                f"{path} has {len(sentences)} sentence; holding out a test split needs at "
                "least 2 (or pass test_path)"
            )
        order = np.random.default_rng(seed).permutation(len(sentences))
        n_test = min(max(1, round(len(sentences) * test_fraction)), len(sentences) - 1)
        test_words = [sentences[i] for i in order[:n_test]]
        train_words = [sentences[i] for i in order[n_test:]]
    if min_count < 1:
        raise UserError(f"min_count must be >= 1, got {min_count}")

    lengths = np.array([len(words) for words in train_words])
    if max_len is None:
        max_len = coverage_length(lengths, coverage)
    if max_len < 1:
        raise UserError(f"max_len must be >= 1, got {max_len}")

    counts = Counter(word for words in train_words for word in words)
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    vocab = [*SPECIALS, *kept]
    index = {word: i for i, word in enumerate(vocab)}
    train = torch.tensor([_encode(words, index, max_len) for words in train_words])
    test = torch.tensor([_encode(words, index, max_len) for words in test_words])

    def unk_rate(tensor: torch.Tensor) -> float:
        words = (tensor > index[UNK]).sum() + (tensor == index[UNK]).sum()
        return float((tensor == index[UNK]).sum() / max(int(words), 1))

    stats = {
        "n_train": len(train_words),
        "n_test": len(test_words),
        "max_len": max_len,
        "vocab_size": len(vocab),
        "mean_words": float(lengths.mean()),
        "p95_words": float(np.quantile(lengths, 0.95)),
        "p95_length": coverage_length(lengths, 0.95),
        "max_words": int(lengths.max()),
        "train_cut": float((lengths >= max_len).mean()),
        "test_cut": float(np.mean([len(words) >= max_len for words in test_words])),
        "train_unk": unk_rate(train),
        "test_unk": unk_rate(test),
    }
    return SequenceData(
        train=train,
        test=test,
        vocab_size=len(vocab),
        start_id=index[EOS],
        vocab=vocab,
        pad_id=index[PAD],
        eos_id=index[EOS],
        unk_id=index[UNK],
        test_tokens=test_words,
        stats=stats,
    )


def coverage_length(lengths: Iterable[int], coverage: float = 0.95) -> int:
    """The shortest T that holds ``coverage`` of sentences of these word counts plus ``<eos>``."""
    lengths = np.fromiter(lengths, dtype=np.int64)
    return int(np.quantile(lengths, coverage, method="inverted_cdf")) + 1  # smallest x: F(x) >= q


def _encode(words: Sequence[str], index: dict[str, int], length: int) -> list[int]:
    ids = [index.get(word, index[UNK]) for word in words[:length]]
    if len(ids) < length:
        ids += [index[EOS]] + [index[PAD]] * (length - len(ids) - 1)
    return ids


def _read_sentences(path: str | Path, lowercase: bool) -> list[list[str]]:
    """The non-blank lines of a UTF-8 text file, split on whitespace."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "not found"
        raise UserError(
            f"text dataset {path} {what}; pass a UTF-8 text file with one sentence per line"
        )
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # a leading byte-order mark is dropped
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError(
            f"text dataset {path} is not UTF-8 (undecodable byte {data[exc.start]:#04x} on line "
            f"{line}); convert it, e.g. iconv -f latin1 -t utf-8 {path} > fixed.txt"
        ) from None
    if lowercase:
        text = text.lower()
    sentences = [words for words in (line.split() for line in text.splitlines()) if words]
    if not sentences:
        raise UserError(
            f"text dataset {path} is empty (no non-blank lines); it needs one sentence per line"
        )
    return sentences
