"""scripts/probe_offline_gym_ant.py (issue 28): offline SAC on a replay buffer of Gymnasium's Ant-v5, evaluated
with the online probe's mean-action evaluation. A tiny synthetic buffer in the online probe's checkpoint format
stands in for the 150k-step one."""

import numpy as np
import pandas as pd
import pytest
import torch
from script_loader import load_script

from borel_lib.results import result_path

probe = load_script("probe_offline_gym_ant")

N, OBS, ACT = 50, 27, 8


def _buffer(seed: int) -> dict[str, torch.Tensor]:
    """One seed's transitions: three episodes, the first cut by a time limit after step 19 (the next stored
    observation is a reset), the second terminated at step 39, the third still running when the run stopped."""
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(N + 1, OBS, generator=g)
    next_obs = obs[1:].clone()
    next_obs[19] += 5.0  # the episode's last observation; obs[20] is a reset
    next_obs[39] += 5.0
    dones = torch.zeros(N)
    dones[39] = 1.0
    return {"obs": obs[:N], "actions": torch.rand(N, ACT, generator=g) * 2 - 1,
            "rewards": torch.arange(N, dtype=torch.float32) + seed, "next_obs": next_obs, "dones": dones}


@pytest.fixture()
def dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    parts = [_buffer(0), _buffer(1)]
    data = {k: torch.stack([p[k] for p in parts]) for k in parts[0]}
    path = tmp_path / "probe.pt"
    torch.save({"agent": {"seeds": [0, 1]}, "replay": {"data": data, "size": N, "ptr": 0}}, path)
    return path


def test_dataset_episodes_and_ring_order(dataset):
    data = probe.load_dataset(dataset, [1])
    assert data["obs"].shape == (1, N, OBS)
    (ep,) = probe.episode_returns(data)
    np.testing.assert_array_equal(ep["length"], [20, 20])  # the unfinished third episode is left out
    np.testing.assert_allclose(ep["return"], [sum(range(20)) + 20, sum(range(20, 40)) + 20])
    # a full ring buffer whose write pointer is at 10 holds its oldest transition at 10
    state = torch.load(dataset)
    state["replay"]["ptr"] = 10
    torch.save(state, dataset)
    rolled = probe.load_dataset(dataset, [0])
    assert rolled["rewards"][0, 0] == 10 and rolled["rewards"][0, -1] == 9


def test_bad_flags_and_missing_data_are_one_line_errors(dataset, tmp_path, capsys):
    assert probe.main(["--cql-alpha", "0"]) == 2
    assert "--cql-alpha" in capsys.readouterr().err
    assert probe.main(["--variants", "bcq"]) == 2
    assert "--variants" in capsys.readouterr().err
    assert probe.main(["--dataset", str(tmp_path / "none.pt")]) == 2
    assert "scripts/probe_sac_gym_ant.py --sac calibrated" in capsys.readouterr().err
    assert probe.main(["--dataset", str(dataset), "--seeds", "3"]) == 2
    assert "seeds [0, 1] only" in capsys.readouterr().err
    assert not (tmp_path / "data").exists() and not (tmp_path / "build").exists()


def test_offline_probe_evaluates_every_variant_resumes_and_extends(dataset, tmp_path):
    args = ["--dataset", str(dataset), "--profile", "smoke", "--seeds", "0", "--set", "hidden=16,16",
            "--eval-every", "1", "--eval-episodes", "1"]
    label = "probe_offline_gym_ant_calibrated_hidden16x16_plain-cql5s2-td3bc0.05_b256"
    name, results = f"{label}_updates2_seeds0", tmp_path / "build" / "smoke" / "results"
    assert probe.main([*args, "--updates", "2"]) == 0
    df = pd.read_csv(result_path(name, "smoke", results))
    ev = df[df.variant == "mean_action"]
    assert set(ev.method) == {f"offline_sac_{v}" for v in probe.VARIANTS} and set(ev.updates) == {1, 2}
    lengths = ev[ev.metric == "length"].value
    assert len(ev) == 3 * 2 * 3 and ((lengths >= 1) & (lengths <= 1000)).all()
    training = df[df.variant == "training"]
    assert set(training[training.method == "offline_sac_cql"].metric) >= {"cql_penalty", "q_data", "q_policy"}
    assert "bc_loss" in set(training[training.method == "offline_sac_td3bc"].metric)
    assert "bc_loss" not in set(training[training.method == "offline_sac_plain"].metric)
    summary = df[df.method == "dataset"].set_index("metric").value
    assert summary["episodes"] == 2 and summary["episode_return"] == pytest.approx((190 + 590) / 2)
    # a run killed after its first evaluation resumes to the same table; so does a shorter run given more updates
    ckpt = tmp_path / "build" / "smoke" / "checkpoints" / f"{label}_every1_seeds0" / "probe.pt"
    for first in (["--stop-at", "1"], ["--updates", "1"]):
        ckpt.unlink()
        assert probe.main([*args, "--updates", "2", *first] if "--stop-at" in first else [*args, *first]) == 0
        assert torch.load(ckpt, weights_only=False)["updates"] == 1
        assert probe.main([*args, "--updates", "2"]) == 0
        pd.testing.assert_frame_equal(df, pd.read_csv(result_path(name, "smoke", results)))
    assert probe.main([*args, "--updates", "1"]) == 2  # the checkpoint is past the budget asked for
