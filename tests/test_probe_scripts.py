"""The MuJoCo data probes of issue 13: scripts/probe_ant_collectors.py (what the Ant data can teach under
the paper's metric), scripts/cheetah_tracking.py (do the Cheetah collectors track their velocity), scripts/probe_ant_gait.py and
scripts/probe_sac_gym_ant.py (the collectors' SAC on Gymnasium's Ant-v5); and of issue 14, scripts/probe_mbml.py (where MBML loses)."""

import json

import numpy as np
import pandas as pd
import pytest
from script_loader import load_script

from borel_lib import figures
from borel_lib.collect import run_collection
from borel_lib.results import result_path  # noqa: E402


def _script(name):
    return load_script(name)


probe = _script("probe_ant_collectors")
gait = _script("probe_ant_gait")
tracking = _script("cheetah_tracking")


def test_summarise_against_a_loop():
    rng = np.random.default_rng(0)
    ctrl = -rng.random((3, 8))
    goal = (rng.random((3, 8)) < 0.4).astype(float)
    out = probe.summarise((goal + ctrl)[:, None], ctrl[:, None], k=2)  # (tasks, trials, T)
    for e in range(2):
        sl = slice(4 * e, 4 * e + 4)
        assert out["return"][e] == pytest.approx(np.mean([(goal + ctrl)[i, sl].sum() for i in range(3)]))
        assert out["in_goal_steps"][e] == pytest.approx(np.mean([goal[i, sl].sum() for i in range(3)]))
        assert out["ctrl"][e] == pytest.approx(np.mean([ctrl[i, sl].sum() for i in range(3)]))


@pytest.fixture()
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    return tmp_path


def test_probe_scores_a_smoke_collection(root, capsys):
    run_collection("ant_semicircle", "smoke", progress=False, init_state="uniform")
    assert probe.main(["--profile", "smoke", "--iterations", "2", "--trials", "1", "--last", "1"]) == 0
    df = pd.read_csv(result_path("probe_ant_collectors_uniform_shared_calibrated", "smoke", root / "build" / "smoke" / "results"))
    assert set(df.method) == {"logged", "zero_action", "collector_deterministic", "collector_sampled"}
    assert set(df.episode) == {1, 2}
    zero = df[(df.method == "zero_action") & (df.metric == "ctrl")]
    assert (zero.value == 0).all()  # standing still costs nothing
    sampled = df[(df.method == "collector_sampled") & (df.metric == "ctrl")]
    assert (sampled.value < 0).all()
    reached = df[df.metric == "tasks_reached"].value
    assert len(reached) and reached.between(0, 2).all()  # smoke: 2 tasks
    table = figures.ant_collector_probe("smoke", protocol="shared_calibrated")
    assert list(table.columns) == ["return, ep 1", "return, ep 2", "steps in goal, ep 1", "steps in goal, ep 2",
                                   "tasks reaching the goal, ep 1", "tasks reaching the goal, ep 2"]
    with pytest.raises(FileNotFoundError, match="no saved policies at iteration 7"):
        probe.main(["--profile", "smoke", "--iterations", "7", "--trials", "1"])


def test_tracking_error_against_a_loop():
    from borel_lib.envs import make_env

    env = make_env("cheetah_vel")
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(2, 3, 8, env.observation_space.shape[0]))
    nxt = rng.normal(size=obs.shape)
    targets = np.array([0.5, 2.0])
    err = tracking.tracking_errors(obs, nxt, targets, horizon=4)  # 2 episodes of 4 steps: steps 2-3, 6-7
    v = env.forward_velocity(obs, nxt)
    for i in range(2):
        for m in range(3):
            want = np.mean([abs(v[i, m, t] - targets[i]) for t in (2, 3, 6, 7)])
            assert err[i, m] == pytest.approx(want)


def test_cheetah_tracking_on_a_smoke_collection(root):
    run_collection("cheetah_vel", "smoke", progress=False)
    assert tracking.main(["--profile", "smoke", "--block", "1"]) == 0
    df = pd.read_csv(result_path("cheetah_tracking", "smoke", root / "build" / "smoke" / "results"))
    assert set(df.iterations) == {"warm-up", "0-0", "1-1", "-"} and (df.value >= 0).all()
    still = df[df.method == "standing_still"].sort_values("task").value.to_numpy()
    manifest = json.loads((root / "build" / "smoke" / "datasets" / "cheetah_vel_fixed_seed0" / "manifest.json").read_text())
    np.testing.assert_allclose(still, np.abs(np.asarray(manifest["tasks"])[:, 0]), rtol=1e-5)  # CSV: 6 digits


mode_probe = _script("probe_policy_mode")


