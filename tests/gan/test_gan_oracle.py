"""The oracle LSTM: the paper's equations, exact sampling, determinism, the paper's entropy."""

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from advrl.core.errors import UserError
from advrl.gan import OracleLSTM, sample_from_logits
from advrl.gan.oracle import NPZ_KEYS, block_width

PAPER_NPZ = Path(__file__).parents[2].parent / "shared" / "benchmarks" / "seqgan_oracle"
PAPER_NPZ = PAPER_NPZ / "target_params.npz"
needs_paper = pytest.mark.skipif(
    not PAPER_NPZ.is_file(), reason=f"the paper's oracle parameters are not at {PAPER_NPZ}"
)


def numpy_nll(params: dict[str, np.ndarray], sequences: np.ndarray) -> np.ndarray:
    """The benchmarks README's equations, written out in float64 one step at a time."""
    p = {key: params[key].astype(np.float64) for key in params}

    def sigmoid(a):
        return 1 / (1 + np.exp(-a))

    n, length = sequences.shape
    h = np.zeros((n, p["U_i"].shape[0]))
    c = np.zeros_like(h)
    previous = np.zeros(n, dtype=np.int64)  # start token 0
    total = np.zeros(n)
    for t in range(length):
        x = p["embedding"][previous]
        i = sigmoid(x @ p["W_i"] + h @ p["U_i"] + p["b_i"])
        f = sigmoid(x @ p["W_f"] + h @ p["U_f"] + p["b_f"])
        o = sigmoid(x @ p["W_o"] + h @ p["U_o"] + p["b_o"])
        c_tilde = np.tanh(x @ p["W_c"] + h @ p["U_c"] + p["b_c"])
        c = f * c + i * c_tilde
        h = o * np.tanh(c)
        logits = h @ p["W_out"] + p["b_out"]
        top = logits.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
        total += log_z - logits[np.arange(n), sequences[:, t]]
        previous = sequences[:, t]
    return total / length


@pytest.fixture(scope="module")
def paper_oracle() -> OracleLSTM:
    return OracleLSTM.from_npz(PAPER_NPZ)


@needs_paper
def test_nll_matches_a_numpy_reference_on_the_paper_oracle(paper_oracle):
    with np.load(PAPER_NPZ) as npz:
        params = {key: npz[key] for key in npz.files}
    sequences = paper_oracle.sample(20, 20, generator=torch.Generator().manual_seed(1))
    sequences[:5] = torch.randint(0, 5000, (5, 20))  # and some it would rarely produce
    expected = numpy_nll(params, sequences.numpy())
    np.testing.assert_allclose(paper_oracle.nll(sequences).numpy(), expected, rtol=1e-4)


@needs_paper
def test_samples_of_the_paper_oracle_have_its_entropy(paper_oracle):
    # The paper reports NLL-oracle 5.75 for the oracle's own samples (its per-token entropy).
    samples = paper_oracle.sample(2000, 20, generator=torch.Generator().manual_seed(0))
    assert paper_oracle.nll(samples).mean().item() == pytest.approx(5.75, abs=0.3)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_sampling_frequencies_match_the_model(temperature):
    # All 36 sequences of length 2 over V = 6: observed counts vs exp(-2 * nll), a
    # chi-square test with 35 degrees of freedom (99.99th percentile about 73).
    oracle = OracleLSTM.random(vocab=6, emb=4, hidden=4, seed=2)
    n = 40_000
    samples = oracle.sample(
        n, 2, generator=torch.Generator().manual_seed(0), temperature=temperature
    )
    every = torch.tensor(list(itertools.product(range(6), repeat=2)))
    probs = torch.exp(-2 * oracle.nll(every, temperature=temperature).double())
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-5)
    counts = torch.bincount(samples[:, 0] * 6 + samples[:, 1], minlength=36).double()
    expected = n * probs
    assert expected.min() > 5, "the test needs every cell to be reasonably likely"
    chi2 = ((counts - expected) ** 2 / expected).sum().item()
    assert chi2 < 73


