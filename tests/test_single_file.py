"""The one-file BOReL (``single_file/borel_semicircle.py``) against the library, stage by stage, at smoke size.

With the same data and seed every stage of the single file must give the library's numbers: the reward
relabelled batches, the VAE's initial weights and ELBO, the trained VAE, the hyper-states, the SAC's
initial weights and updates (hence its critic target), the evaluation, and the whole pipeline end to end.
The file's defaults are the library's smoke settings (checked first), so "same configuration" is literal.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from borel_lib.belief import VAEBelief, train_vae
from borel_lib.collect import CollectConfig, collect
from borel_lib.envs import make_env
from borel_lib.evaluation import evaluate
from borel_lib.offline_rl import OfflineAgent, OfflineRLConfig
from borel_lib.relabel import sample_trials
from borel_lib.state_relabel import relabel_states
from borel_lib.vae import BeliefVAE, VAEConfig

FILE = Path(__file__).resolve().parents[1] / "single_file" / "borel_semicircle.py"
CPU = torch.device("cpu")


def _load_single_file():
    spec = importlib.util.spec_from_file_location("borel_semicircle", FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


sf = _load_single_file()
ENV = make_env("semicircle")
VAE_CFG = VAEConfig.for_domain("semicircle", "smoke")
RL_CFG = OfflineRLConfig.for_domain("semicircle", "smoke")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def semi(tmp_path_factory):
    d = tmp_path_factory.mktemp("single_file")
    ds, _ = collect(CollectConfig.for_domain("semicircle", "smoke"), d / "ds", d / "ck", profile="smoke", progress=False)
    return ds


@pytest.fixture(scope="module")
def args(semi):
    return sf.Args(dataset=str(semi.path))


@pytest.fixture(scope="module")
def data(args):
    return sf.load_semicircle(args.dataset)


@pytest.fixture(scope="module")
def lib_vae(semi):
    """The library's belief VAE, trained with reward relabelling (stage 1 of borel_lib.pipeline)."""
    return train_vae(semi, VAE_CFG, "reward_relabelling", seed=0, progress=False)[0]


@pytest.fixture(scope="module")
def single_run(args):
    """The whole single file on the library's smoke dataset: (score, VAE, SAC)."""
    return sf.main(args)


def _close(a, b, atol=1e-6):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=atol)


# ------------------------------------------------------------------------------------ the file itself
def test_the_file_is_one_short_module_importing_only_the_environment_and_the_dataset_reader():
    source = FILE.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 420  # "at most about 400 lines" (issue 34)
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    assert {m for m in imported if m.startswith("borel_lib")} == {"borel_lib.envs", "borel_lib.datasets"}


def test_defaults_are_the_librarys_smoke_settings():
    a = sf.Args()
    vae = {"state_embed": a.state_embed, "action_embed": a.action_embed, "reward_embed": a.reward_embed,
           "gru_hidden": a.gru_hidden, "latent_dim": a.latent_dim, "decoder_hidden": a.decoder_hidden,
           "kl_weight": a.kl_weight, "lr": a.vae_lr, "epochs": a.vae_epochs, "tasks_per_batch": a.tasks_per_batch,
           "trials_per_task": a.trials_per_task, "decoder": "mse", "decoder_inputs": ("z", "next_obs"),
           "decode_subset": None, "state_decoder": False}
    assert {k: getattr(VAE_CFG, k) for k in vae} == vae
    rl = {k: getattr(a, k) for k in ("hidden", "gamma", "alpha", "tau", "actor_lr", "critic_lr", "meta_batch",
                                     "batch_per_task", "updates", "eval_every", "time_input", "goal_terminal")}
    rl.update(cql_alpha=0.0, mixed_copies=0, raw_logs=True, lr_final=1.0)
    assert {k: getattr(RL_CFG, k) for k in rl} == rl


def test_bad_arguments_stop_with_one_line_naming_the_parameter():
    for bad, name in ((dict(device="gpu"), "device"), (dict(gamma=1.0), "gamma"), (dict(hidden=()), "hidden"),
                      (dict(updates=0), "updates"), (dict(n_tasks=1), "n_tasks")):
        with pytest.raises(ValueError, match=name):
            sf.check_args(dataclasses.replace(sf.Args(), **bad))
    parsed = sf.parse_args(["--hidden", "32,32", "--time-input", "false", "--seed", "3"])
    assert (parsed.hidden, parsed.time_input, parsed.seed, parsed.dataset) == ((32, 32), False, 3, None)