def test_policy_mode_probe_reproduces_the_runs_own_evaluation(root):
    """The deterministic mode is the run's own evaluation (same numbers as its last table row); standing
    still on the Semi-circle from the fixed start never reaches a goal; sampling is seeded (repeatable)."""
    from borel_lib.pipeline import RunSpec, run_borel

    spec = RunSpec("semicircle", "smoke", "exact", "reward_relabelling", 0)
    table = run_borel(spec, progress=False, device="cpu")
    argv = ["semicircle", "--profile", "smoke", "--belief", "exact", "--seed", "0", "--no-progress"]
    assert mode_probe.main(argv) == 0
    path = result_path(f"probe_policy_mode_{spec.tag}", "smoke", root / "build" / "smoke" / "results")
    df = pd.read_csv(path)
    assert set(df["mode"]) == set(mode_probe.MODES)
    last = table[table.updates == table.updates.max()].set_index(["episode", "metric"]).value
    det = df[df["mode"] == "deterministic"].set_index(["episode", "metric"]).value
    for key in last.index:
        assert det[key] == pytest.approx(last[key])
    zero = df[df["mode"] == "zero_action"]
    assert (zero[zero.metric.isin(["return", "success", "in_goal_steps"])].value == 0).all()
    assert mode_probe.main(argv) == 0
    pd.testing.assert_frame_equal(pd.read_csv(path), df)
    with pytest.raises(SystemExit):
        mode_probe.main(["gridworld", "--profile", "smoke"])  # discrete actions: nothing to sample


def test_gait_probe_measures_a_smoke_collection(root):
    run_collection("ant_semicircle", "smoke", progress=False, init_state="uniform")
    assert gait.main(["--profile", "smoke", "--iteration", "2"]) == 0
    df = pd.read_csv(result_path("probe_ant_gait_uniform_iter2", "smoke", root / "build" / "smoke" / "results"))
    assert set(df.method) == {"collector_deterministic", "collector_sampled"}
    v = df.pivot_table(index="metric", columns="method", values="value")
    d1 = v.loc["dist_step1"]  # the same start states in both modes: one step apart, the distances are close
    assert abs(d1.iloc[0] - d1.iloc[1]) < 0.05
    assert (v.loc["action_temporal_sd"] > 0).all() and (v.loc["abs_action"] <= 1).all()
    assert (v.loc["dist_min"] <= v.loc["dist_step50"]).all()
    with pytest.raises(FileNotFoundError, match="no saved policies at iteration 7"):
        gait.main(["--profile", "smoke", "--iteration", "7"])


sac_ant = _script("probe_sac_gym_ant")


def test_sac_on_gym_ant_probe_records_both_modes_and_resumes(root):
    import shutil

    args = ["--profile", "smoke", "--sac", "calibrated", "--set", "hidden=16,16", "--seeds", "0", "1", "--steps", "120",
            "--random-steps", "60", "--eval-every", "60", "--eval-episodes", "1"]
    name = "probe_sac_gym_ant_calibrated_hidden16x16_steps120_seeds0-1"
    assert sac_ant.main(args) == 0
    df = pd.read_csv(result_path(name, "smoke", root / "build" / "smoke" / "results"))
    assert set(df.variant) == {"mean_action", "sampled", "training"} and set(df.steps) == {60, 120}
    assert set(df.seed) == {0, 1} and set(df.metric) == {"return", "length", "x_velocity", "alpha"}
    lengths = df[df.metric == "length"].value
    assert ((lengths >= 1) & (lengths <= 1000)).all()
    assert (df[(df.metric == "alpha") & (df.steps == 120)].value < 0.2).all()  # automatic entropy tuning moved α
    # one seed makes the run repeatable; a run killed after its first evaluation resumes to the same table
    shutil.rmtree(root / "build" / "smoke" / "checkpoints" / name)
    assert sac_ant.main([*args, "--stop-at", "60"]) == 0
    assert (root / "build" / "smoke" / "checkpoints" / name / "probe.pt").is_file()
    assert sac_ant.main(args) == 0
    again = pd.read_csv(result_path(name, "smoke", root / "build" / "smoke" / "results"))
    pd.testing.assert_frame_equal(df, again)


mbml_probe = _script("probe_mbml")


