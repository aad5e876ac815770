"""Reacher-Image's belief over the target angle (issue 32): the exact posterior on sectors against brute-force
Bayes' rule, the learnt belief read through a decoder whose answer is known, the figure drawn from a synthetic
table, and scripts/reacher_belief.py on a smoke run."""

import math
import types

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from script_loader import load_script

from borel_lib import figures  # noqa: E402
from borel_lib.config import ConfigError  # noqa: E402
from borel_lib.envs import make_env  # noqa: E402
from borel_lib.envs.reacher_image import LINK_LENGTHS, fingertip  # noqa: E402
from borel_lib.reacher_belief import (  # noqa: E402
    TABLES,
    QuarterCircleSweep,
    angle_belief_tables,
    angle_bin_centres,
    exact_angle_belief,
    implied_angle_belief,
    mean_angle_error,
    probe_states,
    total_variation,
)
from borel_lib.results import read_results, result_path, write_results  # noqa: E402

RADIUS = 0.15


def _arm_state(q1: float, q2: float) -> np.ndarray:
    """A stored state with its flag: [cos q1, cos q2, sin q1, sin q2, q̇1, q̇2, flag]."""
    return np.array([math.cos(q1), math.cos(q2), math.sin(q1), math.sin(q2), 0.0, 0.0, 0.0], np.float32)


def _brute_force_sectors(env, next_obs, actions, rewards, n_bins: int) -> np.ndarray:
    """p(θ_c | h) ∝ Π_j 1[|r(s'_j, a_j, g(θ_c)) − r_j| ≤ atol] over the 360 grid angles, one loop per candidate
    and step, then summed per sector by each angle's own position on [0, π/2]."""
    span, n = math.pi / 2, 360
    atol = RADIUS * span / n / 2 + 1e-5
    out = []
    for t in range(len(rewards) + 1):
        post = np.zeros(n_bins)
        alive = []
        for c in range(n):
            angle = (c + 0.5) / n * span
            goal = RADIUS * np.array([math.cos(angle), math.sin(angle)])
            ok = all(abs(float(env.reward(next_obs[j][:-1], actions[j], next_obs[j][:-1], goal)) - rewards[j]) <= atol
                     for j in range(t))
            alive.append((angle, ok))
        alive_angles = [a for a, ok in alive if ok]
        for angle in alive_angles:
            post[min(int(angle / span * n_bins), n_bins - 1)] += 1.0 / len(alive_angles)
        out.append(post)
    return np.array(out)


@pytest.mark.parametrize("n_bins", [36, 45, 90])
def test_exact_belief_on_sectors_is_bayes_rule_on_the_360_angles(n_bins):
    env = make_env("reacher_image")
    rng = np.random.default_rng(n_bins)
    target_angle = 0.7
    goal = RADIUS * np.array([math.cos(target_angle), math.sin(target_angle)])
    next_obs = np.stack([_arm_state(*rng.uniform(-1.5, 1.5, 2)) for _ in range(3)])
    actions = rng.uniform(-1, 1, (3, 2)).astype(np.float32)
    rewards = np.array([env.reward(s[:-1], a, s[:-1], goal) for s, a in zip(next_obs, actions)], np.float32)
    got = exact_angle_belief(actions[None], rewards[None], next_obs[None], n_bins)[0]
    want = _brute_force_sectors(env, next_obs, actions, rewards, n_bins)
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_allclose(got[0], np.full(n_bins, 1 / n_bins), atol=1e-7)  # the prior
    assert got[1, int(target_angle / (math.pi / 2) * n_bins)] > 0.99  # one dense reward finds the sector
    with pytest.raises(ConfigError, match="n_bins=7"):
        exact_angle_belief(actions[None], rewards[None], next_obs[None], 7)


def test_probe_poses_put_the_still_fingertip_on_every_sector_centre():
    states = probe_states(45)
    angles = angle_bin_centres(45)
    np.testing.assert_allclose(fingertip(states), RADIUS * np.stack([np.cos(angles), np.sin(angles)], -1), atol=1e-6)
    assert states.shape == (45, 7) and states.dtype == np.float32 and not states[:, 4:].any()  # still, flag 0
    assert (states[:, 3] > 0).all()  # sin q2 > 0: the elbow-up pose for every sector


