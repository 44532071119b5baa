"Fast checks of predfail.envs.gridworld, predfail.ppo and the gridworld adapter (pytest)."
import numpy as np
import pytest
import torch
import gymnasium as gym
from gymnasium.utils.env_checker import check_env

from predfail.envs.gridworld import (ENV_ID, GOAL, HAZARD, GridBatch, GridConfig, HazardGridEnv, Layout,
                                     absorption_logprob, make_pool, monte_carlo_failure, register_env, sample_layout)


def test_registered_and_env_checker_passes():
    register_env()  # idempotent
    assert ENV_ID in gym.registry
    env = gym.make(ENV_ID, render_mode="rgb_array")
    check_env(env.unwrapped, skip_render_check=False)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert env.render().shape == (128, 128, 3)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="exactly one goal"): Layout.from_strings(["S.."])
    with pytest.raises(ValueError, match="unreachable"): Layout.from_strings(["S#G"])
    with pytest.raises(ValueError, match="hazard"):
        Layout(np.array([[HAZARD, GOAL]], np.int8), np.zeros((1, 2), np.float32), (0, 0)).validate()
    with pytest.raises(ValueError, match="slip probabilities"): Layout.from_strings(["S.G"], slip=1.01)
    with pytest.raises(ValueError, match="slip must lie"): HazardGridEnv(slip=-0.5)
    env = HazardGridEnv()
    env.reset(seed=0)
    for bad in (4, -1, 0.5, "up"):
        with pytest.raises(ValueError, match="invalid action"): env.step(bad)


def test_dp_matches_hand_computation():
    # one row "HSG": each step fails w.p. a = P(move left), succeeds w.p. b = P(move right), else stays
    batch = GridBatch.from_layouts([Layout.from_strings(["HSG"], slip=0.2)])
    pi = torch.tensor([0.3, 0.4, 0.1, 0.2], dtype=torch.float64)
    sl = float(batch.slip[0, 0, 1])
    a = pi[3] * (1 - sl) + (1 - pi[3]) * sl / 3
    b = pi[1] * (1 - sl) + (1 - pi[1]) * sl / 3
    for T in (1, 3, 10):
        lp = absorption_logprob(batch, pi.expand(1, 3, 4).clone(), HAZARD, T)
        assert torch.allclose(lp.exp()[0], a * (1 - (1 - a - b) ** T) / (a + b), atol=1e-12)


def test_dp_gradcheck():
    pool = make_pool(2, seed=3, cfg=GridConfig(size=4, min_distance=2, max_steps=5))
    logits = torch.randn(2, 16, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: absorption_logprob(pool, z.softmax(-1), HAZARD, 5), (logits,))


def test_dp_agrees_with_monte_carlo():
    cfg = GridConfig(size=5, max_steps=10, min_distance=2)
    layouts = [sample_layout(np.random.default_rng(4), cfg), sample_layout(np.random.default_rng(5), cfg, rare=True)]
    batch = GridBatch.from_layouts(layouts, cfg.view_radius)
    torch.manual_seed(1)
    table = torch.randn(2, 25, 4).softmax(-1).double()
    p = absorption_logprob(batch, table, HAZARD, cfg.max_steps).exp()
    N = 1500
    for i, lay in enumerate(layouts):
        mc, _ = monte_carlo_failure(lay, table[i].numpy(), N, seed=i, cfg=cfg)
        pi = p[i].item()
        assert abs(mc - pi) < 4 * np.sqrt(pi * (1 - pi) / N) + 1e-3, (i, pi, mc)


def test_generator_and_env_are_seeded():
    cfg = GridConfig()
    a = [sample_layout(np.random.default_rng(9), cfg).to_strings() for _ in range(2)]
    assert a[0] == a[1]
    env = HazardGridEnv()
    runs = []
    for _ in range(2):
        o, _ = env.reset(seed=21)
        runs.append([o] + [env.step(2)[0] for _ in range(4)])
    assert all(np.array_equal(x, y) for x, y in zip(*runs))


def test_adapter_on_a_trained_policy():
    from predfail.ppo import PPOConfig, train_ppo
    from predfail.experiments.gridworld import GridworldFailureModel
    cfg = PPOConfig(total_steps=2048, n_envs=16, rollout_len=32, minibatch=256, pool_size=20)
    p1, _ = train_ppo(GridConfig(), cfg, progress=False)
    model = GridworldFailureModel(p1, make_pool(20, seed=1), make_pool(10, seed=2), chunk=7)
    lp = model.failure_logp(torch.arange(20))
    assert lp.shape == (20,) and (lp <= 0).all() and torch.isfinite(lp).all()
    model.task_loss(torch.Generator().manual_seed(0)).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_scores_portable_across_batch_sizes_and_threads():
    """The gridworld adapter's float32 scores under another chunking and thread count: bit-equal for the same chunks,
    and within a bound-derived tolerance otherwise (a different batch composition reorders float32 matmul sums)."""
    from predfail.ppo import GridPolicy
    from predfail.experiments.gridworld import GridworldFailureModel
    torch.manual_seed(0)
    policy, cfg = GridPolicy(), GridConfig()
    pool = make_pool(20, seed=5, cfg=cfg)
    threads = torch.get_num_threads()
    try:
        runs = {}
        for n_threads in (1, 2):
            torch.set_num_threads(n_threads)
            for chunk in (7, 512):
                with torch.no_grad():
                    runs[n_threads, chunk] = GridworldFailureModel(policy, pool, pool, chunk=chunk).failure_logp(torch.arange(20)).double()
        torch.set_num_threads(1)
        with torch.no_grad():  # the same computation again: bit-equal
            assert torch.equal(runs[1, 7], GridworldFailureModel(policy, pool, pool, chunk=7).failure_logp(torch.arange(20)).double())
    finally: torch.set_num_threads(threads)
    # Bound: each policy output is a dot product of length <= 150 + 64, so reordering changes it by at most
    # ~(150 + 64) eps32 relative; the DP's T = max_steps steps each add a few float32 roundings to log p.
    eps32 = torch.finfo(torch.float32).eps
    tol = 10 * (150 + 64 + 4 * cfg.max_steps) * eps32   # about 6e-4, a margin of 10 over the bound
    ref = runs[1, 512]
    for key, lp in runs.items():
        rel = ((lp - ref).abs() / ref.abs().clamp_min(1.0)).max().item()
        assert rel <= tol, (key, rel, tol)