def test_mbml_probe_needs_a_finished_run_and_reports_every_mode(root, capsys):
    """scripts/probe_mbml.py: a clear error before the run exists; after it, one row per mode, episode and
    metric, the teachers' and students' returns finite and standing still scoring 0 on the Semi-circle."""
    from borel_lib.baselines.mbml import PROBE_MODES, run_mbml

    argv = ["semicircle", "--profile", "smoke", "--seed", "0", "--context-size", "8"]
    with pytest.raises(SystemExit):
        mbml_probe.main(argv)
    assert "python -m borel_lib.baselines.mbml semicircle --profile smoke --seed 0" in capsys.readouterr().err
    run_mbml("semicircle", "smoke", seed=0, progress=False, device="cpu")
    assert mbml_probe.main(argv) == 0
    df = pd.read_csv(result_path("probe_mbml_semicircle_uniform_seed0", "smoke", root / "build" / "smoke" / "results"))
    assert list(df["mode"].unique()) == list(PROBE_MODES)
    assert len(df) == len(PROBE_MODES) * 2 * 2  # modes x episodes x (return, success)
    assert (df[df["mode"] == "zero_action"].value == 0).all() and np.isfinite(df.value).all()


diversity = _script("ant_data_diversity")


def test_arc_measures_against_hand_cases():
    pts = diversity.arc_points(3)  # (1, 0), (0, 1), (-1, 0)
    np.testing.assert_allclose(pts, [[1, 0], [0, 1], [-1, 0]], atol=1e-12)
    walk = np.array([[[1.0, 0.05], [0.5, 0.5], [0.0, 0.95]], [[0.0, 0.0], [0.0, 0.1], [0.0, 0.2]]])  # (2 episodes, 3 steps)
    np.testing.assert_array_equal(diversity.arc_sweep(walk, 0.2, pts), [[True, True, False], [False, False, False]])
    xy = np.array([[0.0, 1.1], [0.0, 0.5], [1.1, -0.1], [0.0, -1.0], [-0.9, 0.0]])
    np.testing.assert_array_equal(diversity.on_arc(xy, 0.2), [True, False, True, False, True])


def test_ant_data_diversity_on_smoke_collections(root):
    for variant in diversity.VARIANTS:
        run_collection("ant_semicircle", "smoke", progress=False, init_state=variant)
    assert diversity.main(["--profile", "smoke"]) == 0
    df = pd.read_csv(result_path("ant_data_diversity", "smoke", root / "build" / "smoke" / "results"))
    assert list(df.variant.unique()) == list(diversity.VARIANTS) and len(df) == 3 * 4
    starts = df[df.metric == "starts_on_arc"].set_index("variant").value
    assert starts["fixed"] == 0 and starts["exclude_semicircle"] == 0  # neither starts on the semi-circle
    shares = df[df.metric != "arc_points_per_episode"].value
    assert ((shares >= 0) & (shares <= 1)).all()
    table = figures.ant_data_diversity("smoke")  # what notebook 07 shows: a row per variant, a column per measure
    assert list(table.index) == list(figures.ANT_VARIANTS.values())
    assert list(table.columns) == list(figures.ANT_DIVERSITY_METRICS.values())


def test_the_collector_gate_counts_tasks_by_hand():
    # 2 tasks x 2 trials x (k=2 episodes of 3 steps); a goal step has reward 1 - ctrl
    ctrl = np.full((2, 2, 6), -0.1)
    rewards = ctrl.copy()
    rewards[0, 0, 1] += 1  # task 0 reaches in episode 1 of trial 0 only (half its trials: counts)
    rewards[1, :, 4] += 1  # task 1 reaches in episode 2 of both trials
    out = probe.summarise(rewards, ctrl, k=2)
    np.testing.assert_allclose(out["reached"], [0.25, 0.5])
    np.testing.assert_allclose(out["tasks_reached"], [1, 1])
    np.testing.assert_allclose(out["in_goal_steps"], [0.25, 0.5])
    np.testing.assert_allclose(out["ctrl"], [-0.3, -0.3])


teachers = _script("mbml_teachers")