def _known_decoder_vae():
    """A stand-in VAE whose latent is the target angle (1-d) and whose decoder gives the true reward of a still
    arm, −‖tip(s') − g(z)‖: the belief the module reads from it is known in closed form."""
    l1, l2 = LINK_LENGTHS

    def decoder(z, obs, actions, next_obs):
        c1, c2, s1, s2 = (next_obs[..., i] for i in range(4))
        tip = torch.stack([l1 * c1 + l2 * (c1 * c2 - s1 * s2), l1 * s1 + l2 * (s1 * c2 + c1 * s2)], -1)
        goal = RADIUS * torch.stack([torch.cos(z[..., 0]), torch.sin(z[..., 0])], -1)
        return -(tip - goal).norm(dim=-1) - (actions ** 2).sum(-1)

    return types.SimpleNamespace(encoder=types.SimpleNamespace(mu=torch.nn.Linear(1, 1), action_emb=None),
                                 state_columns=None, reward_decoder=decoder)


def test_learnt_belief_is_where_the_latent_draws_put_the_target():
    vae, n, K = _known_decoder_vae(), 45, 64
    probes = probe_states(n)
    width = math.pi / 2 / n
    # a sharp belief at a known angle: all its mass in that sector
    sharp = implied_angle_belief(vae, np.array([[0.3], [1.2]]), np.full((2, 1), -30.0), probes, samples=K)
    assert sharp.shape == (2, n)
    assert sharp[0, int(0.3 / width)] == 1.0 and sharp[1, int(1.2 / width)] == 1.0
    # a wide belief: the histogram of the same standard-normal draws, each in its nearest sector (ends clipped)
    mu, sigma = 0.4, 0.5
    wide = implied_angle_belief(vae, np.array([[mu]]), np.array([[2 * math.log(sigma)]]), probes, samples=K, seed=3)[0]
    eps = torch.randn(K, 1, generator=torch.Generator().manual_seed(3)).numpy()[:, 0]
    sectors = np.clip(np.floor((mu + sigma * eps) / width), 0, n - 1).astype(int)
    np.testing.assert_allclose(wide, np.bincount(sectors, minlength=n) / K)
    # the same draws for every row: identical beliefs give identical rows
    twice = implied_angle_belief(vae, np.array([[mu], [mu]]), np.full((2, 1), 2 * math.log(sigma)), probes,
                                 samples=K, seed=3)
    np.testing.assert_array_equal(twice[0], twice[1])


def test_total_variation_and_mean_angle_error():
    p, q = np.array([1.0, 0.0, 0.0, 0.0]), np.array([0.0, 0.5, 0.5, 0.0])
    assert total_variation(p, q) == 1.0 and total_variation(q, q) == 0.0
    assert total_variation(np.full(4, 0.25), q) == pytest.approx(0.5)
    centres = angle_bin_centres(4)
    assert mean_angle_error(p, centres[0]) == pytest.approx(0.0)
    assert mean_angle_error(q, 0.0) == pytest.approx(math.degrees(centres[1:3].mean()))


def test_the_sweep_is_the_same_for_every_task():
    sweep = QuarterCircleSweep(horizon=4)
    state = sweep.reset(3)
    seen = []
    for _ in range(8):
        seen.append(sweep.features(state))
        state = sweep.step(state, None, None, None)
    seen = np.array(seen)  # (steps, tasks, 2)
    assert (seen == seen[:, :1]).all()
    angles = np.arctan2(seen[:, 0, 1], seen[:, 0, 0])
    np.testing.assert_allclose(angles, np.tile(np.arange(1, 5) / 4 * math.pi / 2, 2), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(seen, axis=-1), RADIUS, atol=1e-6)


