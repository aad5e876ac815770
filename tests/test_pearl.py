"""PEARL: product-of-Gaussians posterior, once-per-episode posterior sampling, gradient flow, resume."""

import numpy as np
import pytest
import torch

from borel_lib.baselines.common import evaluate
from borel_lib.baselines.pearl import PEARLConfig, PEARLTrainer, run_pearl
from borel_lib.baselines.task_encoder import ContextEncoder, kl_diag, kl_to_prior, product_of_gaussians


def test_product_of_gaussians_closed_form():
    # N(0, 1) x N(2, 1) ∝ N(1, 1/2); N(1, 1) x N(4, 4) ∝ N(1.6, 0.8) (precision-weighted)
    mu = torch.tensor([[[0.0, 1.0], [2.0, 4.0]]])
    var = torch.tensor([[[1.0, 1.0], [1.0, 4.0]]])
    m, v = product_of_gaussians(mu, var)
    torch.testing.assert_close(m, torch.tensor([[1.0, 1.6]]))
    torch.testing.assert_close(v, torch.tensor([[0.5, 0.8]]))
    # a masked-out factor changes nothing; an all-masked set is the prior
    m2, v2 = product_of_gaussians(torch.cat([mu, torch.full((1, 1, 2), 9.0)], 1),
                                  torch.cat([var, torch.ones(1, 1, 2)], 1), mask=torch.tensor([[1.0, 1.0, 0.0]]))
    torch.testing.assert_close((m2, v2), (m, v))
    m0, v0 = product_of_gaussians(mu, var, mask=torch.zeros(1, 2))
    torch.testing.assert_close((m0, v0), (torch.zeros(1, 2), torch.ones(1, 2)))


def test_product_is_order_invariant_and_kl_formulas():
    enc = ContextEncoder(5, 3, (8,), seed=0)
    c = torch.randn(2, 7, 5, generator=torch.Generator().manual_seed(1))
    m, v = enc(c)
    m2, v2 = enc(c[:, torch.randperm(7, generator=torch.Generator().manual_seed(2))])
    torch.testing.assert_close((m, v), (m2, v2))
    assert enc(c[:, :0])[1].eq(1).all()  # empty context: the prior
    p = torch.distributions.Normal(m, v.sqrt())
    q = torch.distributions.Normal(torch.zeros_like(m), torch.ones_like(v))
    torch.testing.assert_close(kl_to_prior(m, v), torch.distributions.kl_divergence(p, q).sum(-1))
    q2 = torch.distributions.Normal(m2.flip(0), (v2.flip(0) * 2).sqrt())
    torch.testing.assert_close(kl_diag(m, v, m2.flip(0), 2 * v2.flip(0)), torch.distributions.kl_divergence(p, q2).sum(-1))


@pytest.fixture()
def trainer():
    return PEARLTrainer("semicircle", PEARLConfig.for_profile("smoke"), seed=0)


def test_posterior_sampled_once_per_episode_from_accumulated_context(trainer):
    agent = trainer.agent
    calls, contexts = [], []
    orig_sample, orig_post = agent.sample_z, agent.posterior

    def counting_sample(mu, var, generator=None):
        calls.append(mu.shape)
        return orig_sample(mu, var, generator)

    def counting_posterior(ctx):
        contexts.append(ctx.shape)
        return orig_post(ctx)

    agent.sample_z, agent.posterior = counting_sample, counting_posterior
    rec = {}
    tasks = trainer.eval_tasks
    ev = evaluate(agent, "semicircle", tasks, 0, record=rec)
    H, n = trainer.H, len(tasks)
    assert len(calls) == 2, "one z draw (for all tasks) at the start of each of the k = 2 episodes"
    assert contexts == [(n, H, trainer.context_dim)], "episode 2's posterior sees all of episode 1"
    z = rec["z"]
    assert z.shape[:2] == (n, 2 * H)
    assert np.all(z[:, :H] == z[:, :1]) and np.all(z[:, H:] == z[:, H : H + 1]), "z is fixed within an episode"
    assert not np.allclose(z[:, 0], z[:, H])
    assert set(ev.metric) == {"return", "success"} and len(ev) == n * 2 * 2


def test_encoder_learns_only_from_the_critic_and_kl(trainer):
    trainer.collect_iteration()
    hits = {"n": 0}
    for p in trainer.agent.encoder.parameters():
        p.register_hook(lambda g: hits.__setitem__("n", hits["n"] + 1))
    trainer.train_step()
    assert hits["n"] == len(list(trainer.agent.encoder.parameters())), "one backward (Q + KL) reaches the encoder"


