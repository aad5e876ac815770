"""MBML: trains only on the offline dataset, stacked BCQ/reward members are independent, resume."""

import numpy as np
import pytest
import torch

from borel_lib.baselines.bcq import member_forward
from borel_lib.baselines.mbml import MBMLConfig, MBMLTrainer
from borel_lib.baselines.mbml_diagnostics import task_identification
from borel_lib.collect import CollectConfig, collect
from borel_lib.envs.batched import BatchedTrial
from borel_lib.envs.point_robot import PointRobotEnv


@pytest.fixture(scope="module")
def semi(tmp_path_factory):
    d = tmp_path_factory.mktemp("mbml")
    ds, _ = collect(CollectConfig.for_domain("semicircle", "smoke"), d / "ds", d / "ck", profile="smoke", progress=False)
    return ds


def _no_env(*args, **kwargs):
    raise AssertionError("MBML training stepped an environment")


def test_training_uses_only_the_offline_dataset(semi, monkeypatch):
    monkeypatch.setattr(BatchedTrial, "step", _no_env)
    monkeypatch.setattr(BatchedTrial, "reset", _no_env)
    monkeypatch.setattr(PointRobotEnv, "step", _no_env)
    trainer = MBMLTrainer(semi, MBMLConfig.for_profile("smoke"), seed=0)
    rows = trainer.train(progress=False, evaluate_during=False)
    assert rows.empty and trainer.done == {"bcq": 4, "reward": 4, "distill": 4}
    ident = task_identification(trainer)  # held-out *data*, not environment steps
    assert ident["task_id_chance"] == 1 / semi.n_tasks and 0 <= ident["task_id_accuracy"] <= 1
    # the held-out trials are the last ones, and never in the training arrays
    M, T = semi.n_trials, semi.trial_length
    assert trainer.data.size == (M - 1) * T
    np.testing.assert_array_equal(trainer.data.heldout["rewards"][:, 0], semi.rewards[:, M - 1])


def test_member_forward_picks_members(semi):
    trainer = MBMLTrainer(semi, MBMLConfig.for_profile("smoke"), seed=0)
    net = trainer.bcq.actor
    x = torch.randn(net.members, 5, net.layers[0].weight.shape[1])
    full = net(x)
    members = torch.tensor([2, 0, 2])
    torch.testing.assert_close(member_forward(net, members, x[members]), full[members])


def test_resume_after_a_kill_equals_uninterrupted(semi, tmp_path):
    cfg = MBMLConfig.for_profile("smoke", checkpoint_every=1)
    straight = MBMLTrainer(semi, cfg, seed=1)
    rows_a = straight.train(tmp_path / "a.pt", progress=False)

    killed = MBMLTrainer(semi, cfg, seed=1)
    calls = {"n": 0}
    original = killed.distill_step

    def dying_step():
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original()

    killed.distill_step = dying_step
    with pytest.raises(KeyboardInterrupt):
        killed.train(tmp_path / "b.pt", progress=False)
    resumed = MBMLTrainer(semi, cfg, seed=1)
    rows_b = resumed.train(tmp_path / "b.pt", progress=False)
    assert rows_a.equals(rows_b) and len(rows_a) > 0
    for mod in ("bcq", "rewards", "agent"):
        a, b = getattr(straight, mod).state_dict(), getattr(resumed, mod).state_dict()
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    with pytest.raises(ValueError, match="different configuration"):
        MBMLTrainer(semi, cfg.replace(margin=1.0), seed=1).train(tmp_path / "b.pt", progress=False)


def test_bad_config_names_the_field(semi):
    with pytest.raises(ValueError, match="tasks_per_step"):
        MBMLConfig(tasks_per_step=1)
    with pytest.raises(ValueError, match="heldout_trials"):
        MBMLTrainer(semi, MBMLConfig.for_profile("smoke", heldout_trials=semi.n_trials), seed=0)


def test_wind_relabels_next_states_with_the_other_tasks_model(tmp_path, monkeypatch):
    """Wind (tasks differ in transitions): the ensembles learn s' − s; a transition of task j relabelled for
    task i gets i's predicted s' and the reward of that s'; training touches no environment."""
    from borel_lib.envs import make_env

    ds, _ = collect(CollectConfig.for_domain("wind", "smoke"), tmp_path / "ds", tmp_path / "ck", profile="smoke",
                    progress=False)
    cfg = MBMLConfig.for_domain("wind", "smoke", reward_updates=500, reward_batch=64, reward_hidden=(32,))
    assert cfg.std_threshold == 0.01
    monkeypatch.setattr(BatchedTrial, "step", _no_env)
    trainer = MBMLTrainer(ds, cfg, seed=0)
    assert trainer.transitions
    rows = trainer.train(progress=False, evaluate_during=False)
    assert rows.empty
    tasks = np.arange(3)
    ctx = trainer._t(trainer.data.sample(tasks, 16, trainer.rng))
    r, nxt, std = trainer._relabel(tasks, ctx)
    assert r.shape == std.shape == (3, 3, 16) and nxt.shape == (3, 3, 16, 2)
    wind = np.asarray(ds.tasks, np.float32)
    # i's model moves j's (s, a) by about 0.1 a + w_i: nearer that than j's own stored s' (0.1 a + w_j)
    want = ctx["obs"][None] + 0.1 * ctx["actions"].clamp(-1, 1)[None] + torch.as_tensor(wind[tasks])[:, None, None]
    off = ~torch.eye(3, dtype=torch.bool)
    to_own_model = (nxt - want).norm(dim=-1)[off].mean()
    to_stored = (nxt - ctx["next_obs"][None]).norm(dim=-1)[off].mean()
    assert to_own_model < 0.5 * to_stored, (to_own_model, to_stored)
    env = make_env("wind")
    np.testing.assert_array_equal(r.numpy(), env.reward(None, None, nxt.numpy(), np.zeros((3, 3, 16, 2))))
    ident = task_identification(trainer)
    assert set(ident) == {"task_id_accuracy", "task_id_chance"}


