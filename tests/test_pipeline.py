"""BOReL offline stages: state relabelling, CQL penalty, evaluation keeps the belief, resume."""

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from borel_lib.agents import cql_penalty, cql_penalty_discrete
from borel_lib.belief import VAEBelief, belief_identification, train_vae
from borel_lib.collect import CollectConfig, collect
from borel_lib.config import ConfigError
from borel_lib.evaluation import evaluate
from borel_lib.offline_rl import OfflineAgent, OfflineRLConfig
from borel_lib.state_relabel import relabel_states
from borel_lib.vae import VAEConfig


@pytest.fixture(scope="module")
def semi(tmp_path_factory):
    d = tmp_path_factory.mktemp("borel")
    ds, _ = collect(CollectConfig.for_domain("semicircle", "smoke"), d / "ds", d / "ck", profile="smoke", progress=False)
    return ds


def test_state_relabelling_shapes_and_shared_beliefs(semi):
    vae, log = train_vae(semi, VAEConfig.for_domain("semicircle", "smoke"), progress=False)
    hs = relabel_states(VAEBelief(vae), semi, goal_terminal=False)
    N, M, T = semi.rewards.shape
    assert hs.obs.shape == (N, M, T, 3 + 10) and hs.next_obs.shape == hs.obs.shape
    np.testing.assert_array_equal(hs.obs[..., :3], semi.obs)
    # the next hyper-state holds the state the agent acts in next: the reset state after an episode's end
    np.testing.assert_array_equal(hs.next_obs[:, :, :-1, :3], semi.obs[:, :, 1:])
    H = semi.manifest["horizon"]
    inside = np.ones(T - 1, bool)
    inside[H - 1 :: H] = False
    np.testing.assert_array_equal(hs.next_obs[:, :, :-1][:, :, inside, :3], semi.next_obs[:, :, :-1][:, :, inside])
    assert (hs.next_obs[:, :, :-1, 2] == 0).all(), "no episode-end (flagged) state is bootstrapped from"
    np.testing.assert_array_equal(hs.dones[..., -1], 1.0)
    assert hs.dones[..., :-1].sum() == 0
    # the belief after transition t is both s'+_t's and s+_{t+1}'s, also across episode boundaries
    np.testing.assert_array_equal(hs.next_obs[:, :, :-1, 3:], hs.obs[:, :, 1:, 3:])
    # every trial starts from the prior
    assert np.allclose(hs.obs[:, :, 0, 3:], hs.obs[0, 0, 0, 3:])
    assert list(log.columns) == ["epoch", "loss", "recon", "kl"]


def test_cql_penalty_matches_direct_computation():
    g = torch.Generator().manual_seed(0)
    q_u, q_p = torch.randn(3, 10, generator=g), torch.randn(3, 10, generator=g)
    lp_u, lp_p = torch.full((3, 10), -math.log(4.0)), torch.randn(3, 10, generator=g) - 1
    q_d = torch.randn(3, generator=g)
    direct = np.log(0.5 * np.mean(np.exp(q_u.numpy()) / np.exp(lp_u.numpy()), -1)
                    + 0.5 * np.mean(np.exp(q_p.numpy()) / np.exp(lp_p.numpy()), -1)) - q_d.numpy()
    np.testing.assert_allclose(cql_penalty(q_u, lp_u, q_p, lp_p, q_d).numpy(), direct, rtol=1e-5)


def test_discrete_cql_penalty_matches_direct_computation():
    q = torch.randn(4, 6, 5, generator=torch.Generator().manual_seed(1))
    a = torch.tensor([0, 1, 2, 3, 4, 0]).expand(4, -1)
    q_data = q.gather(-1, a[..., None])[..., 0]
    direct = np.log(np.exp(q.numpy()).sum(-1)) - q_data.numpy()
    np.testing.assert_allclose(cql_penalty_discrete(q, q_data).numpy(), direct, rtol=1e-5)
    assert (cql_penalty_discrete(q, q_data) >= 0).all()  # log Σ exp ≥ max ≥ any single Q


def test_evaluation_keeps_the_hidden_state_across_episodes(semi):
    vae, _ = train_vae(semi, VAEConfig.for_domain("semicircle", "smoke"), progress=False)
    agent = OfflineAgent(13, 2, False, OfflineRLConfig.for_profile("smoke"))
    tasks = np.array([[np.cos(a), np.sin(a)] for a in (0.3, 1.5, 2.8)])
    rec: dict = {}
    df = evaluate(VAEBelief(vae), agent, "semicircle", tasks, record=rec)
    assert set(df.metric) == {"return", "success"} and df.episode.max() == 2
    with torch.no_grad():
        mu, lv = vae.encoder(torch.as_tensor(rec["actions"]), torch.as_tensor(rec["rewards"]),
                             torch.as_tensor(rec["next_obs"]))
    # one GRU pass over the whole trial
    np.testing.assert_allclose(rec["belief"], torch.cat([mu, lv], -1).numpy(), atol=1e-5)
    H = 60
    assert not np.allclose(rec["belief"][:, H], rec["belief"][:, 0]), "episode 2 must not start from the prior"