# ------------------------------------------------------------------------------------ stage 1a: reward relabelling
@pytest.mark.parametrize("relabel", [True, False])
def test_reward_relabelled_batches_are_the_librarys(data, relabel):
    # four goals on the arc, and every trial of task i passes through the goal of task i + 1 at step 5: a
    # borrowed episode earns reward there only when relabelled with the *labelled* task's goal (j = i - 1)
    goals = np.stack([np.cos([0.3, 1.2, 2.0, 2.8]), np.sin([0.3, 1.2, 2.0, 2.8])], -1)
    data = {**data, "tasks": goals, "next_obs": data["next_obs"].copy()}
    data["next_obs"][:, :, 5, :2] = goals[(np.arange(4) + 1) % 4][:, None]
    ti, mi = np.repeat(np.arange(4), 3), np.tile(np.arange(3), 4)
    mine = sf.sample_trials(data, ENV, ti, mi, np.random.default_rng(5), relabel)
    lib = sample_trials(data, ti, mi, tasks=data["tasks"], episodes=2, horizon=60,
                        mode="reward_relabelling" if relabel else "none", reward_fn=ENV.reward,
                        rng=np.random.default_rng(5))
    for key in ("obs", "actions", "rewards", "next_obs"):
        np.testing.assert_array_equal(mine[key], getattr(lib, key))
    if relabel:  # the first episode was borrowed from other tasks and relabelled with this task's goal
        assert (lib.source_task[:, 0] != ti).all() and mine["rewards"][:, 5].sum() > 0
        np.testing.assert_array_equal(mine["rewards"][:, :60], ENV.reward(None, None, mine["next_obs"][:, :60, :2],
                                                                          goals[ti][:, None]))
        np.testing.assert_array_equal(mine["rewards"][:, 5], lib.source_task[:, 0] == (ti - 1) % 4)
    else:
        np.testing.assert_array_equal(mine["obs"], data["obs"][ti, mi])


# ------------------------------------------------------------------------------------ stage 1b: the belief VAE
def _library_vae(seed=0):
    torch.manual_seed(seed)
    return BeliefVAE(3, 2, VAE_CFG)


def _single_vae(args, seed=0):
    torch.manual_seed(seed)
    return sf.BeliefVAE(args)


def test_vae_has_the_librarys_architecture_initial_weights_and_elbo(args, data):
    lib, mine = _library_vae(), _single_vae(args)
    lib_state = lib.state_dict()
    assert list(mine.state_dict()) == list(lib_state)
    for key, value in mine.state_dict().items():
        torch.testing.assert_close(value, lib_state[key], rtol=0, atol=0)
    batch = sf.to_torch(sf.sample_trials(data, ENV, np.array([0, 1, 2, 3]), np.array([0, 1, 2, 4]),
                                         np.random.default_rng(0), True), CPU)
    for _ in range(2):  # at the initial weights, then after one library training step, loaded into the file's VAE
        total, parts = lib.loss(batch["obs"], batch["actions"], batch["rewards"], batch["next_obs"],
                                generator=torch.Generator().manual_seed(7))
        loss, recon, kl = sf.vae_loss(mine, batch, args.kl_weight, torch.Generator().manual_seed(7))
        _close([loss.item(), recon.item(), kl.item()], [total.item(), parts["recon"].item(), parts["kl"].item()])
        assert kl.item() > 0 and recon.item() > 0
        lib.train_step(batch)
        mine.load_state_dict({k: v for k, v in lib.state_dict().items()})


@pytest.mark.parametrize("relabelling", ["reward_relabelling", "none"])
def test_trained_vae_equals_the_librarys(semi, args, data, lib_vae, single_run, relabelling):
    if relabelling == "reward_relabelling":
        lib, mine = lib_vae, single_run[1]
    else:  # the paper's ablation
        lib, _ = train_vae(semi, VAE_CFG, relabelling, seed=0, progress=False)
        mine = sf.train_vae(data, ENV, dataclasses.replace(args, reward_relabelling=False), CPU)
    changed = 0
    for key, value in mine.state_dict().items():
        torch.testing.assert_close(value, lib.state_dict()[key], rtol=1e-5, atol=1e-6)
        changed += not torch.equal(value, _library_vae().state_dict()[key])
    assert changed > 0  # training moved the weights


