"""AIRL's discriminator (advrl.gan.airl) against a hand computation, and its reward saved,
reloaded and read as g alone."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from advrl.core.errors import UserError
from advrl.gan.airl import (
    AIRLDiscriminator,
    make_airl_reward_model,
    save_airl_reward_model,
    transition_features,
)
from advrl.gan.transitions import pair_features
from advrl.plugins.gail import AIRLConfig, load_frozen_reward_model

OBS = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
ACTIONS = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)


def batch(n: int = 5, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    obs = rng.normal(2.0, 3.0, (n, 3)).astype(np.float32)
    actions = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    next_obs = rng.normal(2.0, 3.0, (n, 3)).astype(np.float32)
    terminals = np.array([False, True, False, False, True][:n])
    log_probs = rng.normal(-1.0, 0.5, n).astype(np.float32)
    return obs, actions, next_obs, terminals, log_probs


def by_hand(disc: AIRLDiscriminator, obs, actions, next_obs, terminals, log_probs) -> np.ndarray:
    """f(s, a, s') - log pi(a | s), one transition at a time, from the parts' own weights."""
    mean, std = disc.obs_norm.mean.numpy(), np.sqrt(disc.obs_norm.var.numpy() + 1e-8)
    logits = []
    rows = zip(obs, actions, next_obs, terminals, log_probs, strict=True)
    for s, a, s_next, done, log_pi in rows:
        s_norm = torch.tensor(np.clip((s - mean) / std, -10, 10), dtype=torch.float32)
        next_norm = torch.tensor(np.clip((s_next - mean) / std, -10, 10), dtype=torch.float32)
        g_in = s_norm if disc.state_only else torch.cat([s_norm, torch.tensor(a)])
        g = disc.g(g_in[None]).item()
        h, h_next = disc.h(s_norm[None]).item(), disc.h(next_norm[None]).item()
        f = g + disc.gamma * (0.0 if done else h_next) - h
        logits.append(f - log_pi)
    return np.array(logits)


@pytest.mark.parametrize("state_only", [True, False])
def test_airl_logit_is_g_plus_shaping_minus_log_pi(state_only):
    torch.manual_seed(0)
    disc = AIRLDiscriminator(OBS, ACTIONS, gamma=0.9, hidden_sizes=(8,), state_only=state_only)
    obs, actions, next_obs, terminals, log_probs = batch()
    disc.obs_norm.update(torch.as_tensor(np.concatenate([obs, next_obs])))
    disc.eval()
    rows = transition_features(obs, actions, next_obs, terminals, log_probs, ACTIONS)
    logits = disc(rows).detach().numpy()
    np.testing.assert_allclose(logits, by_hand(disc, *batch()), rtol=1e-5, atol=1e-5)
    # D = exp(f) / (exp(f) + pi(a|s)) is the sigmoid of that logit.
    f = logits + log_probs
    d = np.exp(f) / (np.exp(f) + np.exp(log_probs))
    np.testing.assert_allclose(torch.sigmoid(torch.tensor(logits)).numpy(), d, rtol=1e-5)


def test_a_terminal_step_drops_the_next_states_potential():
    torch.manual_seed(1)
    disc = AIRLDiscriminator(OBS, ACTIONS, gamma=0.99).eval()
    obs, actions, next_obs, _, log_probs = batch()
    alive = transition_features(obs, actions, next_obs, np.zeros(5), log_probs, ACTIONS)
    ended = transition_features(obs, actions, next_obs, np.ones(5), log_probs, ACTIONS)
    next_potential = disc.h(disc.obs_norm(torch.as_tensor(next_obs))).squeeze(1)
    np.testing.assert_allclose(
        (disc(alive) - disc(ended)).detach(), (0.99 * next_potential).detach(), rtol=1e-5
    )


def test_state_only_g_ignores_the_action_and_the_other_reads_it():
    torch.manual_seed(2)
    obs, actions, *_ = batch()
    other = -actions
    for state_only in (True, False):
        disc = AIRLDiscriminator(OBS, ACTIONS, 0.99, (8,), state_only).eval()
        same = torch.allclose(
            disc.reward(torch.as_tensor(obs), torch.as_tensor(actions)),
            disc.reward(torch.as_tensor(obs), torch.as_tensor(other)),
        )
        assert same == state_only


def test_observation_statistics_move_in_training_steps_only():
    model = make_airl_reward_model(OBS, ACTIONS, gamma=0.99)
    rows = transition_features(*batch(), ACTIONS)
    model.reward(rows)
    assert float(model.discriminator.obs_norm.count) < 1  # scoring leaves them alone
    model.update(rows, transition_features(*batch(seed=1), ACTIONS))
    assert float(model.discriminator.obs_norm.count) == pytest.approx(20, abs=1e-3)


@pytest.mark.parametrize(
    ("reading", "transform"), [("logit", None), ("neg_log_one_minus_d", "softplus")]
)
def test_a_saved_airl_reward_is_g_alone_over_pair_rows_read_as_the_agent_read_it(
    tmp_path, reading, transform
):
    torch.manual_seed(3)
    model = make_airl_reward_model(OBS, ACTIONS, gamma=0.95, hidden_sizes=(16,))
    for seed in range(3):  # train a little, so the statistics and weights are not initial
        model.update(
            transition_features(*batch(seed=seed), ACTIONS),
            transition_features(*batch(seed=seed + 10), ACTIONS),
        )
    options = {**AIRLConfig(hidden_sizes=(16,), reward=reading).__dict__}
    path = save_airl_reward_model(tmp_path / "reward_model.pt", model, options, OBS, ACTIONS)
    frozen = load_frozen_reward_model(path, OBS, ACTIONS)
    obs, actions, *_ = batch(seed=7)
    g = model.discriminator.eval().reward(torch.as_tensor(obs), torch.as_tensor(actions))
    expected = torch.nn.functional.softplus(g) if transform == "softplus" else g
    got = frozen.reward(pair_features(obs, actions, ACTIONS))
    torch.testing.assert_close(got, expected.detach())


def saved_reward_model(tmp_path):
    """An AIRL reward model trained one step, saved as a run saves it."""
    torch.manual_seed(3)
    model = make_airl_reward_model(OBS, ACTIONS, gamma=0.95, hidden_sizes=(16,))
    model.update(transition_features(*batch(seed=0), ACTIONS),
                 transition_features(*batch(seed=10), ACTIONS))  # fmt: skip
    options = {**AIRLConfig(hidden_sizes=(16,)).__dict__}
    return save_airl_reward_model(tmp_path / "reward_model.pt", model, options, OBS, ACTIONS)


def test_a_frozen_reward_read_above_its_floor_keeps_gs_order_and_pays_every_step(tmp_path):
    """reward=above_floor: g minus the lowest g scored so far, a floor that only falls and
    that a resumed run gets back from its checkpoint."""
    path = saved_reward_model(tmp_path)
    frozen = load_frozen_reward_model(path, OBS, ACTIONS, reading="above_floor")
    as_is = load_frozen_reward_model(path, OBS, ACTIONS, reading="logit")
    floors = []
    for seed in range(4):
        obs, actions, *_ = batch(n=5, seed=20 + seed)
        rows = pair_features(obs, actions, ACTIONS)
        g, got = as_is.reward(rows), frozen.reward(rows)
        floor = frozen.discriminator.floor.item()
        floors.append(floor)
        assert floor <= g.min().item() + 1e-6 and torch.all(got >= 0)
        torch.testing.assert_close(got, g - floor)  # the same order as g
    assert floors == sorted(floors, reverse=True)  # the floor only falls
    state = frozen.state_dict()
    again = load_frozen_reward_model(path, OBS, ACTIONS, reading="above_floor")
    again.load_state_dict(state)
    assert again.discriminator.floor.item() == floors[-1]


def test_a_frozen_reward_ranked_among_the_experts_states_is_the_share_g_scores_lower(tmp_path):
    """reward=expert_rank: the share of the expert's states whose g is at most this g, in
    [0, 1] and in g's order; without the expert's pairs it is refused."""
    path = saved_reward_model(tmp_path)
    expert_obs, expert_actions, *_ = batch(n=40, seed=30)
    expert = pair_features(expert_obs, expert_actions, ACTIONS)
    ranked = load_frozen_reward_model(path, OBS, ACTIONS, "expert_rank", expert)
    as_is = load_frozen_reward_model(path, OBS, ACTIONS, reading="logit")
    expert_g = as_is.reward(expert)
    obs, actions, *_ = batch(n=50, seed=31)
    rows = torch.cat([pair_features(obs, actions, ACTIONS), expert[:5]])
    g, got = as_is.reward(rows), ranked.reward(rows)
    share = (expert_g[None, :] <= g[:, None]).float().mean(1)  # by hand, pair by pair
    torch.testing.assert_close(got, share)
    assert torch.all((got >= 0) & (got <= 1)) and torch.all(got[-5:] > 0)
    order = torch.argsort(g)
    assert torch.all(torch.diff(got[order]) >= 0)  # the same order as g
    with pytest.raises(UserError, match="add --demos"):
        load_frozen_reward_model(path, OBS, ACTIONS, reading="expert_rank")


def test_the_gradient_penalty_constrains_g_alone_in_standardised_state_units():
    """gradient_penalty=λ: λ E (‖∇g(x̂)‖ - 1)² at x̂ between the expert's and the agent's
    standardised states, by hand; h and the log pi column take no part in it."""
    torch.manual_seed(4)
    model = make_airl_reward_model(OBS, ACTIONS, 0.99, (8,), gradient_penalty=10.0)
    disc = model.discriminator
    real = transition_features(*batch(seed=0), ACTIONS)
    fake = transition_features(*batch(seed=1), ACTIONS)
    disc.obs_norm.update(torch.cat([real[:, :3], fake[:, :3]]))
    torch.manual_seed(5)
    penalty = model._penalty(real, fake)
    torch.manual_seed(5)
    eps = torch.rand(5, 1)
    mean, std = disc.obs_norm.mean, torch.sqrt(disc.obs_norm.var + 1e-8)
    mixed = (eps * (real[:, :3] - mean) / std + (1 - eps) * (fake[:, :3] - mean) / std).float()
    mixed.requires_grad_(True)
    (grad,) = torch.autograd.grad(disc.g(mixed).sum(), mixed)
    by_hand_penalty = 10.0 * ((grad.norm(dim=1) - 1) ** 2).mean()
    torch.testing.assert_close(penalty, by_hand_penalty)
    other_log_pi = real.clone()
    other_log_pi[:, -1] -= 3.0
    torch.manual_seed(5)
    torch.testing.assert_close(model._penalty(other_log_pi, fake), penalty)
    disc.zero_grad()
    penalty.backward()
    assert all(p.grad is None for p in disc.h.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in disc.g.parameters())


def test_the_gradient_penalty_keeps_g_from_falling_steeply_off_the_experts_states():
    """Trained to tell apart two clusters of states, an unpenalised g drops between them by
    more than twice what the penalised one does, whose slope there stays near 1."""

    def rows(centre: float, seed: int) -> torch.Tensor:
        rng = np.random.default_rng(seed)
        obs = rng.normal(centre, 0.5, (64, 3)).astype(np.float32)
        actions = rng.uniform(-1, 1, (64, 2)).astype(np.float32)
        log_probs = np.full(64, -1.0, np.float32)
        return transition_features(obs, actions, obs, np.ones(64), log_probs, ACTIONS)

    drops, slopes = {}, {}
    for weight in (None, 10.0):
        torch.manual_seed(6)
        model = make_airl_reward_model(OBS, ACTIONS, 0.99, (32, 32), gradient_penalty=weight)
        for step in range(400):
            model.update(rows(1.5, step), rows(-1.5, 10_000 + step))
        disc = model.discriminator.eval()
        expert, agent = rows(1.5, 99_999)[:, :3], rows(-1.5, 99_998)[:, :3]
        g_expert = disc.reward(expert, expert[:, :2]).mean()
        g_agent = disc.reward(agent, agent[:, :2]).mean()
        drops[weight] = float((g_expert - g_agent).detach())
        inputs = disc.reward_inputs(0.5 * (expert + agent), expert[:, :2]).requires_grad_(True)
        (grad,) = torch.autograd.grad(disc.reward_of_inputs(inputs).sum(), inputs)
        slopes[weight] = float(grad.norm(dim=1).median())
    assert drops[None] > 2 * drops[10.0] > 0, drops  # 4.4 against 1.8
    assert 0.8 < slopes[10.0] < 1.2 and slopes[None] > 1.5, slopes  # 1.0 against 1.9