@pytest.mark.parametrize("cql", [0.0, 2.0])
def test_offline_agent_updates(semi, cql):
    vae, _ = train_vae(semi, VAEConfig.for_domain("semicircle", "smoke"), progress=False)
    hs = relabel_states(VAEBelief(vae), semi)
    agent = OfflineAgent(13, 2, False, OfflineRLConfig.for_profile("smoke", cql_alpha=cql))
    before = [p.clone() for p in agent.agent.parameters()]
    for _ in range(3):
        losses = agent.update(agent.sample(hs))
    assert ("cql_penalty" in losses) == (cql > 0)
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.agent.parameters()))


@pytest.mark.parametrize("cql, lr_final", [(0.0, 1.0), (2.0, 1.0), (0.0, 0.25)])
def test_offline_agent_resumes_exactly(semi, tmp_path, cql, lr_final):
    """A run killed after its checkpoint and resumed in a new process equals the uninterrupted run
    (also with annealed learning rates, which follow the update count and carry no state)."""
    vae, _ = train_vae(semi, VAEConfig.for_domain("semicircle", "smoke"), progress=False)
    hs = relabel_states(VAEBelief(vae), semi)
    cfg = OfflineRLConfig.for_profile("smoke", cql_alpha=cql, lr_final=lr_final)

    def train(agent, steps):
        for done in steps:
            agent.anneal(done)
            agent.update(agent.sample(hs))

    straight = OfflineAgent(13, 2, False, cfg, seed=5)
    train(straight, range(4))
    first = OfflineAgent(13, 2, False, cfg, seed=5)
    train(first, range(2))
    torch.save(first.state_dict(), tmp_path / "agent.pt")
    resumed = OfflineAgent(13, 2, False, cfg, seed=5)
    resumed.load_state_dict(torch.load(tmp_path / "agent.pt", weights_only=False))
    train(resumed, range(2, 4))
    for a, b in zip(straight.agent.parameters(), resumed.agent.parameters()):
        assert torch.equal(a, b)


