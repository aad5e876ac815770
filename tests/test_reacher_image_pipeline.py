"""Reacher-Image BOReL from pixels (issue 32): the shared convolutional image encoder, the features every frame
gets once, the observed data the later stages read, evaluation's view of a state, and the smoke pipeline."""

import numpy as np
import pandas as pd
import pytest
import torch

from borel_lib.collect import CollectConfig, collect
from borel_lib.config import ConfigError
from borel_lib.datasets import frame_indices
from borel_lib.image_features import (
    ANGLE_COLUMNS,
    STATE_DIM,
    ConvAutoencoder,
    ConvEncoder,
    ImageEncoderConfig,
    ImageObserver,
    encode_frames,
    encode_images,
    feature_view,
    learnt_columns,
    learnt_dim,
    observed_data,
    train_image_encoder,
)


@pytest.fixture(scope="module")
def reacher(tmp_path_factory):
    d = tmp_path_factory.mktemp("reacher")
    ds, _ = collect(CollectConfig.for_domain("reacher_image", "smoke"), d / "ds", d / "ck", profile="smoke",
                    progress=False)
    return ds


def test_conv_encoder_on_cpu_shapes_dtypes_and_range():
    cfg = ImageEncoderConfig.for_domain("reacher_image", "quick")
    torch.manual_seed(0)
    enc = ConvEncoder(cfg)
    images = torch.randint(0, 256, (5, 64, 64, 3), dtype=torch.uint8)
    out = enc(images)
    assert out.shape == (5, cfg.features) and out.dtype == torch.float32 and out.device.type == "cpu"
    assert (out.abs() < 1).all()
    np.testing.assert_allclose(enc(images[2:3])[0].detach().numpy(), out[2].detach().numpy(), atol=1e-6)
    feats = encode_images(enc, images.numpy().reshape(5, 1, 64, 64, 3), chunk=2)  # chunked = one pass
    assert feats.shape == (5, 1, cfg.features) and feats.dtype == np.float32
    np.testing.assert_allclose(feats[:, 0], out.detach().numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="no image observations"):
        ImageEncoderConfig.for_domain("semicircle")
    with pytest.raises(ConfigError, match="features"):
        ImageEncoderConfig.for_profile("quick", features=0)


