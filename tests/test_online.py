"""Online meta-RL (borel_lib.online): on-policy VariBAD (PPO) and off-policy VariBAD (DQN / SAC on relabelled
replay) with the same belief; their updates, the belief relabelling of the replay, resuming and the commands."""

import numpy as np
import pandas as pd
import pytest
import torch

from borel_lib.config import PROFILES, ConfigError
from borel_lib.envs import make_env
from borel_lib.online.common import (
    DOMAINS,
    TrialBuffer,
    build_vae,
    trial_hyper_states,
    varibad_elbo,
)
from borel_lib.online.ppo import gae
from borel_lib.online.varibad_offpolicy import OffPolicyVariBADConfig, VariBADOffPolicy
from borel_lib.online.varibad_ppo import VariBADPPO, VariBADPPOConfig

LEARNERS = (VariBADPPO, VariBADOffPolicy)


pytestmark = pytest.mark.usefixtures("one_thread")


def _params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before: dict, module: torch.nn.Module) -> set[str]:
    return {k for k, v in module.state_dict().items() if not torch.equal(before[k], v)}


def _trainer(cls, domain="gridworld", **overrides):
    return cls(domain, cls.config_class.for_domain(domain, "smoke", **overrides), seed=0)


def test_budgets_and_iterations_are_the_same_for_both_learners():
    for profile in PROFILES:
        for domain in DOMAINS:
            ppo = VariBADPPOConfig.for_domain(domain, profile)
            off = OffPolicyVariBADConfig.for_domain(domain, profile)
            shared = ("env_steps", "eval_every_steps", "n_envs", "gru_hidden", "latent_dim", "kl_weight", "time_input")
            assert {k: getattr(ppo, k) for k in shared} == {k: getattr(off, k) for k in shared}, (profile, domain)
            T = {"gridworld": 60, "semicircle": 120}[domain]
            assert ppo.policy_num_steps == T  # both learners take n_envs x T steps per iteration
    grid = VariBADPPOConfig.for_domain("gridworld", "paper")  # the official Gridworld values
    assert (grid.env_steps, grid.ppo_clip, grid.gamma, grid.gae_lambda, grid.ppo_epochs, grid.ppo_minibatches,
            grid.kl_weight, grid.vae_batch_trials, grid.gru_hidden, grid.actor_hidden) == (
        20_000_000, 0.05, 0.95, 0.95, 2, 4, 0.01, 25, 64, (32,))
    point = VariBADPPOConfig.for_domain("semicircle", "paper")
    assert (point.ppo_clip, point.gamma, point.entropy_coef, point.kl_weight, point.actor_hidden) == (
        0.1, 0.99, 0.001, 1.0, (128, 128, 128))