@pytest.mark.parametrize("domain", ["cheetah_vel", "ant_semicircle"])
def test_mujoco_domains_train_offline_and_evaluate(domain, tmp_path, monkeypatch):
    """Half-Cheetah-Vel / Ant-Semi-circle: the official thresholds; training steps no MuJoCo trial (only the
    evaluation does); task identification reports the named velocity's error (Cheetah) or the goal radius
    (Ant) beside chance."""
    from borel_lib.baselines.common import evaluate
    from borel_lib.envs.batched import BatchedMujocoTrial

    ds, _ = collect(CollectConfig.for_domain(domain, "smoke"), tmp_path / "ds", tmp_path / "ck", profile="smoke",
                    progress=False)
    cfg = MBMLConfig.for_domain(domain, "smoke", tasks_per_step=2)
    assert cfg.std_threshold == (0.05 if domain == "cheetah_vel" else 0.1)
    assert MBMLConfig.for_domain(domain, "paper").bcq_iterations == (100_000 if domain == "ant_semicircle" else 50_000)
    with monkeypatch.context() as m:
        m.setattr(BatchedMujocoTrial, "step", _no_env)
        m.setattr(BatchedMujocoTrial, "reset", _no_env)
        trainer = MBMLTrainer(ds, cfg, seed=0)
        assert not trainer.transitions and trainer.train(progress=False, evaluate_during=False).empty
    ident = task_identification(trainer)
    extra = {"task_id_error", "task_id_error_chance"} if domain == "cheetah_vel" else {
        "task_id_within_radius", "task_id_within_radius_chance"}
    assert set(ident) == {"task_id_accuracy", "task_id_chance"} | extra
    ev = evaluate(trainer.agent, domain, trainer.eval_tasks[:2], seed=0, num_exp_traj_eval=1, use_next_obs=True)
    assert set(ev.episode) == {1, 2} and np.isfinite(ev.value).all()


def test_teacher_action_is_the_argmax_of_its_own_members_q1(semi):
    """EnsembleBCQ.act: per task, the candidate (decoder + ξ) with the highest Q1 of *that task's* member."""
    trainer = MBMLTrainer(semi, MBMLConfig.for_profile("smoke"), seed=0)
    bcq, E = trainer.bcq, trainer.bcq.E
    obs = torch.randn(3, trainer.data.obs_dim)
    members = torch.tensor([E - 1, 0, E - 1])
    a = bcq.act(members, obs, torch.Generator().manual_seed(5))
    assert a.shape == (3, trainer.data.act_dim) and a.abs().max() <= 1
    # the same draws by hand, one member at a time through the full (unstacked) networks
    g = torch.Generator().manual_seed(5)
    m = trainer.cfg.bcq_candidates
    nu = torch.randn((3, m, bcq.latent), generator=g).clamp(-0.5, 0.5)
    for row, member in enumerate(members.tolist()):
        o = obs[row].expand(m, -1)
        x = torch.zeros(E, m, o.shape[-1] + bcq.latent)
        x[member] = torch.cat([o, nu[row]], -1)
        cand = torch.tanh(bcq.vae_dec(x)[member])
        y = torch.zeros(E, m, o.shape[-1] + bcq.act_dim)
        y[member] = torch.cat([o, cand], -1)
        pert = (cand + trainer.cfg.bcq_phi * torch.tanh(bcq.actor(y)[member])).clamp(-1, 1)
        q = torch.zeros(2 * E, m, o.shape[-1] + bcq.act_dim)
        q[member] = torch.cat([o, pert], -1)
        torch.testing.assert_close(a[row], pert[bcq.critic(q)[member, :, 0].argmax()])


def test_component_probe_evaluates_every_mode_on_the_training_tasks(semi):
    from borel_lib.baselines.mbml_diagnostics import PROBE_MODES, probe_components

    trainer = MBMLTrainer(semi, MBMLConfig.for_profile("smoke"), seed=0)
    trainer.train(progress=False, evaluate_during=False)
    df = probe_components(trainer, context_size=8)
    assert set(df["mode"]) == set(PROBE_MODES)
    assert set(df.task) == set(range(semi.n_tasks)) and set(df.episode) == {1, 2}
    zero = df[df["mode"] == "zero_action"]
    assert (zero.value == 0).all()  # Semi-circle from the fixed start: no goal, no reward, for standing still
    assert np.isfinite(df.value).all()