def test_autoencoder_learns_the_arm_images(reacher):
    """A few steps on one batch of real frames lower the weighted reconstruction loss (the encoder is trained)."""
    from borel_lib.envs.reacher_image import ArmRasteriser

    cfg = ImageEncoderConfig.for_profile("smoke")
    torch.manual_seed(0)
    ae = ConvAutoencoder(cfg)
    batch = torch.as_tensor(np.array(reacher.images[0, 0, :16]))
    background = torch.as_tensor(ArmRasteriser.background)
    opt = torch.optim.Adam(ae.parameters(), lr=3e-3)
    first = ae.loss(batch, background, cfg.foreground_weight).item()
    for _ in range(30):
        loss = ae.loss(batch, background, cfg.foreground_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.7 * first


def test_feature_view_and_the_observer_agree(reacher, tmp_path):
    """Every frame's features are its image's; the observed data are [state, features, flag] of each step's own
    frame; evaluation's observer, rendering the image of a stored state, gives the same vectors."""
    cfg = ImageEncoderConfig.for_profile("smoke")
    enc, log = train_image_encoder(reacher, cfg, seed=0, checkpoint=tmp_path / "enc.pt", progress=False)
    assert list(log.columns) == ["epoch", "loss"] and not any(p.requires_grad for p in enc.parameters())
    feats = encode_frames(enc, reacher, progress=False)
    N, M, T = reacher.rewards.shape
    assert feats.shape == (N, M, reacher.images.shape[2], cfg.features) and feats.dtype == np.float32
    np.testing.assert_allclose(feats[1, 0, 5], encode_images(enc, np.array(reacher.images[1, 0, 5:6]))[0], atol=1e-6)
    view = feature_view(reacher, feats)
    F = cfg.features
    assert view.obs.shape == (N, M, T, STATE_DIM + F + 1) and view.obs.dtype == np.float32
    assert "images" not in view.arrays and view.manifest["arrays"]["obs"]["shape"] == list(view.obs.shape)
    np.testing.assert_array_equal(view.obs[..., :STATE_DIM], reacher.obs[..., :STATE_DIM])
    np.testing.assert_array_equal(view.next_obs[..., -1], reacher.next_obs[..., -1])  # the flag stays last
    obs_frames, next_frames = frame_indices(T, reacher.manifest["horizon"])
    np.testing.assert_array_equal(view.next_obs[..., STATE_DIM:-1], feats[:, :, next_frames])
    np.testing.assert_array_equal(view.obs[..., STATE_DIM:-1], feats[:, :, obs_frames])
    observe = ImageObserver(enc)
    np.testing.assert_allclose(observe(np.asarray(reacher.next_obs[0, 0])), view.next_obs[0, 0], atol=1e-5)
    np.testing.assert_allclose(observe(np.asarray(reacher.obs[1, 0])), view.obs[1, 0], atol=1e-5)
    # the view's fingerprint names the features: a checkpoint made on other features is refused
    assert view.fingerprint != reacher.fingerprint
    assert feature_view(reacher, feats + 0.5).fingerprint != view.fingerprint
    # ... and what learns sees: a checkpoint made with the joint angles is refused without them, and back
    full = feature_view(reacher, feats, "full")
    assert full.fingerprint != view.fingerprint and feature_view(reacher, feats, "full").fingerprint == full.fingerprint
    np.testing.assert_array_equal(full.obs, view.obs)  # the states stay whole either way
    assert learnt_columns(full.manifest) is None and learnt_dim(full) == STATE_DIM + F + 1
    assert learnt_columns(view.manifest) == list(range(ANGLE_COLUMNS, STATE_DIM + F + 1))  # velocities, features, flag
    assert learnt_dim(view) == STATE_DIM - ANGLE_COLUMNS + F + 1 and learnt_columns(reacher.manifest) is None
    with pytest.raises(ConfigError, match="proprio"):
        feature_view(reacher, feats, "angles")
    # the reward and the exact belief read the stored state through the view
    from borel_lib.references.exact_belief import ExactBelief

    exact = ExactBelief("reacher_image")
    np.testing.assert_array_equal(exact.trials(view.actions[0], view.rewards[0], view.next_obs[0]),
                                  exact.trials(reacher.actions[0], reacher.rewards[0], reacher.next_obs[0]))


def _angles_moved_states(states: np.ndarray) -> np.ndarray:
    """Observed states with the joint angles' cos/sin (their first four entries) changed, the rest kept."""
    x = np.array(states)
    x[..., :ANGLE_COLUMNS] = np.roll(x[..., :ANGLE_COLUMNS], 1, -1) + 0.37
    return x


def _angles_moved(view):
    """``view`` with :func:`_angles_moved_states` of its states (image features, actions and rewards kept)."""
    from borel_lib.datasets import OfflineDataset

    arrays = {**view.arrays, "obs": _angles_moved_states(view.obs), "next_obs": _angles_moved_states(view.next_obs)}
    return OfflineDataset(path=view.path, manifest=view.manifest, arrays=arrays)


@pytest.mark.parametrize("proprio", ["velocities", "full"])
def test_learnt_inputs_hide_the_joint_angles(reacher, tmp_path, proprio):
    """With proprio='velocities' (the default) nothing that learns sees the joint angles: the VAE's beliefs and
    loss, and the offline SAC's hyper-states in state relabelling and evaluation, are unchanged when cos/sin are
    changed but the image features kept, while the exact belief (a function of the true state) still reads them.
    With proprio='full' the same change moves every learnt input (the test can fail)."""
    from borel_lib.belief import VAEBelief, train_vae
    from borel_lib.evaluation import evaluate
    from borel_lib.state_relabel import relabel_states
    from borel_lib.vae import VAEConfig

    cfg = ImageEncoderConfig.for_profile("smoke")
    enc, _ = train_image_encoder(reacher, cfg, seed=0, progress=False)
    view = feature_view(reacher, encode_frames(enc, reacher, progress=False), proprio)
    moved = _angles_moved(view)
    hidden = proprio == "velocities"
    vae, _ = train_vae(view, VAEConfig.for_domain("reacher_image", "smoke"), "none", seed=0, progress=False)
    assert vae.encoder.state_emb.in_features == learnt_dim(view) == (view.obs.shape[-1] - 4 * hidden)
    assert vae.reward_decoder.obs_emb.in_features == vae.reward_decoder.next_emb.in_features == learnt_dim(view)
    belief = VAEBelief(vae)
    b, b_moved = (belief.trials(d.actions[0], d.rewards[0], d.next_obs[0]) for d in (view, moved))
    assert np.array_equal(b, b_moved) == hidden

    def loss(d):
        batch = {k: torch.as_tensor(np.array(getattr(d, k)[0, :2], np.float32))
                 for k in ("obs", "actions", "rewards", "next_obs")}
        return vae.loss(**batch, generator=torch.Generator().manual_seed(0))[0].item()

    assert (loss(view) == loss(moved)) == hidden
    hs, hs_moved = (relabel_states(belief, d, time_input=True) for d in (view, moved))
    assert hs.obs.shape[-1] == learnt_dim(view) + belief.dim + 2
    assert np.array_equal(hs.obs, hs_moved.obs) == hidden and np.array_equal(hs.next_obs, hs_moved.next_obs) == hidden
    if hidden:  # the hyper-state's state part is [velocities, features, flag] of the stored state
        np.testing.assert_array_equal(hs.obs[..., : learnt_dim(view)], view.obs[..., ANGLE_COLUMNS:])
    from borel_lib.references.exact_belief import ExactBelief

    exact = ExactBelief("reacher_image")  # the environment's own function of the state: it reads the angles
    assert not np.array_equal(exact.trials(view.actions[0], view.rewards[0], view.next_obs[0]),
                              exact.trials(moved.actions[0], moved.rewards[0], moved.next_obs[0]))

    class Recorder:  # a policy that remembers what it is shown
        def __init__(self):
            self.seen = []

        def act(self, hyper):
            self.seen.append(hyper)
            return np.zeros((len(hyper), 2), np.float32)

    observe = ImageObserver(enc)
    tasks = np.asarray(reacher.tasks[:2])
    shown = []
    for see in (observe, lambda states: _angles_moved_states(observe(states))):
        agent = Recorder()
        evaluate(belief, agent, "reacher_image", tasks, observe=see, columns=learnt_columns(view.manifest))
        shown.append(np.stack(agent.seen, 1))
        assert shown[-1].shape[-1] == learnt_dim(view) + belief.dim
    assert np.array_equal(shown[0], shown[1]) == hidden


def test_image_encoder_resumes_and_refuses_another_config(reacher, tmp_path):
    cfg = ImageEncoderConfig.for_profile("smoke", epochs=2)
    straight, _ = train_image_encoder(reacher, cfg, seed=3, progress=False)
    ck = tmp_path / "enc.pt"
    train_image_encoder(reacher, cfg.replace(epochs=1), seed=3, checkpoint=ck, progress=False)
    resumed, log = train_image_encoder(reacher, cfg, seed=3, checkpoint=ck, progress=False)
    assert len(log) == 2
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="another config, seed or data"):
        train_image_encoder(reacher, cfg.replace(features=5), seed=3, checkpoint=ck, progress=False)


