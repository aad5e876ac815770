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
    STATE_DIM,
    ConvAutoencoder,
    ConvEncoder,
    ImageEncoderConfig,
    ImageObserver,
    encode_frames,
    encode_images,
    feature_view,
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
    # the reward and the exact belief read the stored state through the view
    from borel_lib.references.exact_belief import ExactBelief

    exact = ExactBelief("reacher_image")
    np.testing.assert_array_equal(exact.trials(view.actions[0], view.rewards[0], view.next_obs[0]),
                                  exact.trials(reacher.actions[0], reacher.rewards[0], reacher.next_obs[0]))


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


def test_reacher_runs_refuse_decoded_features():
    from borel_lib.pipeline import RunSpec

    with pytest.raises(ConfigError, match="features='latent' only"):
        RunSpec("reacher_image", "smoke", "vae", "reward_relabelling", 0, "decoded")


@pytest.mark.parametrize("belief, relabelling", [("exact", "reward_relabelling"), ("vae", "reward_relabelling"),
                                                  ("vae", "none")])
def test_run_borel_reacher_image_smoke(tmp_path, monkeypatch, belief, relabelling):
    """The whole pipeline runs from pixels in smoke: tables with the paper's first-2-episode returns; a rerun
    resumes to the same table; an agent trained on features of another image encoder is refused."""
    from borel_lib import image_features
    from borel_lib.pipeline import RunSpec, run_borel
    from borel_lib.results import read_results

    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    spec = RunSpec("reacher_image", "smoke", belief, relabelling, 0)
    first = run_borel(spec, progress=False, device="cpu", n_eval_tasks=3)
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