def test_varibad_elbo_sums_what_borels_loss_averages():
    """Bernoulli cells: the same sums as BOReL's loss; squared error: summed over j (BOReL: the mean, T times
    smaller); the KL summed over the batch with kl_batch_sum."""
    for domain in DOMAINS:
        tr = _trainer(VariBADPPO, domain, decode_subset=None)  # every (t, j) pair, as BOReL's loss then decodes
        out = tr.run_trials(tr._act)
        batch = {k: torch.as_tensor(v) for k, v in out.items() if k in ("obs", "rewards", "next_obs")}
        batch["actions"] = torch.as_tensor(tr.vae_actions(out["actions"]))
        T = out["rewards"].shape[1]
        _, ours = varibad_elbo(tr.vae, batch, 0.0, False, None, torch.Generator().manual_seed(1))
        _, borel = tr.vae.loss(batch["obs"], batch["actions"], batch["rewards"], batch["next_obs"],
                               torch.Generator().manual_seed(1))
        factor = 1.0 if domain == "gridworld" else T
        torch.testing.assert_close(ours["vae_recon"], borel["recon"] * factor, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(ours["vae_kl"], borel["kl"])
        B = out["rewards"].shape[0]
        summed, _ = varibad_elbo(tr.vae, batch, 0.5, True, None, torch.Generator().manual_seed(1))
        mean, _ = varibad_elbo(tr.vae, batch, 0.5, False, None, torch.Generator().manual_seed(1))
        torch.testing.assert_close(summed - mean, 0.5 * (B - 1) * ours["vae_kl"], rtol=1e-3, atol=1e-3)


def test_ppo_update_changes_the_policy_and_not_the_encoder():
    tr = _trainer(VariBADPPO, vae_updates=0)
    policy, vae = _params(tr.policy_net), _params(tr.vae)
    tr.iterate()
    assert _changed(policy, tr.policy_net) >= {k for k, _ in tr.policy_net.named_parameters()}, "every weight moves"
    assert _changed(vae, tr.vae) == set(), "the policy loss does not reach the encoder"
    assert all(p.grad is None for p in tr.vae.parameters())
    assert {id(p) for g in tr.optim.param_groups for p in g["params"]} == {id(p) for p in tr.policy_net.parameters()}
    assert {"ppo_value_loss", "ppo_policy_loss", "ppo_entropy"} <= set(tr.losses)


def test_vae_update_changes_encoder_and_decoder_only():
    tr = _trainer(VariBADPPO, vae_updates=0)
    out = tr.run_trials(tr._act)
    tr.trials.add(**{k: out[k] for k in ("obs", "actions", "rewards", "next_obs")})
    vae, policy = _params(tr.vae), _params(tr.policy_net)
    tr.vae_step(tr.trials)
    changed = _changed(vae, tr.vae)
    assert any(k.startswith("encoder.") for k in changed) and any(k.startswith("reward_decoder.") for k in changed)
    assert _changed(policy, tr.policy_net) == set()
    assert np.isfinite(tr.losses["vae_loss"]).all()


@pytest.mark.parametrize("domain", DOMAINS)
def test_off_policy_update_changes_the_agent_and_not_the_encoder(domain):
    tr = _trainer(VariBADOffPolicy, domain, vae_updates=0, relabel_every=0)
    agent, vae = _params(tr.agent.agent), _params(tr.vae)
    tr.iterate()
    changed = _changed(agent, tr.agent.agent)
    assert any(k.startswith("q.") or k.startswith("critic.") for k in changed), changed
    if domain == "semicircle":
        assert any(k.startswith("actor.") for k in changed), "SAC's policy step"
    assert _changed(vae, tr.vae) == set()
    assert ("q_loss" if domain == "gridworld" else "critic_loss") in tr.losses


def test_relabelling_recomputes_the_stored_hyper_states_with_the_current_encoder():
    tr = _trainer(VariBADOffPolicy, "semicircle", rl_updates=0, vae_updates=0, relabel_every=0)
    tr.iterate()
    tr.iterate()
    b = tr.trials
    stored, stored_next = b.view("hobs").copy(), b.view("hnext").copy()
    # the beliefs stored while acting (GRU stepped online) equal a batch re-encoding with the same encoder
    feats = tr.belief.trials(b.view("actions"), b.view("rewards"), b.view("next_obs"))
    hobs, hnext = trial_hyper_states(b.view("obs"), b.view("next_obs"), feats, True, tr.H, tr.k)
    np.testing.assert_allclose(hobs, stored, atol=1e-5)
    np.testing.assert_allclose(hnext, stored_next, atol=1e-5)
    for _ in range(3):
        tr.vae_step(tr.trials)
    tr.relabel()
    obs_dim, L = 3, 2 * tr.cfg.latent_dim
    new = b.view("hobs")
    np.testing.assert_array_equal(new[..., :obs_dim], stored[..., :obs_dim])  # states and clock stay
    np.testing.assert_array_equal(new[..., obs_dim + L :], stored[..., obs_dim + L :])
    assert np.abs(new[..., obs_dim : obs_dim + L] - stored[..., obs_dim : obs_dim + L]).max() > 1e-4
    feats = tr.belief.trials(b.view("actions"), b.view("rewards"), b.view("next_obs"))
    np.testing.assert_allclose(new[..., obs_dim : obs_dim + L], feats[:, :-1], atol=1e-6)
    # the next hyper-state of an episode's last step is the next episode's start, the trial's last is terminal
    H = tr.H
    np.testing.assert_array_equal(b.view("hnext")[:, H - 1, :obs_dim], b.view("obs")[:, H, :obs_dim])
    assert (b.view("dones")[:, -1] == 1).all()


def test_gae_runs_across_episodes_unless_cut():
    S, n = 6, 1
    rewards = torch.tensor([[0.0], [0.0], [0.0], [1.0], [0.0], [0.0]])
    values = torch.zeros(S, n)
    trial_end = torch.zeros(S, n)
    trial_end[-1] = 1
    episode_end = torch.zeros(S, n)
    episode_end[2] = episode_end[5] = 1  # H = 3, k = 2
    across = gae(rewards, values, trial_end, episode_end, 1.0, 1.0)
    assert across[:, 0].tolist() == [1, 1, 1, 1, 0, 0], "episode 1 gets credit for episode 2's reward"
    cut = gae(rewards, values, trial_end, episode_end, 1.0, 1.0, cut_at_episode_end=True)
    assert cut[:, 0].tolist() == [0, 0, 0, 1, 0, 0]


def test_trial_buffer_ring_and_state():
    buf = TrialBuffer(5)
    for i in range(4):
        buf.add(x=np.full((2, 3, 1), i, np.float32))
    assert buf.size == 5 and sorted(buf.view("x")[:, 0, 0].tolist()) == [1, 2, 2, 3, 3]
    other = TrialBuffer(5)
    other.load_state_dict(buf.state_dict())
    np.testing.assert_array_equal(other.view("x"), buf.view("x"))
    assert buf.sample(10, np.random.default_rng(0)).size == 5


@pytest.mark.parametrize("cls", LEARNERS)
def test_resume_after_a_kill_gives_the_uninterrupted_table(cls, tmp_path):
    kw = {"env_steps": 600}  # 5 iterations of 120 steps; evaluations (and checkpoints) at 0, 240, 480, 600
    straight = _trainer(cls, **kw)
    rows_a = straight.train(tmp_path / "a.pt", progress=False)
    killed = _trainer(cls, **kw)
    killed.train(tmp_path / "b.pt", progress=False, stop_after=3)  # killed after iteration 3: its work is lost
    assert killed.iteration == 3 and torch.load(tmp_path / "b.pt", weights_only=False)["iteration"] == 2
    resumed = _trainer(cls, **kw)
    rows_b = resumed.train(tmp_path / "b.pt", progress=False)
    pd.testing.assert_frame_equal(rows_a.drop(columns="cpu_seconds"), rows_b.drop(columns="cpu_seconds"))
    assert sorted(rows_a.env_steps.unique()) == [0, 240, 480, 600]
    for a, b in ((straight.vae, resumed.vae), (straight.policy_net if cls is VariBADPPO else straight.agent.agent,
                                                resumed.policy_net if cls is VariBADPPO else resumed.agent.agent)):
        for k, v in a.state_dict().items():
            torch.testing.assert_close(v, b.state_dict()[k], rtol=0, atol=0)
    with pytest.raises(ConfigError, match="different configuration"):
        _trainer(cls, **kw, kl_weight=0.5).train(tmp_path / "b.pt", progress=False)


@pytest.mark.parametrize("module", ["varibad_ppo", "varibad_offpolicy"])
@pytest.mark.parametrize("domain", DOMAINS)
def test_smoke_command_writes_its_table(module, domain, tmp_path, monkeypatch):
    import importlib

    from borel_lib.results import read_results, read_results_config

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    main = importlib.import_module(f"borel_lib.online.{module}").main
    assert main([domain, "--profile", "smoke", "--seed", "1", "--device", "cpu", "--no-progress"]) == 0
    name = f"online_{module}_{domain}_seed1"
    df = read_results(name, "smoke")
    assert {"env_steps", "cpu_seconds", "iteration"} <= set(df.columns)
    assert {"return", "success", "best_return", "final_return", "vae_loss"} <= set(df.metric)
    k = {"gridworld": 4, "semicircle": 2}[domain]
    assert set(df[df.metric == "return"].episode) == set(range(1, k + 1))
    assert df.env_steps.max() >= 360 and df.env_steps.min() == 0
    cfg = read_results_config(name, "smoke")
    assert cfg["command"].startswith(f"python -m borel_lib.online.{module} {domain} --profile smoke --seed 1")
    # the last policy's trials, recorded: the same returns as the last evaluation, the search metrics, the paths
    final, traj = read_results(f"{name}_final", "smoke"), read_results(f"{name}_traj", "smoke")
    last = df[(df.metric == "return") & (df.iteration == df.iteration.max())].set_index("episode").value
    per_episode = final[final.metric == "return"].groupby("episode").value.mean()
    assert np.allclose(per_episode.sort_index().to_numpy(), last.sort_index().to_numpy())
    assert {"found_ep1", "direct_ep2", "search_then_go"} <= set(final[final.episode == 0].metric)
    n_tasks = final.task.nunique()
    assert set(traj.metric) >= {"x", "y", "reward", "support"} and traj.task.nunique() == n_tasks
    assert len(traj[traj.metric == "x"]) == n_tasks * k * make_env(domain).horizon
    assert main(["nowhere", "--profile", "smoke"]) == 2


def test_build_vae_is_varibads():
    from borel_lib.online.common import OnlineConfig

    grid = build_vae("gridworld", OnlineConfig.for_domain("gridworld", "paper"), torch.device("cpu"))
    assert grid.encoder.action_emb is None and grid.encoder.state_emb.out_features == 8
    assert grid.encoder.gru.hidden_size == 64 and grid.reward_decoder.net[-1].out_features == 25
    point = build_vae("semicircle", OnlineConfig.for_domain("semicircle", "paper"), torch.device("cpu"))
    assert point.encoder.gru.hidden_size == 128 and point.encoder.action_emb.out_features == 16


def test_learning_curve_figure_reads_the_tables(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    from borel_lib.figures import MissingResultsError
    from borel_lib.figures.online import online_learning_curves, online_search, online_search_paths
    from borel_lib.online.varibad_offpolicy import run_varibad_offpolicy
    from borel_lib.online.varibad_ppo import run_varibad_ppo

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    with pytest.raises(MissingResultsError, match="not yet produced.*run `python -m borel_lib.online"):
        online_learning_curves("smoke")
    for run in (run_varibad_ppo, run_varibad_offpolicy):
        run("gridworld", "smoke", seed=0, progress=False, device="cpu")
    fig = online_learning_curves("smoke")
    assert len(fig.axes) == 2 and all(len(ax.lines) == 2 for ax in fig.axes)  # one row: Gridworld, both learners
    matplotlib.pyplot.close(fig)
    # the search: the last policies' trials, one row per learner, a path per episode in every shown task
    search = online_search("smoke", seeds=[0])
    assert len(search) == 2 and search[["found_ep1", "direct_ep2", "search_then_go"]].apply(lambda c: c.between(0, 1)).all().all()
    fig = online_search_paths("smoke", seeds=[0])
    drawn = [ax for ax in fig.axes if ax.axison]
    assert len(fig.axes) == 6 and drawn and all(len(ax.lines) == 4 for ax in drawn)  # Gridworld: 4 episodes each
    matplotlib.pyplot.close(fig)
    with pytest.raises(MissingResultsError, match="not yet produced"):
        online_search("smoke", seeds=[7])
