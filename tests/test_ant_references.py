"""Table 1's Ant-Semi-circle references (issue 28): borel_lib/references/ant_scripted.py and
scripts/ant_references.py. The waypoint schedule is checked on the point robot, whose scripted searcher
(borel_lib/references/scripted.py) it must reproduce, and on hand-made steps; the script at smoke scale."""

import numpy as np
import pandas as pd
import pytest
from script_loader import load_script

from borel_lib.config import ConfigError
from borel_lib.envs import make_env
from borel_lib.pipeline import eval_tasks
from borel_lib.references.ant_scripted import ArcSearch, PointWalker, evaluate_reference, goal_term
from borel_lib.references.scripted import semicircle_oracle, semicircle_search_then_go
from borel_lib.results import read_table_file, result_path


def _returns(ev: pd.DataFrame) -> np.ndarray:
    return ev[ev.metric == "return"].pivot(index="task", columns="episode", values="value").to_numpy()


@pytest.mark.parametrize("arc_step", [0.12, 0.3])
def test_search_reproduces_the_point_robot_script(arc_step):
    """Through evaluate(), with a straight-line walker, the waypoint schedule is the point robot's searcher."""
    tasks = eval_tasks("semicircle", 0)
    ev = evaluate_reference("search_then_go", "semicircle", tasks, PointWalker(), 0, 2, arc_step=arc_step,
                            advance_radius=0.05, goto="first")
    np.testing.assert_allclose(_returns(ev), semicircle_search_then_go(tasks, arc_step=arc_step))
    oracle = evaluate_reference("oracle", "semicircle", tasks, PointWalker(), 0, 2)
    np.testing.assert_allclose(_returns(oracle), semicircle_oracle(tasks))
    still = evaluate_reference("standing_still", "semicircle", tasks, PointWalker(), 0, 2)
    assert (still.value == 0).all()


def test_posterior_target_is_no_worse_on_the_point_robot():
    tasks = eval_tasks("semicircle", 1)
    first, post = (_returns(evaluate_reference("search_then_go", "semicircle", tasks, PointWalker(), 1, 2, goto=g,
                                               arc_step=0.3, advance_radius=0.05)) for g in ("first", "posterior"))
    assert post[:, 1].mean() >= first[:, 1].mean() - 1e-9


def _obs(xy, flag=0.0):
    xy = np.asarray(xy, np.float32)
    return np.concatenate([xy, np.zeros((len(xy), 1), np.float32) + flag], 1)