# ------------------------------------------------------------------------------------ stage 2: hyper-states
@pytest.mark.parametrize("goal_terminal", [False, True])
def test_hyper_states_are_the_librarys(semi, args, data, lib_vae, goal_terminal):
    mine_vae = sf.BeliefVAE(args)
    mine_vae.load_state_dict(lib_vae.state_dict())
    lib = relabel_states(VAEBelief(lib_vae), semi, time_input=True, goal_terminal=goal_terminal)
    mine = sf.relabel_states(mine_vae, data, ENV, dataclasses.replace(args, goal_terminal=goal_terminal), CPU)
    for key in ("obs", "next_obs", "actions", "rewards", "dones"):
        assert mine[key].shape == getattr(lib, key).shape
        _close(mine[key], getattr(lib, key))
    assert mine["obs"].shape[-1] == 3 + 10 + 2


# ------------------------------------------------------------------------------------ stage 3: offline SAC
def _library_layers(ensemble, member):
    return [(layer.weight[member].T, layer.bias[member, 0]) for layer in ensemble.layers]


def _assert_same_sac(mine, lib, atol=0.0):
    """The file's SAC against the library's one-member EnsembleSAC (twin critics are members 0 and 1)."""
    for net, ensemble, member in ((mine.actor, lib.actor, 0), (mine.q1, lib.critic, 0), (mine.q2, lib.critic, 1),
                                  (mine.q1_target, lib.critic_target, 0), (mine.q2_target, lib.critic_target, 1)):
        linear = [m for m in net if isinstance(m, nn.Linear)]
        assert len(linear) == len(ensemble.layers)
        for layer, (w, b) in zip(linear, _library_layers(ensemble, member)):
            torch.testing.assert_close(layer.weight, w, rtol=1e-5 if atol else 0, atol=atol)
            torch.testing.assert_close(layer.bias, b, rtol=1e-5 if atol else 0, atol=atol)


@pytest.fixture(scope="module")
def hyper(semi, lib_vae):
    return lib_vae, relabel_states(VAEBelief(lib_vae), semi, time_input=True, goal_terminal=False)


def test_sac_initialisation_batches_updates_and_critic_target_are_the_librarys(args, hyper):
    _, hs = hyper
    hs_dict = {k: getattr(hs, k) for k in ("obs", "actions", "rewards", "next_obs", "dones")}
    obs_dim = hs.obs.shape[-1]
    lib = OfflineAgent(obs_dim, 2, False, RL_CFG, seed=0, device=CPU)
    mine = sf.SAC(obs_dim, args, CPU)
    _assert_same_sac(mine, lib.agent)
    rng = np.random.default_rng(0)
    for _ in range(args.updates):
        lib_batch = lib.sample(hs)
        batch = sf.sample_meta_batch(hs_dict, rng, args, CPU)
        for key, value in batch.items():
            torch.testing.assert_close(value, lib_batch[key][0], rtol=0, atol=0)
        lib_losses = lib.update(lib_batch)
        # the critic target: with the same weights and noise, the file's soft Bellman target gives the loss
        # the library's update minimised
        gen_state = mine.gen.get_state()
        y = mine.critic_target(batch)
        q1, q2 = mine.q(mine.q1, mine.q2, batch["obs"], batch["actions"])
        _close(((q1 - y) ** 2).mean().item() + ((q2 - y) ** 2).mean().item(), lib_losses["critic_loss"])
        mine.gen.set_state(gen_state)
        losses = mine.update(batch)
        _close([losses["critic_loss"], losses["actor_loss"]], [lib_losses["critic_loss"], lib_losses["actor_loss"]])
        _assert_same_sac(mine, lib.agent, atol=1e-6)
    # a hand computation of the target on the same batch, next actions and target critics
    gen_state = mine.gen.get_state()
    a2, logp2 = mine.sample(batch["next_obs"])
    q_next = torch.minimum(*mine.q(mine.q1_target, mine.q2_target, batch["next_obs"], a2))
    mine.gen.set_state(gen_state)
    expected = batch["rewards"] + args.gamma * (1 - batch["dones"]) * (q_next - args.alpha * logp2)
    torch.testing.assert_close(mine.critic_target(batch), expected.detach())