def test_observed_data_leaves_state_domains_alone(tmp_path):
    ds, _ = collect(CollectConfig.for_domain("semicircle", "smoke"), tmp_path / "ds", tmp_path / "ck",
                    profile="smoke", progress=False)
    view, observe = observed_data(ds, "smoke", 0)
    assert view is ds and observe is None


def test_observed_data_names_encoder_overrides(reacher, tmp_path, monkeypatch):
    """An override of the encoder's own fields trains its own encoder (its own folder); ``proprio`` shares the
    seed's encoder and features and only changes the view."""
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    plain, _ = observed_data(reacher, "smoke", 0, image=())
    full, _ = observed_data(reacher, "smoke", 0, image=(("proprio", "full"),))
    wide, _ = observed_data(reacher, "smoke", 0, image=(("features", 5),))
    folders = sorted(p.name for p in (tmp_path / "build" / "smoke" / "checkpoints").iterdir())
    assert folders == ["image_reacher_image_fixed_features5_seed0", "image_reacher_image_fixed_seed0"]
    np.testing.assert_array_equal(plain.obs, full.obs)
    assert plain.fingerprint != full.fingerprint and learnt_columns(full.manifest) is None
    assert wide.obs.shape[-1] == STATE_DIM + 5 + 1 and learnt_dim(wide) == STATE_DIM - ANGLE_COLUMNS + 5 + 1


def test_reacher_runs_refuse_decoded_features():
    from borel_lib.pipeline import RunSpec

    with pytest.raises(ConfigError, match="features='latent' only"):
        RunSpec("reacher_image", "smoke", "vae", "reward_relabelling", 0, "decoded")