def test_offline_sac_tunes_alpha_and_resumes_exactly(semi, tmp_path):
    """The calibrated SAC fields reach offline RL: with ``target_entropy`` set, α moves away from its
    start (towards the target), the log-std uses the tanh squashing, and a resumed run equals the
    uninterrupted one (α's optimiser is in the checkpoint)."""
    vae, _ = train_vae(semi, VAEConfig.for_domain("semicircle", "smoke"), progress=False)
    hs = relabel_states(VAEBelief(vae), semi)
    cfg = OfflineRLConfig.for_profile("smoke", alpha=0.2, target_entropy=-2.0, alpha_lr=1e-2, log_std="tanh")
    straight = OfflineAgent(13, 2, False, cfg, seed=3)
    assert straight.agent.auto_alpha and straight.agent.config.log_std == "tanh"
    alphas = [straight.update(straight.sample(hs))["alpha"] for _ in range(4)]
    assert alphas[0] != pytest.approx(0.2, abs=1e-9) and len(set(alphas)) == 4
    first = OfflineAgent(13, 2, False, cfg, seed=3)
    for _ in range(2):
        first.update(first.sample(hs))
    torch.save(first.state_dict(), tmp_path / "agent.pt")
    resumed = OfflineAgent(13, 2, False, cfg, seed=3)
    resumed.load_state_dict(torch.load(tmp_path / "agent.pt", weights_only=False))
    for _ in range(2):
        resumed.update(resumed.sample(hs))
    for a, b in zip(straight.agent.parameters(), resumed.agent.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(straight.agent.log_alpha, resumed.agent.log_alpha)


def test_offline_dqn_refuses_a_target_entropy():
    with pytest.raises(ConfigError, match="target_entropy=-2.0 tunes SAC's alpha.*'gridworld' trains DQN"):
        OfflineRLConfig.for_domain("gridworld", "smoke", target_entropy=-2.0)


@pytest.mark.parametrize("discrete", [False, True])
def test_learning_rates_anneal_linearly_to_lr_final(discrete):
    cfg = OfflineRLConfig.for_profile("smoke", updates=10, lr_final=0.1, actor_lr=1e-3, critic_lr=2e-3)
    agent = OfflineAgent(5, 4 if discrete else 2, discrete, cfg)
    optims = [agent.agent.optim] if discrete else [agent.agent.actor_optim, agent.agent.critic_optim]
    starts = [2e-3] if discrete else [1e-3, 2e-3]
    for done, frac in [(0, 1.0), (5, 0.55), (10, 0.1)]:
        agent.anneal(done)
        for optim, lr in zip(optims, starts):
            assert all(g["lr"] == pytest.approx(lr * frac) for g in optim.param_groups)
    with pytest.raises(ConfigError, match="lr_final"):
        OfflineRLConfig.for_profile("smoke", lr_final=1.5)


def test_vae_training_resumes_exactly(semi, tmp_path):
    cfg = VAEConfig.for_domain("semicircle", "smoke").replace(epochs=2)
    straight, _ = train_vae(semi, cfg, progress=False, seed=3)
    train_vae(semi, cfg.replace(epochs=1), progress=False, seed=3, checkpoint=tmp_path / "vae.pt")
    resumed, log = train_vae(semi, cfg, progress=False, seed=3, checkpoint=tmp_path / "vae.pt")
    assert len(log) == 2
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_vae_resume_refuses_a_different_config(semi, tmp_path):
    cfg = VAEConfig.for_domain("semicircle", "smoke").replace(epochs=1)
    train_vae(semi, cfg, progress=False, seed=3, checkpoint=tmp_path / "vae.pt")
    with pytest.raises(ValueError, match=r"vae\.pt.*lr: checkpoint 0\.0003 vs now 0\.001"):
        train_vae(semi, cfg.replace(epochs=2, lr=1e-3), progress=False, seed=3, checkpoint=tmp_path / "vae.pt")
    with pytest.raises(ValueError, match="relabelling or seed differ"):
        train_vae(semi, cfg.replace(epochs=2), progress=False, seed=4, checkpoint=tmp_path / "vae.pt")


def test_vae_resume_refuses_a_checkpoint_of_other_data(semi, tmp_path):
    """A dataset collected again with another protocol (same tasks, other arrays) does not resume a VAE."""
    cfg = VAEConfig.for_domain("semicircle", "smoke").replace(epochs=1)
    train_vae(semi, cfg, progress=False, seed=3, checkpoint=tmp_path / "vae.pt")
    other, _ = collect(CollectConfig.for_domain("semicircle", "smoke", updates_per_iter=5), tmp_path / "ds2",
                       tmp_path / "ck2", profile="smoke", progress=False)
    assert other.fingerprint != semi.fingerprint and np.array_equal(other.tasks, semi.tasks)
    with pytest.raises(ValueError, match="trained on other data than"):
        train_vae(other, cfg.replace(epochs=2), progress=False, seed=3, checkpoint=tmp_path / "vae.pt")


def test_gridworld_pipeline_runs(tmp_path):
    ds, _ = collect(CollectConfig.for_domain("gridworld", "smoke"), tmp_path / "g", tmp_path / "ck",
                    profile="smoke", progress=False)
    vae, _ = train_vae(ds, VAEConfig.for_domain("gridworld", "smoke"), progress=False, n_actions=5)
    hs = relabel_states(VAEBelief(vae, 5), ds)
    agent = OfflineAgent(hs.obs.shape[-1], 5, True, OfflineRLConfig.for_profile("smoke"))
    agent.update(agent.sample(hs))
    # discrete CQL(H): with a large weight, Q of the logged actions rises relative to the others
    cql = OfflineAgent(hs.obs.shape[-1], 5, True, OfflineRLConfig.for_profile("smoke", cql_alpha=10.0,
                                                                               critic_lr=1e-2))
    batch = cql.sample(hs)

    def gap() -> float:
        q = cql.agent.q(batch["obs"])
        return cql_penalty_discrete(q, q.gather(-1, batch["actions"].long())[..., 0]).mean().item()

    before = gap()
    for _ in range(20):
        losses = cql.update(batch)
    assert "cql_penalty" in losses and gap() < before
    df = evaluate(VAEBelief(vae, 5), agent, "gridworld", ds.tasks)
    assert df.episode.max() == 4 and len(df) == ds.n_tasks * 4 * 2
    ident = belief_identification(vae, ds, times=(0, 15), n_actions=5)
    assert set(ident) == {0, 15} and all(0.0 <= v <= 1.0 for v in ident.values())
    # the prior belief is the same for every trial, so at t=0 it names one cell for all of them
    goals = [tuple(g) for g in np.asarray(ds.tasks).astype(int)]
    possible = {0.0} | {float(np.mean([g == c for g in goals])) for c in goals}
    assert any(ident[0] == pytest.approx(p) for p in possible)


def test_belief_identification_semicircle_in_range(semi):
    vae, _ = train_vae(semi, VAEConfig.for_domain("semicircle", "smoke"), progress=False)
    ident = belief_identification(vae, semi, times=(0, 5), last_trials=3)
    assert set(ident) == {0, 5} and all(0.0 <= v <= math.pi for v in ident.values())


def test_offline_rl_config_per_domain():

    paper = OfflineRLConfig.for_domain("gridworld", "paper")
    assert (paper.hidden, paper.gamma, paper.updates, paper.meta_batch * paper.batch_per_task) == ((64, 64), 0.99,
                                                                                                   250_000, 4096)
    semi_paper = OfflineRLConfig.for_domain("semicircle", "paper")
    assert (semi_paper.gamma, semi_paper.alpha, semi_paper.updates) == (0.9, 0.01, 5_000_000)
    assert OfflineRLConfig.for_domain("gridworld", "smoke").hidden == (16, 16)  # the profile's preset wins
    assert OfflineRLConfig.for_domain("gridworld", "quick").updates == 100_000  # per-(profile, domain) budget
    assert OfflineRLConfig.for_domain("gridworld", "quick", updates=7).updates == 7
    assert (paper.goal_terminal, paper.time_input, paper.double_dqn) == (True, False, False)  # the authors'
    cheetah, ant = OfflineRLConfig.for_domain("cheetah_vel", "paper"), OfflineRLConfig.for_domain("ant_semicircle", "paper")
    assert (cheetah.hidden, cheetah.actor_lr, cheetah.alpha, cheetah.gamma, cheetah.updates) == ((256, 256), 3e-4, 0.2,
                                                                                               0.99, 1_000_000)
    assert (ant.hidden, ant.actor_lr, ant.critic_lr, ant.alpha, ant.updates, ant.eval_every) == ((256, 256), 3e-5, 3e-4,
                                                                                               0.2, 6_000_000, 40_000)
    assert not ant.goal_terminal and not cheetah.goal_terminal  # the authors' MuJoCo data stored no terminal
    assert OfflineRLConfig.for_domain("ant_semicircle", "quick").hidden == (256, 256)
    with pytest.raises(ConfigError, match="'mars'.*allowed"):
        OfflineRLConfig.for_domain("mars", "quick")


# ------------------------------------------------------------------ replay consistency, CQL target
class _Replay:
    """An "agent" that plays logged actions and keeps the hyper-states it is shown."""

    def __init__(self, actions: np.ndarray, discrete: bool):
        self.actions, self.discrete, self.t, self.seen = actions, discrete, 0, []

    def act(self, hyper: np.ndarray) -> np.ndarray:
        self.seen.append(hyper.copy())
        a = self.actions[:, self.t]
        self.t += 1
        return a[:, 0].astype(np.int64) if self.discrete else a


@pytest.mark.parametrize(("domain", "kind"), [("gridworld", "vae"), ("gridworld", "decoded"), ("gridworld", "exact"),
                                              ("semicircle", "vae"), ("semicircle", "decoded"), ("semicircle", "exact")])
def test_evaluation_replay_equals_state_relabelling(tmp_path, domain, kind):
    """Logged trials replayed through ``evaluate`` (same start states, logged actions) see exactly the
    hyper-states ``relabel_states`` stored for them, at every step and across episode boundaries."""
    from borel_lib.belief import make_belief

    cfg = CollectConfig.for_domain(domain, "smoke", init_state="fixed")
    ds, _ = collect(cfg, tmp_path / "ds", tmp_path / "ck", profile="smoke", progress=False)
    n_actions = 5 if domain == "gridworld" else None
    if kind in ("vae", "decoded"):
        vae, _ = train_vae(ds, VAEConfig.for_domain(domain, "smoke"), progress=False, n_actions=n_actions)
        belief = VAEBelief(vae, n_actions, "latent" if kind == "vae" else "decoded")
    else:
        belief = make_belief("exact", domain=domain)
    hs = relabel_states(belief, ds, time_input=True)
    trial = ds.n_trials - 1
    replay = _Replay(np.asarray(ds.actions[:, trial]), n_actions is not None)
    rec: dict = {}
    evaluate(belief, replay, domain, np.asarray(ds.tasks), time_input=True, record=rec)
    np.testing.assert_array_equal(rec["rewards"], ds.rewards[:, trial])
    np.testing.assert_allclose(np.stack(replay.seen, 1), hs.obs[:, trial], atol=1e-5)
    np.testing.assert_allclose(rec["hyper"][:, 1:], hs.next_obs[:, trial, :-1], atol=1e-5)
    if kind == "exact" or (kind == "decoded" and domain == "gridworld"):  # distributions over goals
        np.testing.assert_allclose(rec["belief"].sum(-1), 1.0, atol=1e-5)
    if kind == "decoded" and domain == "semicircle":  # the predicted reward at the 20 arc-sector centres
        from borel_lib.belief import arc_sector_centres
        from borel_lib.vae import reward_map

        assert rec["belief"].shape[-1] == 20
        np.testing.assert_allclose(rec["belief"][:, 0], reward_map(vae, belief.reset(len(rec["belief"]))[0],
                                                                   arc_sector_centres()), atol=1e-5)


def test_sac_cql_target_respects_done(semi):
    """With done = 1 the critic target is the reward alone: the next state cannot change the update
    (the CQL path once bootstrapped through the trial's end)."""
    cfg = OfflineRLConfig.for_profile("smoke", cql_alpha=1.0)
    hs = relabel_states(VAEBelief(train_vae(semi, VAEConfig.for_domain("semicircle", "smoke"), progress=False)[0]), semi)
    base = OfflineAgent(13, 2, False, cfg, seed=1).sample(hs)
    base["dones"] = torch.ones_like(base["dones"])
    params = []
    for shift in (0.0, 5.0):
        agent = OfflineAgent(13, 2, False, cfg, seed=1)
        batch = dict(base, next_obs=base["next_obs"] + shift)
        agent.update(batch)
        params.append([p.detach().clone() for p in agent.agent.critic.parameters()])
    for a, b in zip(*params):
        assert torch.equal(a, b)
    # and without done the next state does matter (the test can fail)
    moved = []
    for shift in (0.0, 5.0):
        agent = OfflineAgent(13, 2, False, cfg, seed=1)
        agent.update(dict(base, dones=torch.zeros_like(base["dones"]), next_obs=base["next_obs"] + shift))
        moved.append([p.detach().clone() for p in agent.agent.critic.parameters()])
    assert any(not torch.equal(a, b) for a, b in zip(*moved))


def test_double_dqn_target_differs_from_max():
    from borel_lib.agents import DQNConfig, EnsembleDQN

    g = torch.Generator().manual_seed(0)
    batch = {"obs": torch.randn(1, 64, 4, generator=g), "next_obs": torch.randn(1, 64, 4, generator=g),
             "actions": torch.randint(0, 3, (1, 64, 1), generator=g).float(), "rewards": torch.randn(1, 64, generator=g),
             "dones": torch.zeros(1, 64)}
    out = []
    for double in (False, True):
        dqn = EnsembleDQN(4, 3, [0], DQNConfig(hidden=(8,)))
        with torch.no_grad():  # make online and target networks disagree
            for p in dqn.q.parameters():
                p.add_(torch.randn(p.shape, generator=g))
        out.append(dqn.update(batch, double=double)["q_loss"].item())
    assert out[0] != out[1]


@pytest.mark.parametrize("argv", [["--seed", "-1"], ["--seed", "1.5"], ["--rl", "updates=0"], ["--rl", "foo=1"],
                                  ["--rl", "time_input=maybe"], ["--rl", "gamma=1.5"], ["--belief", "x"],
                                  ["--relabelling", "x"], ["--profile", "big"], ["--belief", "exact", "--features",
                                                                                  "decoded"],
                                  ["--vae", "epochs=0"], ["--vae", "epochs=abc"], ["--vae", "bar=1"],
                                  ["--vae", "decoder=gauss"], ["--belief", "exact", "--vae", "epochs=3"],
                                  ["--init-state", "exclude_semicircle"], ["--init-state", "nowhere"],
                                  ["--belief", "exact", "--features", "mean"], ["--features", "mean"]])
def test_borel_cli_rejects_bad_input_before_any_work(tmp_path, monkeypatch, capsys, argv):
    from borel_lib.pipeline import main

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    assert main(["gridworld", *argv]) == 2
    assert "error" in capsys.readouterr().err
    assert not any(tmp_path.rglob("*")), "a rejected command must leave nothing behind"


def test_exact_mean_readout_names_its_run_and_round_trips():
    """``--belief exact --features mean`` (the arc domains' smooth read-out) is in the run's tag, method and
    command, and the command parses back to the same spec; the default features keep the plain names."""
    from borel_lib.pipeline import RunSpec, make_belief
    from borel_lib.pipeline_cli import build_parser, spec_from_args

    plain = RunSpec("ant_semicircle", belief="exact", init_state="uniform")
    mean = RunSpec("ant_semicircle", belief="exact", init_state="uniform", features="mean")
    assert plain.tag == "ant_semicircle_uniform_exact_seed0" and plain.method == "borel_exact"
    assert mean.tag == "ant_semicircle_uniform_exact_mean_seed0" and mean.method == "borel_exact_mean"
    assert mean.command.endswith("--init-state uniform --belief exact --features mean --seed 0")
    assert spec_from_args(build_parser().parse_args(mean.command.split()[3:])) == mean
    assert make_belief("exact", domain="semicircle", features=mean.features).dim == 4
    assert make_belief("exact", domain="semicircle", features=plain.features).dim == 20
    with pytest.raises(ConfigError, match="features='mean' applies to the exact belief only"):
        RunSpec("semicircle", features="mean")
    with pytest.raises(ConfigError, match="belief='exact' on wind: features='mean'; allowed values: latent"):
        RunSpec("wind", belief="exact", features="mean")
    assert RunSpec("reacher_image", belief="exact", features="mean").tag.startswith("reacher_image_fixed_exact_mean")


def test_run_spec_vae_overrides_name_their_own_vae_and_round_trip():
    """VAE overrides give the run and its VAE their own names and checkpoint, the command reproduces the
    spec, and an override equal to the profile's value is no override."""
    from borel_lib.pipeline import RunSpec
    from borel_lib.pipeline_cli import _parse_overrides, _parse_rl, build_parser, spec_from_args
    from borel_lib.vae import VAEConfig

    plain = RunSpec("semicircle", "quick")
    spec = RunSpec("semicircle", "quick", vae=(("epochs", 60), ("decode_subset", None)), rl=(("updates", 40000),))
    assert spec.vae_tag != plain.vae_tag and spec.vae_checkpoint() != plain.vae_checkpoint()
    assert spec.tag.startswith("semicircle_uniform_reward_relabelling_") and spec.tag != plain.tag
    assert spec.vae_config().epochs == 60 and spec.vae_config().decode_subset is None
    assert RunSpec("semicircle", "quick", vae=(("epochs", VAEConfig.for_domain("semicircle", "quick").epochs),)) == plain
    args = build_parser().parse_args(spec.command.split()[3:])
    again = RunSpec(args.domain, args.profile, args.belief, args.relabelling, args.seed, args.features,
                    tuple(_parse_rl(args.rl).items()), tuple(_parse_overrides(args.vae, VAEConfig, "vae").items()))
    assert again == spec and spec_from_args(args) == spec


def test_offline_data_without_raw_logs(semi):
    """raw_logs=False keeps only the mixed copies; with borrow='all' none of them is the logged trial."""
    from borel_lib.belief import make_belief

    belief = make_belief("exact", domain="semicircle")
    N, M, T = semi.rewards.shape
    hs = relabel_states(belief, semi, mixed_copies=1, seed=3, raw_logs=False, borrow="all")
    assert hs.obs.shape[:3] == (N, M, T)
    assert not np.array_equal(hs.next_obs[..., :2], np.asarray(semi.next_obs)[..., :2])
    with pytest.raises(ValueError, match="raw_logs=False needs mixed_copies >= 1"):
        relabel_states(belief, semi, raw_logs=False)
    with pytest.raises(ConfigError, match="raw_logs=False needs mixed_copies >= 1"):
        OfflineRLConfig(raw_logs=False)
    with pytest.raises(ConfigError, match="mixed_borrow"):
        OfflineRLConfig(mixed_borrow="most")


def test_mixed_copies_are_consistent_with_their_task(semi):
    """Mixed trials carry this task's true rewards and the exact belief computed on the mixed trial."""
    from borel_lib.belief import make_belief
    from borel_lib.envs import make_env

    belief = make_belief("exact", domain="semicircle")
    hs = relabel_states(belief, semi, mixed_copies=1, seed=3)
    N, M, T = semi.rewards.shape
    assert hs.obs.shape[1] == 2 * M
    np.testing.assert_array_equal(hs.rewards[:, :M], semi.rewards)  # the original trials come first, unchanged
    env = make_env("semicircle")
    nxt = hs.next_obs[:, M:, :, :2]
    # s' inside an episode is the stored next state; its reward is this task's
    H = semi.manifest["horizon"]
    inside = np.ones(T, bool)
    inside[H - 1 :: H] = False
    task = np.asarray(semi.tasks)[:, None, None, :]
    np.testing.assert_array_equal(hs.rewards[:, M:, inside], env.reward(None, None, nxt[:, :, inside], task))
    feats = hs.obs[:, M:, :, 3:]
    np.testing.assert_allclose(feats.sum(-1), 1.0, atol=1e-5)  # a distribution over arc sectors
    # the belief never rules out the true goal's sector
    sector = np.floor(np.arctan2(task[..., 1], task[..., 0]) / np.pi * belief.dim).astype(int)
    sector = np.clip(sector, 0, belief.dim - 1)[:, 0, 0]
    assert (feats[np.arange(N), ..., sector] > 0).mean() > 0.99


def test_run_borel_smoke_resumes_and_refuses_an_agent_of_another_vae(tmp_path, monkeypatch):
    """The whole pipeline runs in smoke; re-running resumes (same table); an agent checkpoint trained on
    the hyper-states of a VAE with another config is refused, not silently reused."""
    from borel_lib import vae as vae_module
    from borel_lib.pipeline import RunSpec, run_borel

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    spec = RunSpec("gridworld", "smoke", "vae", "reward_relabelling", 0)
    first = run_borel(spec, progress=False, device="cpu")
    assert (spec.checkpoint_dir() / "agent.pt").is_file() and spec.vae_checkpoint().is_file()
    pd.testing.assert_frame_equal(run_borel(spec, progress=False, device="cpu"), first)
    state = torch.load(spec.checkpoint_dir() / "agent.pt", weights_only=False)
    torch.save({**state, "dataset": "0" * 64}, spec.checkpoint_dir() / "agent.pt")  # as if the data changed since
    with pytest.raises(ConfigError, match="trained on other data than"):
        run_borel(spec, progress=False, device="cpu")
    torch.save(state, spec.checkpoint_dir() / "agent.pt")
    monkeypatch.setitem(vae_module._PROFILE_DOMAIN, ("smoke", "gridworld"), {"epochs": 2})
    with pytest.raises(ConfigError, match="another config"):
        run_borel(spec, progress=False, device="cpu")



def _record_lock_held(monkeypatch, module, name: str, lock) -> list[bool]:
    """Wrap ``module.name`` so that each call first records whether another process holds ``lock``."""
    import fcntl

    real, held = getattr(module, name), []

    def checking(*args, **kwargs):
        with open(lock) as other:  # another process's open
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held.append(False)
                fcntl.flock(other, fcntl.LOCK_UN)
            except BlockingIOError:
                held.append(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, checking)
    return held


def test_runs_sharing_a_vae_train_it_under_its_lock(tmp_path, monkeypatch):
    """BOReL and BOReL + CQL of one seed share the VAE: training holds the lock beside its checkpoint, so a
    concurrent run waits and then resumes the finished VAE instead of training it a second time."""
    from borel_lib import pipeline
    from borel_lib.pipeline import RunSpec

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    spec = RunSpec("gridworld", "smoke", "vae", "reward_relabelling", 0)
    cql = RunSpec("gridworld", "smoke", "vae", "reward_relabelling", 0, rl=(("cql_alpha", 2.0),))
    assert cql.vae_checkpoint() == spec.vae_checkpoint()
    held = _record_lock_held(monkeypatch, pipeline, "train_vae", spec.vae_checkpoint().parent / ".train.lock")
    pipeline.run_borel(spec, progress=False, device="cpu")
    assert held == [True]


def test_the_vae_table_names_the_run_that_trained_the_vae(tmp_path, monkeypatch):
    """The run that trains a VAE writes its loss table (with its command) before releasing the VAE's lock, so a
    BOReL + CQL run of the seed, loading that VAE even while the BOReL run is still in offline RL, leaves
    the table alone; a missing table is written by whichever run loads the VAE next."""
    import json

    from borel_lib.pipeline import RunSpec, collection, load_run_belief

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    spec = RunSpec("gridworld", "smoke", "vae", "reward_relabelling", 0)
    cql = RunSpec("gridworld", "smoke", "vae", "reward_relabelling", 0, rl=(("cql_alpha", 2.0),))
    from borel_lib.results import result_path

    table = result_path(f"vae_{spec.vae_tag}", "smoke")
    meta = result_path(f"vae_{spec.vae_tag}", "smoke", kind="config")
    data = collection(spec, progress=False)

    def command():
        return json.loads(meta.read_text())["command"]

    load_run_belief(spec, data, "cpu", progress=False)  # BOReL's VAE stage; its offline RL has not begun
    assert table.is_file() and command() == spec.command != cql.command
    stamp = (table.stat().st_mtime_ns, meta.stat().st_mtime_ns)
    load_run_belief(cql, data, "cpu", progress=False)
    assert (table.stat().st_mtime_ns, meta.stat().st_mtime_ns) == stamp and command() == spec.command
    table.unlink()
    load_run_belief(cql, data, "cpu", progress=False)
    assert table.is_file() and command() == cql.command


def test_two_processes_of_one_run_take_turns(tmp_path, monkeypatch):
    """run_borel holds a lock in the run's checkpoint folder for the whole run (two sweeps sharing a cell)."""
    from borel_lib import pipeline
    from borel_lib.pipeline import RunSpec

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    spec = RunSpec("gridworld", "smoke", "vae", "reward_relabelling", 0)
    held = _record_lock_held(monkeypatch, pipeline, "_run_borel", spec.checkpoint_dir() / ".run.lock")
    pipeline.run_borel(spec, progress=False, device="cpu")
    assert held == [True]


# ------------------------------------------------------------------ run names
PINNED = [  # (spec kwargs, tag, vae_tag, command): names of committed runs, checkpoints and result files
    (dict(domain="gridworld"), "gridworld_uniform_reward_relabelling_seed0", "gridworld_uniform_reward_relabelling_seed0",
     "python -m borel_lib.pipeline gridworld --profile quick --belief vae --relabelling reward_relabelling --seed 0"),
    (dict(domain="semicircle", belief="exact", seed=2), "semicircle_uniform_exact_seed2",
     "semicircle_uniform_reward_relabelling_seed2", "python -m borel_lib.pipeline semicircle --profile quick --belief exact --seed 2"),
    (dict(domain="gridworld", relabelling="none", features="decoded", seed=1), "gridworld_uniform_none_decoded_seed1",
     "gridworld_uniform_none_seed1", "python -m borel_lib.pipeline gridworld --profile quick --belief vae --relabelling none "
     "--features decoded --seed 1"),
    (dict(domain="semicircle", vae=(("epochs", 80),), rl=(("updates", 60000), ("cql_alpha", 2.0))),
     "semicircle_uniform_reward_relabelling_ep80_cql2_u60000_seed0", "semicircle_uniform_reward_relabelling_ep80_seed0",
     "python -m borel_lib.pipeline semicircle --profile quick --belief vae --relabelling reward_relabelling --seed 0 "
     "--vae epochs=80 --rl cql_alpha=2.0 --rl updates=60000"),
    # Ant's protocol default is the data excluding the semi-circle: its name says so (issue 29)
    (dict(domain="ant_semicircle", seed=1), "ant_semicircle_exclude_semicircle_reward_relabelling_seed1",
     "ant_semicircle_exclude_semicircle_reward_relabelling_seed1",
     "python -m borel_lib.pipeline ant_semicircle --profile quick --belief vae --relabelling reward_relabelling --seed 1"),
    (dict(domain="cheetah_vel", relabelling="none"), "cheetah_vel_fixed_none_seed0", "cheetah_vel_fixed_none_seed0",
     "python -m borel_lib.pipeline cheetah_vel --profile quick --belief vae --relabelling none --seed 0"),
]


@pytest.mark.parametrize(("kwargs", "tag", "vae_tag", "command"), PINNED)
def test_run_names_say_their_initial_state_and_commands_keep_the_default(kwargs, tag, vae_tag, command):
    """Tags, VAE tags and checkpoint paths name the run's initial-state variant, the collection protocol's
    default included (issue 29: a name is read without the code); the command leaves the default out, so
    the command line's default behaviour is unchanged (committed results are found by these names)."""
    from borel_lib.paths import checkpoints_dir
    from borel_lib.pipeline import RunSpec

    spec = RunSpec(profile="quick", **kwargs)
    assert (spec.tag, spec.vae_tag, spec.command) == (tag, vae_tag, command)
    assert spec.checkpoint_dir() == checkpoints_dir("quick") / f"borel_{tag}"
    assert spec.vae_checkpoint() == checkpoints_dir("quick") / f"vae_{vae_tag}" / "vae.pt"
    # the protocol's default initial states, named or not, are the same run
    assert RunSpec(profile="quick", **kwargs, init_state=spec.init_state) == spec and spec.collect_overrides == {}
    assert spec.tag.startswith(f"{spec.domain}_{spec.init_state}_")


def test_committed_runs_keep_their_names_and_commands():
    """The committed BOReL results that today's code names (a run made before a profile default changed
    carries its old name and is not one of them) rebuild, from their config, a spec whose tag is the
    file's and whose command is the one recorded beside it."""
    import json

    from borel_lib.pipeline import RunSpec
    from borel_lib.results import find_results

    paths = find_results("borel_*", "quick", kind="config")
    checked = 0
    for path in paths:
        saved = json.loads(path.read_text())
        run = saved.get("values", {}).get("run")
        if not run or path.name.endswith(("_final.config.json", "_traj.config.json")):
            continue
        spec = RunSpec.from_config(run)
        if path.name != f"borel_{spec.tag}.config.json":
            continue  # renamed since (the profile's defaults moved)
        assert saved["command"] == spec.command, path.name
        checked += 1
    assert checked >= 66 or not paths  # 66 runs on main when every name carried its initial state (issue 29)


def test_init_state_names_the_dataset_and_round_trips():
    from borel_lib.collect import CollectConfig, dataset_name
    from borel_lib.pipeline import RunSpec
    from borel_lib.pipeline_cli import build_parser, spec_from_args

    default = RunSpec("semicircle", "quick")
    assert default.init_state == "uniform"  # resolved to the collection protocol's variant
    fixed = RunSpec("semicircle", "quick", relabelling="none", init_state="fixed", seed=1)
    assert fixed.tag == "semicircle_fixed_none_seed1" and fixed.vae_tag == "semicircle_fixed_none_seed1"
    assert fixed.collect_overrides == {"init_state": "fixed"}
    assert "--init-state fixed" in fixed.command
    assert dataset_name(CollectConfig.for_domain("semicircle", "quick", **fixed.collect_overrides), "quick") == \
        "semicircle_fixed_seed0"
    assert spec_from_args(build_parser().parse_args(fixed.command.split()[3:])) == fixed
    assert fixed.vae_checkpoint() != RunSpec("semicircle", "quick", relabelling="none", seed=1).vae_checkpoint()
    with pytest.raises(ConfigError, match="--init-state.*allowed values: fixed, uniform$"):
        RunSpec("gridworld", "quick", init_state="exclude_semicircle")


def test_a_longer_collection_names_the_run_and_its_dataset():
    """``--collection iterations=300 --collection updates_per_iter=500``: the run trains on that collection's dataset
    (:func:`borel_lib.collect.dataset_name`), named after the variant in its results, VAE and command; an override
    equal to the profile's is none."""
    from borel_lib.collect import dataset_name
    from borel_lib.pipeline import RunSpec

    spec = RunSpec("semicircle", "quick", relabelling="none", seed=2,
                   collection=(("updates_per_iter", 500), ("iterations", 300)))
    assert spec.tag == "semicircle_uniform_it300_upi500_none_seed2" and spec.vae_tag == spec.tag
    assert spec.command == ("python -m borel_lib.pipeline semicircle --profile quick --collection iterations=300 "
                            "--collection updates_per_iter=500 --belief vae --relabelling none --seed 2")
    cfg = CollectConfig.for_domain("semicircle", "quick", **spec.collect_overrides)
    assert dataset_name(cfg, "quick") == "semicircle_uniform_it300_upi500_seed0"
    assert RunSpec.from_config(json.loads(json.dumps(dataclasses.asdict(spec)))) == spec
    assert RunSpec("semicircle", "quick", collection=(("iterations", 100),)) == RunSpec("semicircle", "quick")
    fixed = RunSpec("semicircle", "quick", init_state="fixed", collection=(("iterations", 300),), last_trials=600)
    assert fixed.tag == "semicircle_fixed_it300_last600_reward_relabelling_seed0"
    with pytest.raises(ConfigError, match="last_trials=700"):  # 20 warm-up + 300 × 2 = 620 trials per task
        RunSpec("semicircle", "quick", collection=(("iterations", 300),), last_trials=700)


def test_last_trials_names_the_run_and_views_the_logs_end(semi):
    """--last-trials N: the run's names and command say so, the spec round-trips through the command line and its
    saved config, and the data are each log's last N trials (a view whose fingerprint differs from the whole
    logs', so no checkpoint crosses between them)."""
    from borel_lib.datasets import DatasetError
    from borel_lib.pipeline import RunSpec
    from borel_lib.pipeline_cli import build_parser, spec_from_args

    spec = RunSpec("semicircle", "quick", relabelling="none", init_state="fixed", seed=1, last_trials=20)
    assert spec.tag == "semicircle_fixed_last20_none_seed1" and spec.vae_tag == "semicircle_fixed_last20_none_seed1"
    assert "--init-state fixed --last-trials 20 --belief vae" in spec.command
    assert spec_from_args(build_parser().parse_args(spec.command.split()[3:])) == spec
    assert RunSpec.from_config(dataclasses.asdict(spec)) == spec
    assert RunSpec("semicircle", "quick").tag == "semicircle_uniform_reward_relabelling_seed0"  # unchanged
    view = semi.last_trials(2)
    assert view.n_trials == 2 and view.n_tasks == semi.n_tasks
    for name, arr in semi.arrays.items():
        np.testing.assert_array_equal(view.arrays[name], arr[:, -2:])
    assert view.fingerprint != semi.fingerprint != semi.last_trials(semi.n_trials).fingerprint
    assert view.fingerprint == semi.last_trials(2).fingerprint
    with pytest.raises(ConfigError, match="reacher_image"):  # its image encoder is shared with the whole logs' runs
        RunSpec("reacher_image", "quick", last_trials=5)
    for bad in (0, semi.n_trials + 1, True):
        with pytest.raises(DatasetError, match="last_trials"):
            semi.last_trials(bad)