@pytest.mark.parametrize("width", [130, 131])
def test_two_level_sampler_is_exact_across_blocks_and_skips_zero_mass(width):
    # V = 130: two blocks of 65 (a divisor, no padding); V = 131 (prime): three blocks of
    # 64, the last one padded. Tokens 60-69 (across the first block boundary either way)
    # and the last token have zero mass.
    assert (block_width(130), block_width(131), block_width(5000)) == (65, 64, 50)
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(width, generator=g)
    logits[60:70] = -float("inf")
    logits[width - 1] = -float("inf")
    n = 100_000
    tokens = sample_from_logits(logits.expand(n, width).clone(), generator=g)
    counts = torch.bincount(tokens, minlength=width).double()
    assert counts[60:70].sum() == 0 and counts[width - 1] == 0
    expected = n * torch.softmax(logits.double(), 0)
    live = expected > 0
    dof = int(live.sum()) - 1
    chi2 = ((counts[live] - expected[live]) ** 2 / expected[live]).sum().item()
    assert chi2 < dof + 6 * (2 * dof) ** 0.5  # mean + 6 sd


def test_same_seed_same_samples_whatever_the_batch_size():
    oracle = OracleLSTM.random(vocab=100, emb=8, hidden=8, seed=0)

    def draw(seed: int, batch_size: int) -> torch.Tensor:
        return oracle.sample(
            50, 7, generator=torch.Generator().manual_seed(seed), batch_size=batch_size
        )

    first = draw(0, 256)
    assert first.shape == (50, 7) and first.dtype == torch.long
    assert torch.equal(first, draw(0, 256))
    assert torch.equal(first, draw(0, 16))
    assert not torch.equal(first, draw(1, 256))


def test_random_oracle_is_seeded_and_standard_normal():
    a, b = OracleLSTM.random(seed=5), OracleLSTM.random(seed=5)
    assert all(torch.equal(x, y) for x, y in zip(a.buffers(), b.buffers(), strict=True))
    assert not torch.equal(a.w_out, OracleLSTM.random(seed=6).w_out)
    assert a.vocab_size == 5000 and a.embed_dim == 32 and a.hidden_dim == 32
    assert a.w_out.std().item() == pytest.approx(1.0, abs=0.02)
    assert a.embedding.mean().item() == pytest.approx(0.0, abs=0.02)


def test_npz_round_trip(tmp_path):
    oracle = OracleLSTM.random(vocab=40, emb=6, hidden=5, seed=1)
    oracle.to_npz(tmp_path / "oracle.npz")
    with np.load(tmp_path / "oracle.npz") as npz:
        assert set(npz.files) == set(NPZ_KEYS)
        assert npz["W_f"].shape == (6, 5) and npz["U_c"].shape == (5, 5)
    loaded = OracleLSTM.from_npz(tmp_path / "oracle.npz")
    x = oracle.sample(10, 6, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(loaded.nll(x), oracle.nll(x))


def test_forward_logits_agree_with_nll():
    oracle = OracleLSTM.random(vocab=30, emb=4, hidden=4, seed=2)
    x = oracle.sample(5, 4, generator=torch.Generator().manual_seed(0))
    logits = oracle(x)  # (B, T, V)
    nll = -torch.log_softmax(logits, -1).gather(2, x.unsqueeze(2)).squeeze(2).mean(1)
    torch.testing.assert_close(oracle.nll(x), nll)


def test_bad_parameter_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        OracleLSTM.from_npz(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(UserError, match="cannot read"):
        OracleLSTM.from_npz(tmp_path / "text.npz")
    np.savez(tmp_path / "partial.npz", embedding=np.zeros((5, 2)))
    with pytest.raises(UserError, match="lacks the arrays W_i"):
        OracleLSTM.from_npz(tmp_path / "partial.npz")
    with pytest.raises(UserError, match="temperature"):
        OracleLSTM.random(vocab=5, emb=2, hidden=2).sample(2, 2, temperature=0)