def test_image_overrides_name_the_run():
    """``--image proprio=full`` enters the run's tag, its VAE's tag and its command (round trip through the command
    line); the default (pixels + velocities) keeps the plain name; bad names, values and domains are refused."""
    from borel_lib.pipeline import RunSpec
    from borel_lib.pipeline_cli import build_parser, spec_from_args

    plain = RunSpec("reacher_image", "quick")
    assert ImageEncoderConfig.for_domain("reacher_image", "quick").proprio == "velocities"
    assert ImageEncoderConfig.for_domain("reacher_image", "paper").proprio == "velocities"
    assert RunSpec("reacher_image", "quick", image=(("proprio", "velocities"),)) == plain  # the default: no override
    full = RunSpec("reacher_image", "quick", image=(("proprio", "full"),))
    assert full.tag == "reacher_image_fixed_reward_relabelling_propriofull_seed0" != plain.tag
    assert full.vae_tag == "reacher_image_fixed_reward_relabelling_propriofull_seed0" != plain.vae_tag
    assert full.command.endswith("--seed 0 --image proprio=full") and "--image" not in plain.command
    assert spec_from_args(build_parser().parse_args(full.command.split()[3:])) == full
    exact = RunSpec("reacher_image", "quick", "exact", image=[("proprio", "full")])
    assert exact.tag == "reacher_image_fixed_exact_propriofull_seed0"
    with pytest.raises(ConfigError, match="proprio='pixels' is not allowed"):
        RunSpec("reacher_image", "quick", image=(("proprio", "pixels"),))
    with pytest.raises(ConfigError, match="image domains only"):
        RunSpec("semicircle", "quick", image=(("proprio", "full"),))
    with pytest.raises(ConfigError, match="unknown field.*depth"):
        RunSpec("reacher_image", "quick", image=(("depth", 3),))


@pytest.mark.parametrize("belief, relabelling, image", [("exact", "reward_relabelling", ()),
                                                         ("vae", "reward_relabelling", ()), ("vae", "none", ()),
                                                         ("vae", "reward_relabelling", (("proprio", "full"),))])
def test_run_borel_reacher_image_smoke(tmp_path, monkeypatch, belief, relabelling, image):
    """The whole pipeline runs from pixels in smoke, with and without the joint angles in what learns: tables with
    the paper's first-2-episode returns; a rerun resumes to the same table; an agent trained on features of
    another image encoder, and a VAE trained with the other ``proprio``, are refused."""
    from borel_lib import image_features
    from borel_lib.pipeline import RunSpec, finished_runs, load_trained, run_borel
    from borel_lib.results import read_results, read_results_config

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    spec = RunSpec("reacher_image", "smoke", belief, relabelling, 0, image=image)
    first = run_borel(spec, progress=False, device="cpu", n_eval_tasks=3)
    saved = read_results_config(f"borel_{spec.tag}", "smoke")["values"]
    assert saved["image_encoder"]["proprio"] == ("full" if image else "velocities")
    assert ("image" in saved["run"]) == bool(image) and finished_runs("smoke") == [spec]
    trained_belief, agent = load_trained(spec, device="cpu")  # its input: the learnt columns only, unless 'full'
    width = STATE_DIM + ImageEncoderConfig.for_profile("smoke").features + 1 - (0 if image else ANGLE_COLUMNS)
    assert agent.agent.obs_dim == width + trained_belief.dim + 2 * spec.rl_config().time_input
    assert set(first.episode) == {1, 2} and set(first.metric) == {"return", "success"}
    assert np.isfinite(first.value).all()
    assert (tmp_path / "build" / "smoke" / "checkpoints" / "image_reacher_image_fixed_seed0" / "features.pt").is_file()
    traj = read_results(f"borel_{spec.tag}_traj", "smoke")
    tip = traj[traj.metric.isin(["x", "y"])].value
    assert tip.abs().max() <= 0.21 + 1e-6  # the fingertip, within the arm's reach
    pd.testing.assert_frame_equal(run_borel(spec, progress=False, device="cpu", n_eval_tasks=3), first)
    if belief == "exact":
        monkeypatch.setitem(image_features.ImageEncoderConfig.PRESETS, "smoke",
                            {**ImageEncoderConfig.PRESETS["smoke"], "epochs": 2})
        with pytest.raises(ConfigError, match="trained on other data"):
            run_borel(spec, progress=False, device="cpu", n_eval_tasks=3)
    elif not image and relabelling == "none":  # the same run's name, now made with the joint angles in view
        monkeypatch.setitem(image_features.ImageEncoderConfig.PRESETS, "smoke",
                            {**ImageEncoderConfig.PRESETS["smoke"], "proprio": "full"})
        with pytest.raises(ValueError, match="trained on other data") as err:
            run_borel(spec, progress=False, device="cpu", n_eval_tasks=3)
        assert "\n" not in str(err.value)
