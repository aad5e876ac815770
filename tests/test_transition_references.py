"""Scripted references of Figure 4 (Wind, Escape-Room): they do what their docstrings promise."""

import numpy as np
import pytest

from borel_lib.envs import make_env
from borel_lib.references.transition import reference_returns, run_reference


def test_escape_room_wall_search_finds_every_opening_in_episode_1_and_goes_straight_in_episode_2():
    tasks = np.linspace(0.05, np.pi - 0.05, 15)[:, None]
    oracle = run_reference("escape_room", "oracle", tasks)
    search = run_reference("escape_room", "wall_search", tasks)
    assert np.all(search[:, 0] > 0), "episode 1 did not get out"
    np.testing.assert_allclose(search[:, 1], oracle[:, 1], atol=1)  # straight out in episode 2
    assert np.all(search[:, 0] <= oracle[:, 0] + 1) and search[:, 0].mean() < oracle[:, 0].mean() - 10
    assert np.all(np.diff(search[:, 0]) > 0)  # the sweep starts at pi: openings near 0 are found last


def test_wind_references_reach_the_goal_and_one_step_reveals_the_wind():
    env = make_env("wind")
    tasks = env.sample_tasks(10, np.random.default_rng(0))
    oracle, learn = run_reference("wind", "oracle", tasks), run_reference("wind", "learn_wind", tasks)
    assert np.all(oracle > 0)  # every wind is beaten (a headwind of 0.08 leaves 0.02 per step)
    assert np.all(learn >= oracle - 1)


def test_reference_table_is_tidy_and_bad_names_are_rejected():
    df = reference_returns({"wind": np.zeros((2, 2)), "escape_room": np.full((2, 1), 1.0)})
    assert set(df.method) == {"oracle", "learn_wind", "wall_search"} and set(df.episode) == {1, 2}
    with pytest.raises(ValueError, match="allowed values: escape_room: oracle"):
        run_reference("escape_room", "learn_wind", np.zeros((1, 1)))