# ------------------------------------------------------------------------------------------- the figure
def _synthetic_tables(directory):
    """Both tables as scripts/reacher_belief.py writes them, for 2 VAEs, 2 kinds of trials, 2 tasks, 4 sectors and
    a trial of 2 episodes of 2 steps; p_vae is a pattern the test can recognise."""
    rng = np.random.default_rng(0)
    n_bins, T1, H = 4, 5, 2
    centres = np.degrees(angle_bin_centres(n_bins))
    scalars, bins = [], []
    for method, vae in (("borel_no_rr", "reacher_image_fixed_none_seed0"),
                        ("borel_rr", "reacher_image_fixed_reward_relabelling_seed0")):
        for variant in ("sweep", "goal_known"):
            for task in range(2):
                target = 10.0 + 60 * task
                for t in range(T1):
                    base = dict(domain="reacher_image", method=method, variant=variant, seed=0,
                                episode=max(t - 1, 0) // H + 1, vae=vae, task=task, t=t, target=target)
                    for metric in ("tv", "angle_error", "angle_error_exact", "p_target"):
                        scalars.append({**base, "metric": metric, "value": rng.uniform()})
                    for b in range(n_bins):
                        vae_p = float(b == (t + task + (method == "borel_rr")) % n_bins)
                        bins.append({**base, "metric": "p_vae", "value": vae_p, "bin": b, "angle": centres[b]})
                        bins.append({**base, "metric": "p_exact", "value": float(b == 3 * task // 2), "bin": b,
                                     "angle": centres[b]})
    for name, rows in zip(TABLES, (scalars, bins)):
        write_results(pd.DataFrame(rows), name, config={}, profile="smoke", command="test", directory=directory)
    return pd.DataFrame(scalars), pd.DataFrame(bins)


def test_reacher_belief_figure_draws_the_tables(tmp_path):
    scalars, bins = _synthetic_tables(tmp_path)
    fig = figures.reacher_belief("smoke", tmp_path, variant="goal_known", tasks=(0, 1))
    axes = np.array(fig.axes[:-1]).reshape(2, 4)  # last: the colour bar
    assert [ax.get_title() for ax in axes[0]] == ["task 0: exact posterior", "learnt: BOReL (RR)",
                                                  "learnt: BOReL (no RR)", "total variation"]
    for row, task in enumerate((0, 1)):
        for col, (metric, method) in enumerate((("p_exact", "borel_rr"), ("p_vae", "borel_rr"), ("p_vae", "borel_no_rr"))):
            g = bins[(bins.variant == "goal_known") & (bins.task == task) & (bins.metric == metric) & (bins.method == method)]
            want = g.pivot_table(index="angle", columns="t", values="value").sort_index().to_numpy()
            np.testing.assert_array_equal(axes[row, col].get_images()[0].get_array(), want)
            assert axes[row, col].get_lines()[0].get_ydata()[0] == 10.0 + 60 * task  # the true target
        rr = scalars[(scalars.variant == "goal_known") & (scalars.metric == "tv") & (scalars.method == "borel_rr")]
        line = axes[row, 3].get_lines()[0]
        np.testing.assert_allclose(line.get_ydata(), rr[rr.task == task].sort_values("t").value, rtol=1e-5)  # %.6g
        np.testing.assert_allclose(axes[row, 3].get_lines()[1].get_ydata(), rr.groupby("t").value.mean(), rtol=1e-5)
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="variant='nope'"):
        figures.reacher_belief("smoke", tmp_path, variant="nope")
    with pytest.raises(ValueError, match="tasks"):
        figures.reacher_belief("smoke", tmp_path, tasks=(7,))
    written = figures.make_figure("fig_reacher_belief", "smoke", tmp_path, out_dir=tmp_path / "figs")
    assert sorted(p.suffix for p in written) == [".pdf", ".png"]


def test_reacher_belief_figure_names_the_script_when_tables_are_missing(tmp_path):
    with pytest.raises(figures.MissingResultsError, match="scripts/reacher_belief.py --profile smoke"):
        figures.reacher_belief("smoke", tmp_path)


# ------------------------------------------------------------------------------------------- the script
def _script():
    return load_script("reacher_belief")


def test_script_on_a_smoke_run(tmp_path, monkeypatch, capsys):
    from borel_lib.pipeline import RunSpec, run_borel

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    script = _script()
    assert script.main(["--profile", "smoke"]) == 2  # nothing to measure yet: one line naming the command
    assert "python -m borel_lib.pipeline reacher_image --profile smoke" in capsys.readouterr().err
    spec = RunSpec("reacher_image", "smoke", "vae", "none", 0)
    run_borel(spec, progress=False, device="cpu", n_eval_tasks=2)
    ck = spec.vae_checkpoint()
    before = ck.stat().st_mtime_ns
    assert script.main(["--profile", "smoke", "--tasks", "2"]) == 0
    assert ck.stat().st_mtime_ns == before  # the VAE is read, never trained or saved
    scalars, bins = (read_results(name, "smoke") for name in TABLES)
    H, n_bins = make_env("reacher_image").horizon, 45
    assert set(scalars.metric) == {"tv", "angle_error", "angle_error_exact", "p_target"}
    assert set(scalars.variant) == set(bins.variant) == {"sweep", "goal_known"}
    assert set(scalars.method) == {"borel_no_rr"} and set(scalars.vae) == {spec.vae_tag}
    assert set(scalars.task) == {0, 1} and sorted(set(scalars.t)) == list(range(2 * H + 1))
    assert (scalars.episode == np.where(scalars.t <= H, 1, 2)).all()
    tv = scalars[scalars.metric == "tv"].value
    assert tv.between(0, 1).all()
    sums = bins.groupby(["variant", "task", "t", "metric"]).value.sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-5)  # both beliefs are distributions at every step
    prior = bins[(bins.t == 0) & (bins.metric == "p_exact")].value
    np.testing.assert_allclose(prior, 1 / n_bins, atol=1e-6)
    # the table's TV is the TV of the two beliefs it pictures
    wide = bins.pivot_table(index=["variant", "task", "t", "bin"], columns="metric", values="value")
    tv_from_bins = (0.5 * (wide.p_vae - wide.p_exact).abs()).groupby(level=[0, 1, 2]).sum()
    tv_table = scalars[scalars.metric == "tv"].set_index(["variant", "task", "t"]).value
    np.testing.assert_allclose(tv_from_bins.sort_index(), tv_table.loc[tv_from_bins.sort_index().index], atol=1e-5)
    first = result_path(TABLES[0], "smoke").read_bytes()
    assert script.main(["--profile", "smoke", "--tasks", "2"]) == 0
    assert result_path(TABLES[0], "smoke").read_bytes() == first  # the same VAE, the same bytes
    # a VAE still training is refused, not read
    state = torch.load(ck, weights_only=False)
    torch.save({**state, "epoch": 0}, ck)
    with pytest.raises(ValueError, match="still training"):
        angle_belief_tables(spec, n_tasks=1)


