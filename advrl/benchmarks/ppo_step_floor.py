"""How fast can one PPO minibatch step be on this CPU? The floor under the 0.5x-SB3 target.

PPO's wall time on CartPole is mostly its ~7,800 minibatch steps, and on Pong its 160 Nature
CNN steps. This times one step in several ways, on the presets' sizes:

- CartPole (batch 256, actor and critic tanh MLPs 4-64-64-{2,1}):
  ``eager``, advrl's step (ActorCritic, torch.distributions, autograd, gradient clipping,
  fused Adam); ``compiled``, the same loss under torch.compile (its compile time printed
  apart); ``by hand``, the forward pass and the gradients written out without autograd,
  checked against autograd first, so that it times a correct step.
- Pong (batch 256 of 4x84x84 frames, Nature CNN and two heads): fp32, and bf16 autocast.

    python -m advrl.benchmarks.ppo_step_floor            # about a minute on 2 cores
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from advrl.agents.networks import ActorCritic, make_adam
from advrl.agents.ppo import clipped_policy_loss, value_loss

CLIP, VALUE_COEF, ENTROPY_COEF, MAX_GRAD_NORM = 0.2, 0.5, 0.01, 0.5


def median_ms(step: Callable[[], object], repeats: int = 5, calls: int = 300) -> float:
    """Median over ``repeats`` of the mean time of ``calls`` calls, after a warm-up."""
    for _ in range(50):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            step()
        times.append((time.perf_counter() - start) / calls * 1e3)
    return statistics.median(times)


def ppo_loss(policy: ActorCritic, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The loss advrl's PPO minimises, for one minibatch."""
    dist, values = policy(batch["obs"])
    adv = batch["adv"]
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    pg_loss, _, _ = clipped_policy_loss(
        dist.log_prob(batch["actions"]), batch["logprobs"], adv, CLIP
    )
    v_loss = value_loss(values, batch["values"], batch["returns"], None)
    return pg_loss + VALUE_COEF * v_loss - ENTROPY_COEF * dist.entropy().mean()


def autograd_step(
    policy: ActorCritic, loss_fn: Callable, batch: dict[str, torch.Tensor]
) -> Callable[[], None]:
    """One optimiser step the usual way: loss, backward, clip, Adam."""
    params = list(policy.parameters())
    optimizer = make_adam(params, lr=1e-4, eps=1e-5)

    def step() -> None:
        loss = loss_fn(policy, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM, foreach=True)
        optimizer.step()

    return step


