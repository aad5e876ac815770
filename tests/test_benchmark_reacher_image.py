"""scripts/benchmark_reacher_image.py at tiny sizes: every rate is positive and finite, the report has its rows,
the budget follows the configs, the file times of a run are read right, and the output goes where asked."""

from __future__ import annotations

import math
import os

import pytest
from script_loader import load_script

from borel_lib.image_features import ImageEncoderConfig
from borel_lib.offline_rl import OfflineRLConfig
from borel_lib.vae import VAEConfig


def _load():
    return load_script("benchmark_reacher_image")


bench = _load()


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def root(tmp_path, monkeypatch):
    """An empty repository root: no quick dataset or checkpoints are found, nothing is written in data/."""
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    return tmp_path


def _tiny():
    d = "reacher_image"
    return bench.Stages(2, 3, ImageEncoderConfig.for_domain(d, "smoke"), VAEConfig.for_domain(d, "smoke"),
                        OfflineRLConfig.for_domain(d, "smoke"))


def _finite_positive(rate) -> bool:
    return all(math.isfinite(x) and x > 0 for x in (rate.per_wall, rate.per_cpu)) and rate.calls >= 1


def test_every_measurement_is_a_positive_finite_rate_and_the_report_has_its_rows(root):
    s = _tiny()
    rates = {**bench.env_rates(0.01, batch=8), **bench.encoder_rates(s.encoder, 0.01, eval_batch=3, chunk=8)}
    data, tasks, source = bench.vae_data(s, bench.np.random.default_rng(0))
    assert "random states" in source and data["obs"].shape == (2, 3, 100, 6 + s.encoder.features + 1)
    rates.update(bench.vae_rates({"quick": s.vae, "paper": s.vae}, s.encoder, data, tasks, 0.01))
    width = bench.hyper_width(s)
    assert width == 2 + s.encoder.features + 1 + 2 * s.vae.latent_dim + 2  # velocities, features, flag, belief, clock
    rates["sac_quick"] = rates["sac_paper"] = bench.sac_rate(s.rl, width, 0.01, shape=(2, 3, 100))
    rates["evaluation"] = bench.evaluation_rate(s, 2, 0.01)
    assert set(rates) == {key for key, *_ in bench.ROWS}
    bad = [k for k, r in rates.items() if not _finite_positive(r)]
    assert not bad, bad
    text = bench.report(rates, {"quick": s, "paper": s}, 2, source, [("borel_x_seed0", "image features", 90.0)])
    for _, what, _, _ in bench.ROWS:
        assert what.split("{")[0] in text
    for stage in ("image encoder training", "image features (every stored frame)", "belief VAE", "offline SAC",
                  "evaluations", "| total |", "| borel_x_seed0 | image features | 1.5 |"):
        assert stage in text, stage
    assert not any(root.rglob("*"))


def test_the_budget_follows_the_configs():
    s = bench.stages("quick")
    assert (s.n_tasks, s.n_trials) == (16, 120)
    one = bench.Rate(1, 1, 1.0, 1.0)  # one item per CPU second: the budget is the work itself
    rows = {stage: (work, sec) for stage, work, sec in bench.budget(s, {k: one for k, *_ in bench.ROWS}, "quick", 20)}
    per_epoch = math.ceil(120 / s.vae.trials_per_task) * math.ceil(16 / s.vae.tasks_per_batch)
    assert rows["belief VAE"][1] == s.vae.epochs * per_epoch
    assert rows["offline SAC"][1] == s.rl.updates
    assert rows["image features (every stored frame)"][1] == 16 * 120 * 102
    assert rows["image encoder training"][1] == s.encoder.epochs * s.encoder.pool_frames
    assert rows["evaluations"][1] == math.ceil(s.rl.updates / s.rl.eval_every)


def test_recorded_run_reads_the_file_times(root):
    ck = root / "data" / "checkpoints" / "quick"
    vae, run = (ck / f"{kind}_reacher_image_fixed_reward_relabelling_seed0" for kind in ("vae", "borel"))
    image = ck / "image_reacher_image_fixed_seed0"
    for folder in (image, vae, run):
        folder.mkdir(parents=True)
    for path, t in ((image / "encoder.pt", 1000), (image / "features.pt", 1060), (run / "agent.pt", 2500)):
        path.write_bytes(b"")
        os.utime(path, (t, t))
    os.utime(vae, (1300, 1300))
    os.utime(run, (2500, 2500))
    rows = bench.recorded_run("quick")
    assert rows == [("image_reacher_image_fixed_seed0", "image features", 60.0),
                    ("borel_reacher_image_fixed_reward_relabelling_seed0",
                     "state relabelling + offline SAC + evaluations", 1200.0)]


def test_main_writes_where_asked(root, monkeypatch, capsys):
    tiny = _tiny()
    monkeypatch.setattr(bench, "stages", lambda profile: tiny)
    out = root / "elsewhere" / "bench.md"
    bench.main(["--seconds", "0.01", "--eval-tasks", "2", "--out", str(out)])
    text = out.read_text()
    assert "| total |" in text and "none found" in text
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == ["elsewhere/bench.md"]