def _params(agent):
    return {k: v.clone() for k, v in agent.state_dict().items()}


def test_resume_equals_uninterrupted(tmp_path):
    cfg = PEARLConfig.for_profile("smoke", iterations=2)
    straight = PEARLTrainer("semicircle", cfg, seed=3)
    rows_a = straight.train(tmp_path / "a.pt", progress=False)
    first = PEARLTrainer("semicircle", cfg.replace(iterations=1), seed=3)
    first.train(tmp_path / "b.pt", progress=False)
    resumed = PEARLTrainer("semicircle", cfg, seed=3)
    rows_b = resumed.train(tmp_path / "b.pt", progress=False)
    assert rows_a.equals(rows_b)
    pa, pb = _params(straight.agent), _params(resumed.agent)
    for k in pa:
        torch.testing.assert_close(pa[k], pb[k], rtol=0, atol=0)
    with pytest.raises(ValueError, match="different configuration"):
        PEARLTrainer("semicircle", cfg.replace(kl_lambda=0.5), seed=3).train(tmp_path / "b.pt", progress=False)


def test_oracle_task_and_results_table():
    df = run_pearl("semicircle", "smoke", seed=0, oracle_task=True, progress=False, device="cpu")
    assert {"return", "success", "best_return", "final_return", "best_success", "final_success"} <= set(df.metric)
    assert set(df.method) == {"pearl_oracle_task"}
    assert (df.episode.isin([1, 2])).all()
    # the last evaluation's trials, as a trajectory table whose rewards add up to its returns
    from borel_lib.results import read_results

    traj = read_results("pearl_oracle_task_semicircle_seed0_traj", "smoke")
    got = traj[traj.metric == "reward"].groupby(["task", "episode"]).value.sum().groupby("episode").mean()
    last = df[df.metric == "final_return"].set_index("episode").value
    np.testing.assert_allclose(got.loc[[1, 2]].to_numpy(), last.loc[[1, 2]].to_numpy(), atol=1e-4)


@pytest.mark.parametrize("domain", ["wind", "escape_room"])
def test_transition_domains_see_next_states_and_their_reward(domain):
    """Wind / Escape-Room: the context holds s' (tasks differ in transitions); SAC's reward is Wind's shaped
    one or Escape-Room's sparse one; a smoke run trains and evaluates."""
    from borel_lib.envs import make_env

    cfg = PEARLConfig.for_domain(domain, "smoke")
    assert cfg.use_next_obs_in_context and cfg.rl_reward == ("dense" if domain == "wind" else "sparse")
    trainer = PEARLTrainer(domain, cfg, seed=0)
    assert trainer.context_dim == 2 * trainer.obs_dim + trainer.act_dim + 1
    trainer.collect_iteration()
    t = int(np.flatnonzero(trainer.rl_buffers.size)[0])
    n = trainer.rl_buffers.size[t]
    d = {k: v[:n] for k, v in trainer.rl_buffers.data[t].items()}
    env = make_env(domain)
    task = np.broadcast_to(trainer.train_tasks[t], (n, env.task_dim))
    np.testing.assert_allclose(d["rewards"], env.reward(d["obs"], d["actions"], d["next_obs"], task))  # sparse
    want = env.dense_reward(d["obs"], d["actions"], d["next_obs"], task) if domain == "wind" else d["rewards"]
    np.testing.assert_allclose(d["rl_rewards"], want, rtol=1e-6)
    df = run_pearl(domain, "smoke", seed=0, progress=False, device="cpu")
    assert {"best_return", "final_return"} <= set(df.metric)
    with pytest.raises(ValueError, match="escape_room has no dense reward"):
        PEARLTrainer("escape_room", cfg.replace(rl_reward="dense"))


