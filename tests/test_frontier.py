"""The quality–diversity frontier: the gap to MLE's temperature curve, by hand."""

from __future__ import annotations

import math

import pytest

from advrl.gan.frontier import efficient_branch, frontier_gap, plot_frontier

# a U-shaped sweep: NLL-test is lowest at τ = 1; τ = 1.5 is dominated by τ = 1
MLE = [
    {"temperature": 0.5, "nll_oracle": 8.0, "nll_test": 9.0, "nll_oracle_se": 0.03},
    {"temperature": 0.75, "nll_oracle": 9.0, "nll_test": 8.0, "nll_oracle_se": 0.04},
    {"temperature": 1.0, "nll_oracle": 10.0, "nll_test": 7.5, "nll_oracle_se": 0.05},
    {"temperature": 1.5, "nll_oracle": 11.0, "nll_test": 8.5, "nll_oracle_se": 0.06},
]


def test_the_efficient_branch_stops_at_the_lowest_nll_test() -> None:
    assert [row["temperature"] for row in efficient_branch(MLE[::-1])] == [0.5, 0.75, 1.0]


def test_the_gap_interpolates_mle_in_nll_test() -> None:
    # NLL-test 8.5 lies halfway between τ = 0.5 (9.0) and 0.75 (8.0): MLE gives 8.5 there
    found = frontier_gap(MLE, {"nll_oracle": 8.3, "nll_test": 8.5, "nll_oracle_se": 0.02})
    assert found.gap == pytest.approx(-0.2)
    assert found.se == pytest.approx(math.sqrt(0.02**2 + 0.015**2 + 0.02**2))
    assert found.in_range
    # a quarter of the way from τ = 0.75 (8.0) to τ = 1 (7.5): 9.25
    above = frontier_gap(MLE, {"nll_oracle": 9.5, "nll_test": 7.875})
    assert above.gap == pytest.approx(0.25)
    assert above.se == pytest.approx(math.hypot(0.75 * 0.04, 0.25 * 0.05))


def test_mle_itself_lies_on_its_frontier() -> None:
    for row in MLE[:3]:
        assert frontier_gap(MLE, row).gap == pytest.approx(0.0)


def test_outside_the_curve_the_nearest_end_is_used_and_said() -> None:
    colder = frontier_gap(MLE, {"nll_oracle": 7.0, "nll_test": 10.0})
    assert (colder.gap, colder.in_range) == (pytest.approx(-1.0), False)
    better_test = frontier_gap(MLE, {"nll_oracle": 10.5, "nll_test": 7.0})
    assert (better_test.gap, better_test.in_range) == (pytest.approx(0.5), False)


def test_a_dominated_point_has_a_positive_gap() -> None:
    # τ = 1.5's own point: worse NLL-oracle than MLE at τ ~ 0.5-0.75 with the same NLL-test
    assert frontier_gap(MLE, MLE[3]).gap == pytest.approx(11.0 - 8.5)


def test_an_empty_sweep_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one point"):
        frontier_gap([], {"nll_oracle": 1.0, "nll_test": 1.0})


def test_the_plot_is_written(tmp_path) -> None:
    path = tmp_path / "frontier.png"
    plot_frontier({"MLE": MLE, "other": MLE[1:]}, oracle_nll=7.0, path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_on_real_text_the_gap_is_in_bleu4_and_positive_is_beyond_mle(tmp_path) -> None:
    bleu = [row | {"bleu4": 0.4 - 0.1 * row["temperature"]} for row in MLE]
    # NLL-test 8.5: halfway between τ = 0.5 (BLEU-4 0.35) and τ = 0.75 (0.325)
    found = frontier_gap(bleu, {"bleu4": 0.36, "nll_test": 8.5}, quality="bleu4")
    assert (found.gap, found.se, found.in_range) == (pytest.approx(0.0225), 0.0, True)
    path = tmp_path / "frontier_bleu.png"
    plot_frontier({"MLE": bleu}, path=path, quality="bleu4")
    assert path.read_bytes()[:4] == b"\x89PNG"