# ------------------------------------------------------------------------------------ stage 4: evaluation
class _Policy:
    """A fixed scripted policy on hyper-states: out to the arc, then along it as the episode's clock runs; it
    records every hyper-state it is shown."""

    def __init__(self):
        self.seen = []

    def act(self, hyper):
        self.seen.append(np.array(hyper))
        phi = math.pi * hyper[:, -2]
        target = np.stack([np.cos(phi), np.sin(phi)], -1)
        return np.clip((target - hyper[:, :2]) / 0.1, -1, 1).astype(np.float32)


def test_evaluation_and_paper_metric_are_the_librarys(args, hyper):
    lib_vae, hs = hyper
    mine_vae = sf.BeliefVAE(args)
    mine_vae.load_state_dict(lib_vae.state_dict())
    tasks = ENV.sample_tasks(8, np.random.default_rng(10_000))
    p_lib, p_mine = _Policy(), _Policy()
    record: dict = {}
    df = evaluate(VAEBelief(lib_vae), p_lib, "semicircle", tasks, seed=0, time_input=True, record=record)
    returns = sf.evaluate(mine_vae, p_mine.act, ENV, tasks, args, CPU)
    _close(np.stack(p_mine.seen, 1), record["hyper"])  # the same hyper-states, beliefs included
    lib_returns = df[df.metric == "return"].sort_values(["task", "episode"]).value.to_numpy().reshape(8, 2)
    np.testing.assert_array_equal(returns, lib_returns)
    assert returns.sum() > 0  # the script finds some goals: the comparison is not of zeros
    summary = df[df.metric == "return"].groupby("episode").value.mean()
    assert sf.paper_metric(returns, ENV) == pytest.approx(summary.iloc[: ENV.eval_episodes].mean())
    # the trained SAC's deterministic policy acts the same in both
    lib_agent = OfflineAgent(hs.obs.shape[-1], 2, False, RL_CFG, seed=0, device=CPU)
    mine_sac = sf.SAC(hs.obs.shape[-1], args, CPU)
    np.testing.assert_allclose(mine_sac.act(record["hyper"][:, 3]), lib_agent.act(record["hyper"][:, 3]), atol=1e-6)


# ------------------------------------------------------------------------------------ end to end
def test_the_whole_file_reproduces_the_library_pipeline(semi, lib_vae, single_run):
    score, vae, sac = single_run
    # the library's stages as borel_lib.pipeline runs them (without its files and checkpoints)
    hs = relabel_states(VAEBelief(lib_vae), semi, time_input=RL_CFG.time_input, goal_terminal=RL_CFG.goal_terminal)
    agent = OfflineAgent(hs.obs.shape[-1], 2, False, RL_CFG, seed=0, device=CPU)
    for _ in range(RL_CFG.updates):
        agent.update(agent.sample(hs))
    tasks = ENV.sample_tasks(20, np.random.default_rng(0 + 10_000))
    df = evaluate(VAEBelief(lib_vae), agent, "semicircle", tasks, seed=0, time_input=RL_CFG.time_input)
    lib_score = df[df.metric == "return"].groupby("episode").value.mean().iloc[: ENV.eval_episodes].mean()
    for key, value in vae.state_dict().items():
        torch.testing.assert_close(value, lib_vae.state_dict()[key], rtol=1e-5, atol=1e-6)
    _assert_same_sac(sac, agent.agent, atol=1e-5)
    assert score == pytest.approx(lib_score, abs=1e-9)


def test_smoke_run_on_its_own_random_data_gives_a_finite_score(capsys):
    score, _, _ = sf.main(sf.Args(n_tasks=3, n_trials=2, n_eval_tasks=5))
    assert math.isfinite(score) and 0 <= score <= 60
    assert "paper's metric" in capsys.readouterr().out
    data = sf.collect_random(ENV, sf.Args(n_tasks=3, n_trials=2))
    assert data["obs"].shape == (3, 2, 120, 3) and data["next_obs"][..., 59, 2].all()
    # stored rewards are the environment's own, and a trial's second episode restarts from a fresh start state
    np.testing.assert_array_equal(data["rewards"], ENV.reward(None, None, data["next_obs"][..., :2],
                                                              data["tasks"][:, None, None]))
    assert not np.allclose(data["obs"][:, :, 60, :2], data["next_obs"][:, :, 59, :2])