@pytest.mark.parametrize("domain", ["ant_semicircle", "cheetah_vel"])
def test_mujoco_domains_collect_batched_and_train(domain):
    """MuJoCo: training steps a BatchedMujocoTrial (Cheetah: fresh reset noise per episode); Ant's context keeps the
    sparse reward and SAC learns from the dense one, Cheetah's both from its one reward; a smoke run
    trains and evaluates; the quick and paper sizes are the MuJoCo ones."""
    from borel_lib.envs import make_env

    cfg = PEARLConfig.for_domain(domain, "smoke")
    assert cfg.gamma == 0.99 and cfg.reward_scale == 5.0 and not cfg.use_next_obs_in_context
    assert PEARLConfig.for_domain(domain, "paper").train_steps_per_iter == 2000
    assert PEARLConfig.for_domain(domain, "quick").num_steps_posterior == 0
    trainer = PEARLTrainer(domain, cfg, seed=0)
    trainer.collect_iteration()  # the initial prior episodes of every task, then the picked tasks'
    t = int(np.argmax(trainer.rl_buffers.size))
    n = trainer.rl_buffers.size[t]
    assert n >= 2 * trainer.H
    d = {k: v[:n] for k, v in trainer.rl_buffers.data[t].items()}
    env = make_env(domain)
    task = np.broadcast_to(trainer.train_tasks[t], (n, env.task_dim))
    # recomputed from the buffers' float32 states: Cheetah's velocity divides a position difference by dt
    np.testing.assert_allclose(d["rewards"], env.reward(d["obs"], d["actions"], d["next_obs"], task), atol=1e-3)
    want = env.dense_reward(d["obs"], d["actions"], d["next_obs"], task) if domain == "ant_semicircle" else d["rewards"]
    np.testing.assert_allclose(d["rl_rewards"], want, rtol=1e-5, atol=1e-6)
    starts = d["obs"][:: trainer.H][:2]
    # Ant's fixed start is exactly the origin; Cheetah's carries reset noise, drawn afresh per episode
    assert np.array_equal(starts[0], starts[1]) == (domain == "ant_semicircle")
    df = run_pearl(domain, "smoke", seed=0, progress=False, device="cpu")
    assert {"best_return", "final_return"} <= set(df.metric) and (df.episode.isin([1, 2])).all()


def test_bad_config_names_the_field():
    with pytest.raises(ValueError, match="rl_reward"):
        PEARLConfig(rl_reward="shaped")
    with pytest.raises(ValueError, match="num_tasks_sample"):
        PEARLConfig(n_train_tasks=2, num_tasks_sample=3)


