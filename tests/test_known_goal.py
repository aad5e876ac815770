"""The goal-known reference (borel_lib.references.known_goal) and issue 28's probe that uses it."""

import numpy as np
import pytest
from script_loader import load_script

from borel_lib.collect import CollectConfig, collect
from borel_lib.evaluation import evaluate
from borel_lib.references.known_goal import KnownGoal
from borel_lib.state_relabel import relabel_states


@pytest.fixture(scope="module")
def semi(tmp_path_factory):
    d = tmp_path_factory.mktemp("known_goal")
    return collect(CollectConfig.for_domain("semicircle", "smoke"), d / "ds", d / "ck", profile="smoke", progress=False)[0]


def test_trials_repeat_the_task_and_bad_shapes_are_refused():
    kg = KnownGoal(2)
    feats = kg.trials(np.zeros((3, 5, 2)), np.zeros((3, 5)), np.zeros((3, 5, 3)), task=[0.5, -1.0])
    assert feats.shape == (3, 6, 2) and np.all(feats == np.array([0.5, -1.0], np.float32))
    state = kg.reset(2, [[1, 2], [3, 4]])
    assert np.array_equal(kg.features(kg.step(state, None, None, None)), [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match=r"expected \(3, 2\)"):
        kg.reset(3, [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="dim"):
        KnownGoal(0)


def test_state_relabelling_puts_each_trials_own_task_in_the_hyper_state(semi):
    hs = relabel_states(KnownGoal(2), semi, time_input=True)
    obs_dim = semi.obs.shape[-1]
    goals = hs.obs[..., obs_dim:obs_dim + 2]
    assert np.allclose(goals, np.asarray(semi.tasks, np.float32)[:, None, None, :])
    assert np.allclose(hs.next_obs[..., obs_dim:obs_dim + 2], goals)
    assert hs.obs.shape[-1] == obs_dim + 2 + 2  # s, g, time


def test_evaluation_gives_the_agent_the_evaluation_goal():
    """A scripted goal-seeker that reads the goal from its hyper-state reaches every goal: the evaluation
    passed the right task to the belief, and the hyper-state carries it where the belief goes."""
    tasks = np.array([[1.0, 0.0], [0.0, 1.0], [-0.7071, 0.7071]])

    class GoToGoal:
        def act(self, hyper):
            pos, goal = hyper[:, :2], hyper[:, -2:]
            return np.clip((goal - pos) * 10, -1, 1)

    ev = evaluate(KnownGoal(2), GoToGoal(), "semicircle", tasks)
    assert ev[ev.metric == "success"].value.min() == 1.0


def test_goal_known_probe_runs_resumes_and_writes_its_table(tmp_path, monkeypatch):
    probe = load_script("probe_ant_goal_known")
    from borel_lib.results import read_results, read_results_config

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    args = ["--profile", "smoke", "--updates", "2", "--eval-every", "1"]
    assert probe.main([*args, "--stop-at", "1"]) == 0  # killed after its first checkpoint
    assert probe.main(args) == 0
    name = "probe_ant_semicircle_goal_known_uniform_seed0"
    df = read_results(name, "smoke")
    assert set(df.method) == {"goal_known_sparse", "goal_known_dense"} and sorted(df.updates.unique()) == [1, 2]
    assert {"return", "success", "closest_to_goal", "farthest_from_start"} <= set(df.metric)
    assert read_results_config(name, "smoke")["command"].startswith("python scripts/probe_ant_goal_known.py")


def test_goal_known_probe_with_iql_drops_the_sac_entropy_settings(tmp_path, monkeypatch):
    probe = load_script("probe_ant_goal_known")
    from borel_lib.results import read_results_config

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    assert probe.main(["--profile", "smoke", "--updates", "1", "--variants", "sparse", "--rl", "algo=iql"]) == 0
    cfg = read_results_config("probe_ant_semicircle_goal_known_uniform_algoiql_seed0", "smoke")["values"]["offline_rl"]
    assert cfg["algo"] == "iql" and cfg["target_entropy"] is None


def test_probe_with_the_exact_belief_on_one_tasks_data(tmp_path, monkeypatch, capsys):
    """``--belief exact --keep-tasks``: the exact posterior's mean read-out where the goal went, trained on one
    training task's trials and evaluated on that task's goal."""
    probe = load_script("probe_ant_goal_known")
    from borel_lib.belief import make_belief
    from borel_lib.collect import run_collection
    from borel_lib.offline_rl import OfflineRLConfig
    from borel_lib.results import read_results, read_results_config

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    assert probe.main(["--profile", "smoke", "--updates", "1", "--variants", "sparse", "--belief", "exact",
                       "--keep-tasks", "1", "--rl", "algo=iql"]) == 0
    name = "probe_ant_semicircle_goal_known_uniform_algoiql_exact_mean_tasks1_seed0"
    assert set(read_results(name, "smoke").method) == {"exact_mean_sparse"}
    values = read_results_config(name, "smoke")["values"]
    assert values["belief"] == "exact" and values["keep_tasks"] == [1]
    # the kept data are that task's trials, relabelled with the exact belief
    dataset = run_collection("ant_semicircle", "smoke", init_state="uniform")[0]
    cfg = OfflineRLConfig.for_domain("ant_semicircle", "smoke")
    belief = make_belief("exact", domain="ant_semicircle", features="mean")
    kept = probe.known_goal_data(dataset, cfg, ["sparse"], belief, [1])["sparse"]
    every = probe.known_goal_data(dataset, cfg, ["sparse"], belief)["sparse"]
    assert kept.obs.shape[0] == 1 and np.array_equal(kept.obs[0], every.obs[1])
    assert np.array_equal(kept.rewards[0], every.rewards[1])
    capsys.readouterr()  # a task the data do not have: one line naming the option, before training
    assert probe.main(["--profile", "smoke", "--updates", "1", "--variants", "sparse", "--keep-tasks", "99"]) == 2
    assert "--keep-tasks 99" in capsys.readouterr().err