def test_exact_coverage_split_by_sector_and_distance():
    """scripts/reacher_exact_coverage.py: targets in a sector a training target occupies are 'covered', those
    within --near degrees of one are 'near'; each group's mean is its own targets' mean of episodes 1 and 2."""
    cov = load_script("reacher_exact_coverage")
    deg = np.radians
    train = np.stack([np.cos(deg([10.0, 50.0])), np.sin(deg([10.0, 50.0]))], 1)  # sectors 2 and 11 of 20
    targets = deg([11.0, 30.0, 52.0, 89.0])  # covered + near, uncovered + far, covered + far, uncovered + far
    rows = [{"method": "m", "seed": 0, "task": i, "task_x": np.cos(a), "task_y": np.sin(a), "episode": e,
             "metric": "return", "value": float(10 * i + e)} for i, a in enumerate(targets) for e in (1, 2)]
    out = pd.DataFrame(cov.coverage_rows(pd.DataFrame(rows), train, 20, 2.0)).set_index("metric").value
    assert out["n_covered"] == 2 and out["n_near"] == 1
    assert out["return_covered"] == np.mean([1.5, 21.5]) and out["return_uncovered"] == np.mean([11.5, 31.5])
    assert out["return_near"] == 1.5 and out["return_far"] == np.mean([11.5, 21.5, 31.5])