def test_context_sees_the_sparse_reward_and_sac_the_dense_one(trainer):
    trainer.collect_iteration()
    t = int(np.flatnonzero(trainer.rl_buffers.size)[0])
    n = trainer.rl_buffers.size[t]
    data = {k: v[:n] for k, v in trainer.rl_buffers.data[t].items()}
    assert set(np.unique(data["rewards"])) <= {0.0, 1.0}
    np.testing.assert_allclose(data["rl_rewards"], -np.linalg.norm(data["next_obs"] - trainer.train_tasks[t], axis=-1),
                               rtol=1e-5)
    np.testing.assert_allclose(data["next_obs"], data["obs"] + 0.1 * np.clip(data["actions"], -1, 1), atol=1e-6)
    # the encoder buffer of a task picked this iteration holds only this iteration's episodes
    picked_sizes = set(trainer.enc_buffers.size[trainer.enc_buffers.size != trainer.cfg.num_initial_steps // 60 * 60])
    assert picked_sizes <= {60 * (1 + 1)}  # smoke: one prior and one posterior episode


def test_dense_context_holds_the_dense_reward_in_training_and_at_test():
    """``context_reward="dense"``: the encoder's buffers and the test-time context hold −‖s' − g‖; SAC's reward
    is unchanged; the default keeps the sparse reward in both places."""
    dense = PEARLTrainer("semicircle", PEARLConfig.for_profile("smoke", context_reward="dense"), seed=0)
    dense.collect_iteration()
    t = int(np.flatnonzero(dense.enc_buffers.size)[0])
    n = dense.enc_buffers.size[t]
    data = {k: v[:n] for k, v in dense.enc_buffers.data[t].items()}
    want = -np.linalg.norm(data["next_obs"] - dense.train_tasks[t], axis=-1)
    np.testing.assert_allclose(data["rewards"], want, rtol=1e-5)
    np.testing.assert_allclose(data["rl_rewards"], want, rtol=1e-5)
    seen = []
    orig = dense.agent.posterior

    def spy(ctx):
        seen.append(ctx.detach().cpu().numpy())
        return orig(ctx)

    dense.agent.posterior = spy
    rec = {}
    tasks = dense.eval_tasks
    evaluate(dense.agent, "semicircle", tasks, 0, record=rec, context_reward=dense.context_reward)
    ctx = seen[0]  # episode 2's posterior: all of episode 1, context (s, a, r)
    H = dense.H
    next_pos = rec["next_obs"][:, :H, :-1]
    np.testing.assert_allclose(ctx[..., -1], -np.linalg.norm(next_pos - tasks[:, None], axis=-1), rtol=1e-5, atol=1e-6)
    sparse = []
    dense.agent.posterior = lambda c: (sparse.append(c.detach().cpu().numpy()), orig(c))[1]
    evaluate(dense.agent, "semicircle", tasks, 0, record={})
    np.testing.assert_array_equal(sparse[0][..., -1], rec["rewards"][:, :H])


def test_settings_name_the_run_and_defaults_do_not(tmp_path):
    from borel_lib.baselines.pearl import named_settings, run_tag

    quick_tspi = PEARLConfig.for_domain("semicircle", "quick").train_steps_per_iter
    given, settings = named_settings("semicircle", "quick", {"train_steps_per_iter": quick_tspi, "eval_every": 1,
                                                             "context_reward": "dense", "hidden": (64, 64)})
    assert given == (("context_reward", "dense"), ("eval_every", 1), ("hidden", (64, 64)))  # the command's
    assert settings == (("context_reward", "dense"), ("hidden", (64, 64)))  # the name's: evaluation is not a setting
    assert run_tag("semicircle", 2, settings=settings) == "pearl_semicircle_ctxdense_h64x64_seed2"
    assert run_tag("semicircle", 2) == "pearl_semicircle_seed2"
    with pytest.raises(ValueError, match="iterations"):
        named_settings("semicircle", "quick", {"iterations": 7})
    with pytest.raises(ValueError, match="settings="):
        run_pearl("semicircle", "smoke", progress=False, context_reward="dense")
    df = run_pearl("semicircle", "smoke", seed=0, progress=False, device="cpu", settings=(("context_reward", "dense"),))
    assert set(df.method) == {"pearl_ctxdense"}  # its own method: never pooled with the default PEARL's seeds
    from borel_lib.results import read_results_config

    assert read_results_config("pearl_semicircle_ctxdense_seed0", "smoke")["command"].endswith("--pearl context_reward=dense")


def test_diagnostics_measure_context_posterior_and_search():
    """pearl_diagnostics on a smoke trainer: the context share is the share of buffer transitions inside the goal
    disc (checked by hand), the posterior numbers are the q(z | c) episode 2 samples from, the search metrics are
    shares."""
    from borel_lib.baselines.pearl_diagnostics import context_information, pearl_diagnostics

    tr = PEARLTrainer("semicircle", PEARLConfig.for_profile("smoke"), seed=0)
    tr.collect_iteration()
    tr.train_step()
    t = int(np.flatnonzero(tr.enc_buffers.size)[0])
    n = int(tr.enc_buffers.size[t])
    tr.enc_buffers.data[t]["next_obs"][: n // 2] = tr.train_tasks[t]  # half of task t's context at its goal
    tr.enc_buffers.data[t]["next_obs"][n // 2 : n] = tr.train_tasks[t] + 1.0  # the rest far from it
    for other in range(tr.cfg.n_train_tasks):
        if other != t:
            tr.enc_buffers.clear(other)
    info = context_information(tr)
    assert info == {"context_goal_share": pytest.approx(0.5 if n % 2 == 0 else (n // 2) / n),
                    "context_tasks_without_goal": 0.0}
    df = pearl_diagnostics(tr)
    got = dict(zip(df.metric, df.value))
    assert {"posterior_std_ep2", "posterior_mean_abs_ep2", "success_ep1", "success_ep2", "found_ep1",
            "search_then_go"} <= set(got)
    assert got["posterior_std_ep2"] > 0 and 0 <= got["search_then_go"] <= got["found_ep1"] <= 1
    assert 0 <= got["success_own_context_train"] <= 1
    assert 0 <= got["success_ep2_training_prior"] <= 1


def test_a_checkpoint_saved_before_a_field_existed_resumes(tmp_path):
    """A checkpoint whose config lacks a field added since (here context_reward) is read with that field's default."""
    cfg = PEARLConfig.for_profile("smoke", iterations=1)
    first = PEARLTrainer("semicircle", cfg, seed=3)
    first.train(tmp_path / "a.pt", progress=False)
    state = torch.load(tmp_path / "a.pt", weights_only=False)
    del state["config"]["context_reward"]
    resumed = PEARLTrainer("semicircle", cfg.replace(iterations=2), seed=3)
    resumed.load_state_dict(state)
    assert resumed.iteration == 1