def test_waypoint_schedule_by_hand():
    """Advance within the radius or after ``patience`` steps, never on an episode's last step; stop at π; once
    the goal term appears the target is where it appeared (the control cost taken off the reward)."""
    env = make_env("ant_semicircle")
    s = ArcSearch(goal_term(env), arc_step=0.5, advance_radius=0.2, patience=3)
    st = s.reset(3)
    np.testing.assert_allclose(s.features(st), [[1, 0]] * 3, atol=1e-6)
    a = np.ones((3, 8), np.float32)  # control cost 0.8: a reward of 0.2 is the goal term 1
    r = np.array([0.2, -0.8, -0.8])
    st = s.step(st, a, r, _obs([[0.5, 0.5], [0.9, 0.05], [0.0, 0.0]]))
    np.testing.assert_allclose(st["angle"], [0.0, 0.5, 0.0])
    np.testing.assert_allclose(s.features(st)[0], [0.5, 0.5])  # found: stay there
    for _ in range(2):  # trial 2 waits at its far waypoint; trial 3 times out after 3 steps
        st = s.step(st, a, np.full(3, -0.8), _obs([[0.5, 0.5], [0.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_allclose(st["angle"], [0.0, 0.5, 0.5])
    end = s.step(st, a, np.full(3, -0.8), _obs([[0.5, 0.5], [np.cos(0.5), np.sin(0.5)], [0.0, 0.0]], flag=1.0))
    np.testing.assert_allclose(end["angle"], st["angle"])  # an episode's last step passes no waypoint
    st = {**st, "angle": np.full(3, 3.0)}
    st = s.step(st, a, np.full(3, -0.8), _obs([[0, 0], [-1.0, 0.14], [0, 0]]))
    assert st["angle"][1] == pytest.approx(np.pi)
    with pytest.raises(ConfigError, match="arc_step"):
        ArcSearch(goal_term(env), arc_step=0.0)
    with pytest.raises(ConfigError, match="patience"):
        ArcSearch(goal_term(env), patience=0)


def _script(name):
    return load_script(name)


script = _script("ant_references")  # before a test moves the repository root (BOREL_ROOT)


def test_script_on_a_smoke_collection(tmp_path, monkeypatch):
    from borel_lib.collect import run_collection

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    run_collection("ant_semicircle", "smoke", progress=False, init_state="uniform")
    argv = ["--profile", "smoke", "--seeds", "0", "1", "--variants", "uniform", "--n-tasks", "2",
            "--arc-steps", "0.3", "0.5", "--no-progress"]
    assert script.main(argv) == 0
    root = tmp_path / "build" / "smoke" / "results"
    df = read_table_file(result_path("references_ant_semicircle", "smoke", root))
    assert set(df.method) == {"oracle", "search_then_go", "standing_still"}
    assert set(df.seed) == {0, 1} and set(df.episode) == {1, 2} and set(df.metric) == {"return", "success"}
    assert len(df) == 3 * 2 * 2 * 2 and (df.iteration == 2).all()
    still = df[df.method == "standing_still"]
    assert (still.value == 0).all()
    assert df[df.metric == "success"].value.between(0, 1).all()
    spacing = read_table_file(result_path("probe_ant_semicircle_reference_spacing", "smoke", root))
    assert set(spacing.arc_step) == {0.3, 0.5}
    with pytest.raises(FileNotFoundError, match="no saved policies at iteration 7"):
        script.main(argv + ["--iteration", "7"])


belief_script = _script("belief_vs_exact")


def test_belief_vs_exact_on_ant_walks_the_scripted_search(tmp_path, monkeypatch, capsys):
    """Issue 28's measurement of the learnt Ant belief: ant_scripted.search_trials walks the collection's own
    walker through the arc search (the evaluation's record, one trial per task), pipeline.belief_vs_exact scores a
    smoke Ant VAE on it (TV in [0, 1] after every step), and scripts/belief_vs_exact.py --domains ant_semicircle
    adds the Ant rows while keeping the other domains' rows and VAE configs."""
    import json

    from borel_lib.collect import run_collection
    from borel_lib.pipeline import RunSpec, belief_vs_exact, run_borel
    from borel_lib.references.ant_scripted import search_trials
    from borel_lib.results import write_results

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    run_collection("ant_semicircle", "smoke", progress=False, init_state="uniform")
    tasks = eval_tasks("ant_semicircle", 0, 3)
    trials = search_trials("smoke", "uniform", tasks)
    env = make_env("ant_semicircle")
    T = 2 * env.horizon
    assert trials["actions"].shape == (3, T, env.action_space.shape[0])
    assert trials["next_obs"].shape[:2] == (3, T) and trials["rewards"].shape == (3, T)
    with pytest.raises(FileNotFoundError, match="no saved policies at iteration 7"):
        search_trials("smoke", "uniform", tasks, iteration=7)

    spec = RunSpec("ant_semicircle", "smoke", "vae", "reward_relabelling", init_state="uniform")
    run_borel(spec, progress=False, device="cpu", n_eval_tasks=2)
    df = belief_vs_exact(spec, device="cpu")
    assert set(df.variant) == {"scripted_search", "logged_late", "logged_early"}
    assert df.value.between(0, 1 + 1e-6).all() and df.value.notna().all()
    assert df[df.variant == "scripted_search"].t.max() == T  # the prior and the belief after each step

    root = tmp_path / "build" / "smoke" / "results"
    other = pd.DataFrame({"domain": "gridworld", "method": "borel_rr", "variant": "scripted_search", "seed": 0,
                          "episode": 0, "metric": "tv", "value": [0.5, 0.4], "t": [0, 1], "vae": "grid_vae"})
    write_results(other, "belief_vs_exact", config={"vae": {"grid_vae": {"epochs": 1}}}, profile="smoke", command="x")
    assert belief_script.main(["--profile", "smoke", "--domains", "ant_semicircle"]) == 0
    table = read_table_file(result_path("belief_vs_exact", "smoke", root))
    assert set(table.domain) == {"gridworld", "ant_semicircle"} and (table[table.domain == "gridworld"].value.tolist()
                                                                     == [0.5, 0.4])
    config = json.loads(result_path("belief_vs_exact", "smoke", root, kind="config").read_text())
    assert set(config["values"]["vae"]) == {"grid_vae", spec.vae_tag}
    assert config["command"] == "python scripts/belief_vs_exact.py --profile smoke"

    # a VAE whose checkpoint is not on this machine: refused before any work (re-collecting and retraining would
    # take hours at quick); --skip-missing keeps its rows and measures the rest (here none: a clear error)
    spec.vae_checkpoint().unlink()
    before = result_path("belief_vs_exact", "smoke", root).read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        belief_script.main(["--profile", "smoke", "--domains", "ant_semicircle"])
    err = capsys.readouterr().err
    assert f"vae_{spec.vae_tag}" in err and "--skip-missing" in err and spec.command in err
    with pytest.raises(SystemExit):
        belief_script.main(["--profile", "smoke", "--domains", "ant_semicircle", "--skip-missing"])
    assert "skipped" not in capsys.readouterr().out  # refused before any work, the note included
    assert result_path("belief_vs_exact", "smoke", root).read_bytes() == before and not spec.vae_checkpoint().exists()
