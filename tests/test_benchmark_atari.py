"""The Atari paths benchmark, shrunk: both paths measured, medians and ratios."""

from advrl.benchmark_atari import atari_vec_suite, format_atari_vec_table


def test_both_paths_are_measured():
    result = atari_vec_suite(num_envs=2, env_steps=20, train_steps=256, repeats=1)
    for vec in ("auto", "sync"):
        assert result["medians"][vec]["env_sps"] > 0 and result["medians"][vec]["train_sps"] > 0
    assert result["ratio_env_sps"] > 0
    assert "ale-py C++" in format_atari_vec_table(result)
