"""Generation metrics: BLEU and Self-BLEU (against NLTK), NLL-oracle, NLL-test, sweeps."""

import math
import random

import pytest
import torch

from advrl.gan import OracleLSTM, bleu, nll_oracle, nll_test, self_bleu, temperature_sweep

CAPTIONS = (
    "a man riding a wave on top of a surfboard .",
    "two dogs play with a frisbee in the park .",
    "a plate of food with broccoli and rice .",
    "a red bus parked next to a building .",
)
SENTENCES = [caption.split() for caption in CAPTIONS]


def random_corpus(rng: random.Random, vocab: int, n: int, max_len: int = 9) -> list[list[int]]:
    return [[rng.randrange(vocab) for _ in range(rng.randrange(0, max_len))] for _ in range(n)]


def test_bleu_of_identical_corpora_is_one():
    assert bleu(SENTENCES, SENTENCES, n=(2, 3, 4, 5)) == pytest.approx(
        {2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0}
    )


def test_bleu_of_disjoint_corpora_is_zero():
    other = [["x", "y", "z", "w"], ["v", "u", "t"]]
    assert bleu(other, SENTENCES, n=2) == 0.0


def test_bleu_of_a_partial_match():
    # "a man riding": unigrams 3/3 and bigrams 2/2 match the first sentence, and the
    # closest reference length is 9 (two sentences of 9 tokens), so BLEU-2 is the brevity
    # penalty exp(1 - 9/3) alone.
    score = bleu([["a", "man", "riding"]], SENTENCES, n=2)
    assert score == pytest.approx(math.exp(1 - 9 / 3))


def test_self_bleu_of_copies_is_high_and_of_random_sentences_low():
    assert self_bleu([SENTENCES[0]] * 5, n=(2, 3, 4, 5)) == pytest.approx(
        {2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0}
    )
    rng = random.Random(0)
    noise = [[rng.randrange(5000) for _ in range(10)] for _ in range(200)]
    assert self_bleu(noise, n=2) < 0.1
    assert self_bleu(SENTENCES, n=2) < self_bleu(SENTENCES + SENTENCES[:1], n=2)


def test_inputs_as_tensors_strings_and_subsets():
    rng = random.Random(1)
    corpus = torch.randint(0, 6, (30, 5), generator=torch.Generator().manual_seed(0))
    refs = torch.randint(0, 6, (40, 5), generator=torch.Generator().manual_seed(1))
    assert bleu(corpus, refs, n=3) == pytest.approx(bleu(corpus.tolist(), refs.numpy(), n=3))
    assert bleu(CAPTIONS[:2], CAPTIONS, n=4) == bleu(SENTENCES[:2], SENTENCES, n=4)
    sub = bleu(corpus, refs, n=2, sample=10, seed=rng.randrange(100))
    assert 0 < sub < 1
    assert self_bleu(corpus, n=2, sample=10, seed=4) == self_bleu(corpus, n=2, sample=10, seed=4)
    with pytest.raises(ValueError):
        self_bleu(SENTENCES[:1])


def test_agrees_with_nltk_exactly():
    nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")
    smoothing = nltk_bleu.SmoothingFunction().method1
    rng = random.Random(0)
    for _ in range(10):
        vocab = rng.choice([3, 6, 30])
        refs = random_corpus(rng, vocab, rng.randrange(1, 12))
        hyps = random_corpus(rng, vocab, rng.randrange(2, 8))
        for n in (2, 3, 4, 5):
            weights = (1.0 / n,) * n
            expected = sum(
                nltk_bleu.sentence_bleu(refs, h, weights, smoothing_function=smoothing)
                for h in hyps
            ) / len(hyps)
            assert bleu(hyps, refs, n) == pytest.approx(expected, abs=1e-12)
            expected_self = sum(
                nltk_bleu.sentence_bleu(
                    hyps[:i] + hyps[i + 1 :], hyps[i], weights, smoothing_function=smoothing
                )
                for i in range(len(hyps))
            ) / len(hyps)
            assert self_bleu(hyps, n) == pytest.approx(expected_self, abs=1e-12)


def test_nll_metrics():
    oracle = OracleLSTM.random(vocab=40, emb=4, hidden=4, seed=0)
    x = oracle.sample(25, 6, generator=torch.Generator().manual_seed(0))
    assert nll_oracle(oracle, x) == pytest.approx(oracle.nll(x).mean().item())
    assert nll_test(oracle.nll, x, batch_size=7) == pytest.approx(nll_oracle(oracle, x), abs=1e-6)


def test_temperature_sweep_records_the_temperature():
    oracle = OracleLSTM.random(vocab=40, emb=4, hidden=4, seed=0)

    def sample(tau: float) -> torch.Tensor:
        return oracle.sample(200, 6, generator=torch.Generator().manual_seed(0), temperature=tau)

    rows = temperature_sweep(
        sample, lambda x, tau: {"nll_oracle": nll_oracle(oracle, x)}, temperatures=(0.5, 1.0)
    )
    assert [row["temperature"] for row in rows] == [0.5, 1.0]
    assert rows[0]["nll_oracle"] < rows[1]["nll_oracle"]  # colder samples look better