@torch.no_grad()
def gradients_by_hand(policy: ActorCritic, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """PPO's gradients for two tanh MLPs and a categorical head, without autograd.

    Returned in ``policy.parameters()`` order (actor layers, then critic layers).
    """
    obs, actions, n = batch["obs"], batch["actions"].unsqueeze(1), len(batch["obs"])
    towers = [
        [m for m in policy.actor if isinstance(m, nn.Linear)],
        [m for m in policy.critic if isinstance(m, nn.Linear)],
    ]
    hidden: list[list[torch.Tensor]] = []  # each tower's input and tanh outputs
    outputs = []
    for layers in towers:
        h, seen = obs, [obs]
        for i, layer in enumerate(layers):
            h = torch.addmm(layer.bias, h, layer.weight.t())
            if i < len(layers) - 1:
                h = h.tanh_()
                seen.append(h)
        hidden.append(seen)
        outputs.append(h)
    logits, values = outputs[0], outputs[1].squeeze(1)

    log_probs = logits.log_softmax(1)
    probs = log_probs.exp()
    std, mean = torch.std_mean(batch["adv"])
    adv = (batch["adv"] - mean) / (std + 1e-8)
    ratio = (log_probs.gather(1, actions).squeeze(1) - batch["logprobs"]).exp()
    # The clipped term's gradient is zero where it is the larger one and clip is active.
    unclipped_wins = -adv * ratio >= -adv * ratio.clamp(1 - CLIP, 1 + CLIP)
    inside = (ratio > 1 - CLIP) & (ratio < 1 + CLIP)
    grad_log_prob = torch.where(unclipped_wins | inside, -adv * ratio, 0.0) / n
    entropy = -(probs * log_probs).sum(1, keepdim=True)
    grad_logits = -probs * grad_log_prob.unsqueeze(1)
    grad_logits.scatter_add_(1, actions, grad_log_prob.unsqueeze(1))
    grad_logits += (ENTROPY_COEF / n) * probs * (log_probs + entropy)
    grad_values = (2 * VALUE_COEF / n) * (values - batch["returns"])

    grads: list[torch.Tensor] = []
    for layers, seen, grad in zip(
        towers, hidden, (grad_logits, grad_values.unsqueeze(1)), strict=True
    ):
        tower_grads = []
        for i in reversed(range(len(layers))):
            tower_grads += [grad.sum(0), grad.t().mm(seen[i])]  # bias, weight
            if i > 0:
                grad = grad.mm(layers[i].weight).mul_(1 - seen[i] * seen[i])
        grads += tower_grads[::-1]
    return grads


def by_hand_step(policy: ActorCritic, batch: dict[str, torch.Tensor]) -> Callable[[], None]:
    """One optimiser step from ``gradients_by_hand``: clip and fused Adam, no autograd."""
    params = list(policy.parameters())
    optimizer = make_adam(params, lr=1e-4, eps=1e-5)

    def step() -> None:
        grads = gradients_by_hand(policy, batch)
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        torch._foreach_mul_(grads, (MAX_GRAD_NORM / (norm + 1e-6)).clamp(max=1.0))
        for param, grad in zip(params, grads, strict=True):
            param.grad = grad
        optimizer.step()

    return step


def cartpole_batch(policy: ActorCritic, n: int = 256) -> dict[str, torch.Tensor]:
    """A minibatch with CartPole's shapes, its old log-probs from ``policy`` slightly moved."""
    obs = torch.randn(n, 4)
    with torch.no_grad():
        dist, values = policy(obs)
        actions = dist.sample()
        logprobs = dist.log_prob(actions) + 0.3 * torch.randn(n)  # some ratios clip
    return {
        "obs": obs,
        "actions": actions,
        "logprobs": logprobs,
        "adv": torch.randn(n),
        "returns": torch.randn(n),
        "values": values,
    }


def check_gradients(policy: ActorCritic, batch: dict[str, torch.Tensor]) -> float:
    """Largest difference between the hand-written gradients and autograd's."""
    policy.zero_grad()
    ppo_loss(policy, batch).backward()
    by_hand = gradients_by_hand(policy, batch)
    differences = []
    for p, g in zip(policy.parameters(), by_hand, strict=True):
        if p.grad is None:
            raise RuntimeError(f"autograd gave no gradient for a parameter of shape {p.shape}")
        differences.append((p.grad - g).abs().max().item())
    return max(differences)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    box = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)

    policy = ActorCritic(box, gym.spaces.Discrete(2))
    batch = cartpole_batch(policy)
    error = check_gradients(policy, batch)
    assert error < 1e-5, f"hand-written gradients differ from autograd's by {error}"
    print(f"hand-written gradients match autograd's (max abs difference {error:.1e})")

    eager = median_ms(autograd_step(ActorCritic(box, gym.spaces.Discrete(2)), ppo_loss, batch))
    compiled_policy = ActorCritic(box, gym.spaces.Discrete(2))
    compiled_step = autograd_step(compiled_policy, torch.compile(ppo_loss, fullgraph=True), batch)
    start = time.perf_counter()
    compiled_step()
    compile_s = time.perf_counter() - start
    compiled = median_ms(compiled_step)
    by_hand = median_ms(by_hand_step(ActorCritic(box, gym.spaces.Discrete(2)), batch))
    print("\nCartPole minibatch step (batch 256, two 64x64 tanh MLPs), ms, median of 5:")
    print(f"  eager (advrl)   {eager:.3f}")
    print(f"  torch.compile   {compiled:.3f}  ({compiled / eager:.2f}x; compile {compile_s:.1f} s)")
    print(f"  by hand         {by_hand:.3f}  ({by_hand / eager:.2f}x)")

    frames = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    cnn_policy = ActorCritic(frames, gym.spaces.Discrete(6), hidden_sizes=(), shared=True)
    pong = {
        "obs": torch.randint(0, 256, (256, 4, 84, 84), dtype=torch.uint8),
        "actions": torch.randint(0, 6, (256,)),
        "logprobs": torch.full((256,), -1.8),
        "adv": torch.randn(256),
        "returns": torch.randn(256),
        "values": torch.randn(256),
    }

    def bf16_loss(policy: ActorCritic, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return ppo_loss(policy, batch).float()

    fp32 = median_ms(autograd_step(cnn_policy, ppo_loss, pong), repeats=3, calls=5)
    bf16 = median_ms(autograd_step(cnn_policy, bf16_loss, pong), repeats=3, calls=5)
    print("\nPong minibatch step (256 frames, Nature CNN), ms, median of 3:")
    print(f"  fp32            {fp32:.1f}")
    print(f"  bf16 autocast   {bf16:.1f}  ({bf16 / fp32:.2f}x)")


if __name__ == "__main__":
    main()