def test_init_state_picks_the_dataset_and_names_the_run(monkeypatch):
    """--init-state trains MBML on another of the collection's variants (Ant: Table 1's datasets; Figure 3
    uses the uniform one): the collection is asked for that variant and the run's files carry it; the
    protocol's default keeps the old names; a variant the domain lacks is a clear error before any work."""
    from borel_lib import collect
    from borel_lib.baselines import mbml
    from borel_lib.config import ConfigError

    asked = []

    class Stop(Exception):
        pass

    def fake_collection(domain, profile=None, progress=True, **overrides):
        asked.append(overrides)
        raise Stop

    monkeypatch.setattr(collect, "run_collection", fake_collection)
    for init_state, expected in ((None, {}), ("exclude_semicircle", {}), ("uniform", {"init_state": "uniform"})):
        with pytest.raises(Stop):
            mbml.run_mbml("ant_semicircle", "smoke", seed=0, progress=False, device="cpu", init_state=init_state)
        assert asked.pop() == expected
    assert mbml.run_tag("ant_semicircle", 1, "uniform", "quick") == "mbml_ant_semicircle_uniform_seed1"
    assert mbml.run_tag("ant_semicircle", 1, "exclude_semicircle", "quick") == mbml.run_tag("ant_semicircle", 1) \
        == "mbml_ant_semicircle_exclude_semicircle_seed1"
    with pytest.raises(ConfigError, match="allowed values: fixed, uniform, exclude_semicircle"):
        mbml.run_mbml("ant_semicircle", "smoke", init_state="everywhere")
    assert mbml.main(["ant_semicircle", "--profile", "smoke", "--init-state", "everywhere"]) == 2
    assert not asked


def test_logged_returns_against_a_loop(semi):
    """scripts/mbml_teachers.py's bar: every task's logged return and success per episode, over its training trials
    (the held-out ones excluded) and over the last L of them, as a plain loop computes them."""
    from borel_lib.baselines.mbml_diagnostics import logged_returns
    from borel_lib.envs import make_env

    env = make_env("semicircle")
    N, M, T = semi.rewards.shape
    k, H = semi.manifest["episodes_per_trial"], semi.manifest["horizon"]
    heldout, last = 1, 2
    df = logged_returns(semi, heldout, last)
    keep = M - heldout
    for method, trials in (("logged_all", range(keep)), (f"logged_last{last}", range(keep - last, keep))):
        for i in range(N):
            for e in range(k):
                steps = slice(e * H, (e + 1) * H)
                ret = np.mean([float(np.sum(semi.rewards[i, m, steps], dtype=np.float64)) for m in trials])
                hit = np.mean([bool(env.is_success(semi.arrays["next_obs"][i, m, steps, :-1], semi.tasks[i]).any())
                               for m in trials])
                row = df[(df.method == method) & (df.task == i) & (df.episode == e + 1)].set_index("metric").value
                assert row["return"] == pytest.approx(ret, rel=1e-5, abs=1e-5)
                assert row["success"] == pytest.approx(hit)
    with pytest.raises(ValueError, match="last=99"):
        logged_returns(semi, heldout, 99)


def test_teachers_are_evaluated_from_the_given_initial_states(semi, monkeypatch):
    """The teachers play their own tasks from the collection's initial states (``init_state``), not only the
    test protocol's fixed start: the first states of a uniform-start evaluation differ between tasks."""
    from borel_lib.baselines import mbml_diagnostics
    from borel_lib.baselines.common import evaluate
    from borel_lib.baselines.mbml_diagnostics import evaluate_teachers

    trainer = MBMLTrainer(semi, MBMLConfig.for_profile("smoke"), seed=0)
    seen = []

    def spy(*args, **kwargs):
        seen.append(kwargs["init_state"])
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(mbml_diagnostics, "evaluate", spy)
    df = evaluate_teachers(trainer, "uniform")
    assert seen == ["uniform"]
    assert set(df.method) == {"bcq_teachers"} and set(df.task) == set(range(semi.n_tasks))
    assert np.isfinite(df.value).all()

    class Still:  # stands still whatever it is given
        device = torch.device("cpu")

        def prior(self, n):
            return torch.zeros(n, 1), torch.ones(n, 1)

        def sample_z(self, mu, var, generator=None):
            return mu

        def act(self, obs, z, deterministic=True):
            return np.zeros((len(obs), 2), np.float32)

    starts = {}
    for init in ("fixed", "uniform"):
        rec = {}
        evaluate(Still(), "semicircle", np.asarray(semi.tasks), 0, 2, record=rec, init_state=init)
        starts[init] = rec["next_obs"][:, 0, :2]
    assert np.allclose(starts["fixed"], starts["fixed"][0])
    assert not np.allclose(starts["uniform"], starts["uniform"][0])