def test_mbml_teachers_against_their_data_resume_and_name_the_run(root, capsys):
    """scripts/mbml_teachers.py: the teachers' curve beside the logged trials' returns, the share of tasks at or
    above them in [0, 1], BCQ settings in the run's name and command, and a second call resuming the finished
    run to the same table."""
    argv = ["semicircle", "--profile", "smoke", "--seed", "0", "--eval-every", "2", "--mbml", "bcq_candidates=2",
            "--no-progress"]
    assert teachers.main(argv) == 0
    name = "probe_mbml_teachers_semicircle_uniform_cand2_seed0"
    path = result_path(name, "smoke", root / "build" / "smoke" / "results")
    df = pd.read_csv(path)
    assert set(df.method) == {"bcq_teachers", "logged_all", "logged_last4"}  # smoke: 5 trials, 1 held out
    assert sorted(df[df.method == "bcq_teachers"].iteration.unique()) == [2, 4]
    assert (df[df.method != "bcq_teachers"].iteration == -1).all()
    share = df[df.metric.str.startswith("tasks_at_or_above_")]
    assert len(share) == 2 * 2 and share.value.between(0, 1).all()
    ret = df[df.metric == "return"]
    for it in (2, 4):
        mine = ret[(ret.method == "bcq_teachers") & (ret.iteration == it)].value.mean()
        for method in ("logged_all", "logged_last4"):
            got = df[(df.iteration == it) & df.metric.str.startswith(f"minus_{method}_")].set_index("metric").value
            assert got[f"minus_{method}_mean"] == pytest.approx(mine - ret[ret.method == method].value.mean(), abs=1e-5)
            assert got[f"minus_{method}_ci_low"] <= got[f"minus_{method}_mean"] <= got[f"minus_{method}_ci_high"]
    config = json.loads(path.with_name(f"{name}.config.json").read_text())
    assert config["command"].endswith("--seed 0 --mbml bcq_candidates=2 --eval-every 2")
    assert teachers.main(argv) == 0
    pd.testing.assert_frame_equal(df, pd.read_csv(path))
    assert teachers.main([*argv[:-3], "--eval-every", "3", *argv[-3:]]) == 2  # the checkpoint's grid is every 2
    assert "resume with the same --eval-every" in capsys.readouterr().err
    # bcq_iterations grows the run: the first 4 iterations' evaluations stay, two more are added
    longer = [*argv, "--mbml", "bcq_iterations=8"]
    assert teachers.main(longer) == 0
    grown = pd.read_csv(path)
    assert sorted(grown[grown.method == "bcq_teachers"].iteration.unique()) == [2, 4, 6, 8]
    pd.testing.assert_frame_equal(grown[grown.iteration.isin([-1, 2, 4])].reset_index(drop=True),
                                  df[df.iteration.isin([-1, 2, 4])].reset_index(drop=True))
    assert json.loads(path.with_name(f"{name}.config.json").read_text())["command"].endswith("--mbml bcq_iterations=8 "
                                                                                            "--eval-every 2")
    assert teachers.main(argv) == 2  # a run only grows
    assert "a teacher run only grows" in capsys.readouterr().err
    assert teachers.main(["semicircle", "--profile", "smoke", "--mbml", "kl_beta=1"]) == 2
    assert "only the teachers' fields" in capsys.readouterr().err


pearl_diag = _script("pearl_diagnostics")


def test_pearl_diagnostics_judge_episode_2_against_episode_1_over_the_seeds(root, monkeypatch):
    """scripts/pearl_diagnostics.py: each seed's return per episode over its last 10 % of evaluations comes from the
    run's own evaluation rows (here made up, so episode 2 is above episode 1 by seed-specific margins), and the
    seeds' rows (seed -1) hold the IQM of the per-seed differences ep2 − ep1 and its bootstrap interval."""
    from borel_lib.baselines.pearl import PEARLTrainer, run_pearl
    from borel_lib.results import read_results
    from borel_lib.stats import bootstrap_ci, iqm

    for seed in (0, 1, 2):
        run_pearl("semicircle", "smoke", seed=seed, progress=False, device="cpu")
    made_up = {0: (1.0, 4.0), 1: (2.0, 3.0), 2: (0.0, 6.0)}  # seed: (episode 1, episode 2) at every evaluation
    real_load = PEARLTrainer.load_state_dict

    def load(self, state, where="checkpoint"):
        real_load(self, state, where)
        for row in self.rows:
            if row["metric"] == "return":
                row["value"] = made_up[self.seed][row["episode"] - 1]

    monkeypatch.setattr(PEARLTrainer, "load_state_dict", load)
    assert pearl_diag.main(["semicircle", "--profile", "smoke", "--seeds", "0", "1", "2"]) == 0
    df = read_results("probe_pearl_diagnostics_semicircle", "smoke")
    for seed, (ep1, ep2) in made_up.items():
        got = df[(df.seed == seed) & (df.metric == "return_last10")].set_index("episode").value
        assert (got[1], got[2]) == (pytest.approx(ep1), pytest.approx(ep2))
    diffs = [ep2 - ep1 for ep1, ep2 in made_up.values()]
    over = df[df.seed == -1].set_index("metric").value
    low, high = bootstrap_ci(diffs)
    assert over["ep2_minus_ep1_seeds"] == 3 and over["ep2_minus_ep1_iqm"] == pytest.approx(iqm(diffs), abs=1e-5)
    assert (over["ep2_minus_ep1_ci_low"], over["ep2_minus_ep1_ci_high"]) == (pytest.approx(low, abs=1e-5), pytest.approx(high, abs=1e-5))
    assert low > 0 and pearl_diag.paired_verdict(diffs)["verdict"] == "holds"
    assert pearl_diag.paired_verdict([-d for d in diffs])["verdict"] == "reversed"
    assert pearl_diag.paired_verdict([1.0])["verdict"] == "too few seeds"
