"""Reacher-Image from pixels: the image-feature stage of BOReL (paper §6 domain 5; *our* design).

The paper learns the belief and the policy of Reacher-Image from images. Ours, measured to fit a CPU: one
small convolutional encoder, shared by the belief VAE and the offline SAC, trained once per dataset and seed
and then frozen, gives every stored frame a feature vector, computed once. The later stages then run
unchanged on the *observed* data of :func:`feature_view`: every state becomes

    o = [proprioceptive state (6), image features (``features``), episode-end flag]

and the VAE's per-step encoder input (its state embedding of s') and the offline SAC's hyper-state both hold
the image's features (docs/differences.md, "Reacher-Image from pixels").

What *learns* sees less (``proprio``). The environment's own functions of the true state (the reward, reward
relabelling, the exact belief, success) read the whole vector, but the learnt parts (the VAE's state
embeddings of s and s', the offline SAC's hyper-states in state relabelling and evaluation) keep only its
:func:`learnt_columns`. By default (``proprio="velocities"``, the paper's agent, in every profile) these are
the joint velocities, the image features and the flag: the joint angles (cos and sin, the first four
entries) are hidden, so the arm's pose reaches the belief and the policy only through the pixels.
``proprio="full"`` (``--image proprio=full``; the run's names then carry ``propriofull``) lets them see the
whole vector, angles included (the first version of this stage), so both can be measured. Both share one
encoder and its features; the choice is part of the view's fingerprint, so a VAE or agent checkpoint made
with the other choice is refused.

The encoder (:class:`ConvEncoder`): ``len(channels)`` 4x4 convolutions of stride 2 with ReLU (64 -> 32 -> 16
-> 8 pixels for three) on pixels centred on 0, then a linear layer, layer norm and tanh to ``features``
numbers (without the centring and the layer norm the features collapsed to constants in a first measurement:
every feature's spread was 0 after training). It is trained as the encoder of
a convolutional autoencoder (:class:`ConvAutoencoder`, the mirror image with transposed convolutions, MSE on
pixels scaled to [0, 1]) on frames drawn at random from the dataset: self-supervised, from pixels only, it
never sees the state or the reward. The arm covers a few per cent of the image, so pixels that differ from the
plain background weigh ``foreground_weight`` times more in the loss (ours; plain MSE first learns the background).

Memory: the frames stay in the dataset's uint8 memory map; training holds a random pool of ``pool_frames``
frames as uint8 and converts one minibatch at a time to floats, and :func:`encode_frames` reads one chunk of
trials at a time, so no more than a chunk is ever held as floats. The features of the quick dataset (16 x 120 trials x 102 frames x 16 floats) take 12.5 MB.

Measured on the quick data (seed 0, one thread of the busy 2-core CPU): the quick encoder's forward pass takes
about 2,200 images/s and autoencoder training about 650 images/s (the quick training, 10 x 8,192 frames, took
195 s); a quadratic read-out of the fingertip from the trained features has R² 0.79 / 0.81 (x / y) on held-out
frames, against 0.47 / 0.30 from an untrained encoder. Measured again when the angles were hidden (issue 32;
the quick encoder trained again, 143 s): a quadratic least-squares read-out (ridge 1e-3) fitted on 6,000
frames and scored on 3,000 others, none of them in the encoder's training pool, has R² 0.97 / 0.98 / 0.98 /
0.92 for cos q1 / cos q2 / sin q1 / sin q2 and 0.97 / 0.97 for the fingertip (an untrained encoder: 0.64 /
0.38 / 0.62 / 0.39 and 0.55 / 0.42). The 16 features keep the arm's pose, so ``features`` stays 16 (the
split behind the first fingertip figure was not recorded; the difference is not explained).

Evaluation sees the same vectors: :class:`ImageObserver` renders the image of a state
(:meth:`~borel_lib.envs.reacher_image.ReacherImageEnv.images`, exactly the env's) and encodes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from borel_lib.config import Config, ConfigError, check_choice, check_positive, resolve_profile
from borel_lib.datasets import OfflineDataset, frame_indices
from borel_lib.io import atomic_path

IMAGE_DOMAINS = ("reacher_image",)
"""Domains whose observations include an image (their datasets store ``images``)."""

STATE_DIM = 6
"""Reacher-Image's proprioceptive state: cos and sin of both joints, their velocities."""
ANGLE_COLUMNS = 4
"""The first four entries of the proprioceptive state, cos q1, cos q2, sin q1, sin q2: the joint angles."""
PROPRIO_INPUTS = ("velocities", "full")
"""What the learnt parts see of the proprioceptive state (:attr:`ImageEncoderConfig.proprio`)."""
VIEW_FIELDS = ("proprio",)
"""Fields of :class:`ImageEncoderConfig` that choose what the later stages see, not the encoder: an encoder
and its features are shared by every value of them."""


@dataclasses.dataclass(frozen=True)
class ImageEncoderConfig(Config):
    """The image stage (ours; module docstring): the shared convolutional image encoder, its autoencoder
    training, and what the learnt parts see of each observed state (``proprio``)."""

    features: int = 16
    """Image features per frame (the encoder's output)."""
    channels: tuple[int, ...] = (16, 32, 32)
    """Output channels of the stride-2 convolutions (three: 64x64 -> 8x8)."""
    pool_frames: int = 8192
    """Training frames: drawn once at random from the whole dataset (without replacement) and held as uint8
    (8,192 frames are 100 MB); reading random frames from the memory map at every step would be disk-bound."""
    epochs: int = 10
    """Training epochs (passes over the pool, in a new random order each)."""
    batch_size: int = 128
    """Frames per minibatch."""
    lr: float = 1e-3
    """Adam learning rate."""
    foreground_weight: float = 10.0
    """Loss weight of the pixels that differ from the plain background (1 = plain MSE)."""
    proprio: str = "velocities"
    """What the VAE and the offline SAC see of the proprioceptive state besides the image features:
    ``velocities`` (the joint velocities; the joint angles only through the pixels, as the paper's agent) or
    ``full`` (cos/sin of the angles too). The reward, the exact belief and success read the whole state either
    way. Not part of the encoder: both values share one encoder and its features (:data:`VIEW_FIELDS`)."""

    PRESETS = {"smoke": {"features": 4, "channels": (4, 8), "epochs": 1, "pool_frames": 32, "batch_size": 16}}

    def validate(self) -> None:
        self.check_positive_fields("features", "pool_frames", "epochs", "batch_size", "lr")
        check_positive(self.foreground_weight, "foreground_weight")
        check_choice(self.proprio, "proprio", PROPRIO_INPUTS)

    @classmethod
    def for_domain(cls, domain: str, profile: str | None = None, **overrides: Any) -> ImageEncoderConfig:
        """The image stage of an image domain (clear error for the others) with the profile's reductions and
        ``overrides``."""
        if domain not in IMAGE_DOMAINS:
            raise ConfigError(f"no image encoder for domain {domain!r}: it has no image observations; "
                             f"image domains: {', '.join(IMAGE_DOMAINS)}")
        return cls.for_profile(resolve_profile(profile), **overrides)

    def encoder_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` without the :data:`VIEW_FIELDS`: what the encoder and its features depend on."""
        return {k: v for k, v in self.to_dict().items() if k not in VIEW_FIELDS}


def check_image_run(domain: str, profile: str, features: str,
                    overrides: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A run's image settings (:class:`borel_lib.pipeline.RunSpec`), checked: an image domain's policy sees the
    latent belief only (decoded features are Gridworld's cells, the arc's sectors), and image-stage overrides
    (``--image FIELD=VALUE``) are for image domains (names and values checked). Returns the overrides sorted,
    without those equal to the profile's value, so a run that overrides nothing keeps its plain name."""
    if features != "latent" and domain in IMAGE_DOMAINS:
        raise ConfigError(f"features={features!r}: {domain} allows features='latent' only")
    if not overrides:
        return ()
    if domain not in IMAGE_DOMAINS:
        raise ConfigError(f"image overrides (--image) apply to image domains only ({', '.join(IMAGE_DOMAINS)}), "
                          f"not {domain!r}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    ImageEncoderConfig.for_domain(domain, profile, **values)  # validates names and values now, before any work
    base = ImageEncoderConfig.for_domain(domain, profile)
    return tuple(sorted((k, v) for k, v in values.items() if getattr(base, k) != v))


def image_config_entry(domain: str, profile: str | None = None,
                       overrides: tuple[tuple[str, Any], ...] = ()) -> dict[str, dict]:
    """``{"image_encoder": <its resolved config>}`` for an image domain, else ``{}``: the entry a run's config
    file gets (:func:`borel_lib.pipeline.run_borel`)."""
    if domain not in IMAGE_DOMAINS:
        return {}
    return {"image_encoder": ImageEncoderConfig.for_domain(domain, profile, **dict(overrides)).to_dict()}


def add_image_argument(parser) -> None:
    """The ``--image FIELD=VALUE`` option of ``python -m borel_lib.pipeline`` (image domains only)."""
    parser.add_argument("--image", action="append", default=[], metavar="FIELD=VALUE",
                        help="image-stage config override for image domains, repeatable (e.g. --image proprio=full: "
                             "the VAE and SAC also see the joint angles); fields: "
                             f"{', '.join(f.name for f in dataclasses.fields(ImageEncoderConfig))}")


def _to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(B, H, W, 3)`` -> float ``(B, 3, H, W)`` in [0, 1]."""
    return images.permute(0, 3, 1, 2).float() / 255.0


class ConvEncoder(nn.Module):
    """uint8 images ``(B, 64, 64, 3)`` -> features ``(B, features)`` in (-1, 1) (module docstring)."""

    def __init__(self, config: ImageEncoderConfig, size: int = 64):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c in config.channels:
            layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), nn.ReLU()]
            c_in = c
        self.conv = nn.Sequential(*layers)
        self.grid = size // 2 ** len(config.channels)
        self.head = nn.Linear(c_in * self.grid * self.grid, config.features)
        self.norm = nn.LayerNorm(config.features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.norm(self.head(self.conv(_to_float(images) - 0.5).flatten(1))))


class ConvAutoencoder(nn.Module):
    """:class:`ConvEncoder` and its mirror-image decoder (pixel logits ``(B, 3, 64, 64)``)."""

    def __init__(self, config: ImageEncoderConfig, size: int = 64):
        super().__init__()
        self.encoder = ConvEncoder(config, size)
        chans = list(config.channels)
        self.shape = (chans[-1], self.encoder.grid, self.encoder.grid)
        self.expand = nn.Linear(config.features, int(np.prod(self.shape)))
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans[::-1], chans[::-1][1:] + [3]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
        self.deconv = nn.Sequential(*layers[:-1])  # logits out

    def loss(self, images: torch.Tensor, background: torch.Tensor, foreground_weight: float) -> torch.Tensor:
        """Weighted MSE between the reconstruction and the pixels (module docstring)."""
        target = _to_float(images)
        recon = torch.sigmoid(self.deconv(self.expand(self.encoder(images)).view(-1, *self.shape)))
        fg = (images != background).any(-1)[:, None].float()  # (B, 1, H, W)
        weight = 1.0 + (foreground_weight - 1.0) * fg
        return (weight * (recon - target) ** 2).mean()


def _frame_view(images: np.ndarray) -> np.ndarray:
    """The dataset's ``images`` ``(N, M, F, H, W, 3)`` as a flat frame axis ``(N·M·F, H, W, 3)`` (a memmap
    view: nothing is read)."""
    return images.reshape(-1, *images.shape[3:])


def train_image_encoder(dataset: OfflineDataset, config: ImageEncoderConfig, seed: int = 0,
                        checkpoint: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu",
                        progress: bool = True) -> tuple[ConvEncoder, pd.DataFrame]:
    """Train the autoencoder on frames of ``dataset`` (module docstring) and return its encoder, frozen, with
    per-epoch losses. Resumes from ``checkpoint`` (saved every epoch), which must come from the same config
    (only ``epochs`` may grow), seed and data."""
    from borel_lib.envs.reacher_image import ArmRasteriser

    if "images" not in dataset.arrays:
        raise ValueError(f"{dataset.path}: the dataset has no 'images' array (domain {dataset.manifest['domain']!r})")
    frames = _frame_view(dataset.images)
    torch.manual_seed(seed)
    model = ConvAutoencoder(config, frames.shape[1]).to(device)
    optim = torch.optim.Adam(model.parameters(), lr=config.lr)
    background = torch.as_tensor(ArmRasteriser.background, device=device)
    rng = np.random.default_rng(seed)
    start, log = 0, []
    if checkpoint is not None and Path(checkpoint).is_file():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        saved = {k: v for k, v in state["config"].items() if k not in ("epochs", *VIEW_FIELDS)}
        wanted = {k: v for k, v in config.encoder_dict().items() if k != "epochs"}
        if saved != wanted or state["seed"] != seed or state["dataset"] != dataset.fingerprint:
            raise ValueError(f"{checkpoint}: the image encoder was trained with another config, seed or data; "
                             "only 'epochs' may change on resume. Delete the checkpoint to train again.")
        model.load_state_dict(state["model"])
        optim.load_state_dict(state["optim"])
        rng.bit_generator.state = state["rng"]
        start, log = state["epoch"], state["log"]
    pool_rng = np.random.default_rng([seed, 1])  # the pool depends on the seed alone, so a resumed run reads the same
    pool = np.array(frames[np.sort(pool_rng.choice(len(frames), size=min(config.pool_frames, len(frames)),
                                                   replace=False))])
    bar = tqdm(range(start, config.epochs), desc="image encoder", disable=not progress, initial=start,
               total=config.epochs)
    for epoch in bar:
        losses = []
        order = rng.permutation(len(pool))
        for b in range(math.ceil(len(pool) / config.batch_size)):
            batch = torch.as_tensor(pool[order[b * config.batch_size : (b + 1) * config.batch_size]], device=device)
            loss = model.loss(batch, background, config.foreground_weight)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            losses.append(loss.item())
        log.append({"epoch": epoch + 1, "loss": float(np.mean(losses))})
        bar.set_postfix(loss=f"{log[-1]['loss']:.4f}")
        if checkpoint is not None:
            with atomic_path(checkpoint) as tmp:
                torch.save({"model": model.state_dict(), "optim": optim.state_dict(), "rng": rng.bit_generator.state,
                            "epoch": epoch + 1, "log": log, "config": config.encoder_dict(), "seed": seed,
                            "dataset": dataset.fingerprint}, tmp)
    encoder = model.encoder.eval()
    encoder.requires_grad_(False)
    return encoder, pd.DataFrame(log)


@torch.no_grad()
def encode_images(encoder: ConvEncoder, images: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Features ``(..., features)`` float32 of uint8 images ``(..., 64, 64, 3)``, ``chunk`` images at a time."""
    lead = images.shape[:-3]
    flat = images.reshape(-1, *images.shape[-3:])
    device = encoder.head.weight.device
    out = np.empty((len(flat), encoder.head.out_features), np.float32)
    for i in range(0, len(flat), chunk):
        out[i : i + chunk] = encoder(torch.as_tensor(np.array(flat[i : i + chunk]), device=device)).cpu().numpy()
    return out.reshape(*lead, -1)


def encode_frames(encoder: ConvEncoder, dataset: OfflineDataset, progress: bool = True) -> np.ndarray:
    """Features of every stored frame, ``(N, M, k·(H + 1), features)`` float32, read one task's trials at a
    time from the uint8 memory map."""
    images = dataset.images
    N, M, F = images.shape[:3]
    out = np.empty((N, M, F, encoder.head.out_features), np.float32)
    for i in tqdm(range(N), desc="image features", disable=not progress):
        for j in range(0, M, 16):
            out[i, j : j + 16] = encode_images(encoder, images[i, j : j + 16])
    return out


def observed_states(states: np.ndarray, features: np.ndarray) -> np.ndarray:
    """``[state, image features, flag]`` from stored states ``(..., 7)`` (with the flag) and their images'
    features ``(..., features)``: the observation every later stage sees (module docstring)."""
    s = np.asarray(states, np.float32)
    return np.concatenate([s[..., :-1], np.asarray(features, np.float32), s[..., -1:]], -1)


def learnt_columns(manifest: dict[str, Any]) -> list[int] | None:
    """The columns of an observed state the learnt parts see (module docstring): for a :func:`feature_view`
    with ``proprio="velocities"``, the joint velocities, the image features and the flag; ``None`` (all of
    them) for ``proprio="full"`` and for every dataset without image features."""
    info = manifest.get("image_features")
    if info is None or info.get("proprio", "full") == "full":
        return None
    return list(range(ANGLE_COLUMNS, STATE_DIM + info["features"] + 1))


def learnt_dim(dataset: OfflineDataset) -> int:
    """Width of the observed states the learnt parts see (:func:`learnt_columns`)."""
    columns = learnt_columns(dataset.manifest)
    return dataset.obs.shape[-1] if columns is None else len(columns)


def feature_view(dataset: OfflineDataset, features: np.ndarray, proprio: str = "velocities") -> OfflineDataset:
    """``dataset`` as the later stages see it: ``obs``/``next_obs`` are :func:`observed_states` of the stored
    states and their frames' ``features`` (``(N, M, k·(H + 1), F)``, :func:`encode_frames`); the other arrays are
    the dataset's. The states stay whole (the reward and the exact belief read them); ``proprio`` (recorded in
    the manifest's ``image_features``) chooses the :func:`learnt_columns`. The view's manifest gives
    ``obs``/``next_obs`` their new shape and a digest of the features and of ``proprio``, so the view's
    :attr:`~borel_lib.datasets.OfflineDataset.fingerprint` changes with the encoder and with what learns sees: a
    checkpoint trained on other features, or with the other ``proprio``, is refused."""
    check_choice(proprio, "proprio", PROPRIO_INPUTS)
    m = dataset.manifest
    obs_frames, next_frames = frame_indices(m["trial_length"], m["horizon"])
    features = np.asarray(features, np.float32)
    digest = hashlib.sha256(np.ascontiguousarray(features).tobytes()).hexdigest()
    arrays = dict(dataset.arrays)
    arrays.pop("images")
    arrays["obs"] = observed_states(dataset.obs, features[:, :, obs_frames])
    arrays["next_obs"] = observed_states(dataset.next_obs, features[:, :, next_frames])
    entries = {k: dict(v) for k, v in m["arrays"].items() if k != "images"}
    for name in ("obs", "next_obs"):
        base = entries[name]["sha256"]
        seen = f"{base}+{digest}" + ("" if proprio == "full" else f"+proprio={proprio}")  # full: as first made
        entries[name].update(shape=list(arrays[name].shape), sha256=hashlib.sha256(seen.encode()).hexdigest())
    manifest = {**m, "arrays": entries,
                "image_features": {"features": features.shape[-1], "sha256": digest, "proprio": proprio}}
    return OfflineDataset(path=dataset.path, manifest=manifest, arrays=arrays)


class ImageObserver:
    """Evaluation's view of a state: flat states ``(n, 7)`` -> :func:`observed_states` with the features of
    the image the environment shows for them (rendered, then encoded by the frozen encoder)."""

    def __init__(self, encoder: ConvEncoder, domain: str = "reacher_image"):
        from borel_lib.envs import make_env

        self.encoder, self.env = encoder, make_env(domain)

    def __call__(self, states: np.ndarray) -> np.ndarray:
        return observed_states(states, encode_images(self.encoder, self.env.images(np.asarray(states))))


def observed_data(dataset: OfflineDataset, profile: str, seed: int, device: str | torch.device = "cpu",
                  progress: bool = True, image: tuple[tuple[str, Any], ...] = ()
                  ) -> tuple[OfflineDataset, ImageObserver | None]:
    """BOReL's image-feature stage (:mod:`borel_lib.pipeline`): what the later stages see of ``dataset`` and how
    evaluation sees a state. ``(dataset, None)`` for a domain without images; for an image domain the seed's
    encoder is trained or resumed (``<checkpoints>/image_<domain>_<init state>_seed<seed>/encoder.pt``, shared
    by every run of the seed), every frame's features are computed once (cached beside it, ``features.pt``),
    and the result is ``(feature_view(dataset, features, proprio), ImageObserver(encoder))``. ``image``:
    the run's overrides of :class:`ImageEncoderConfig` (:func:`image_overrides`); those of the encoder's own
    fields name its own checkpoint folder, the :data:`VIEW_FIELDS` share the seed's encoder."""
    from borel_lib.io import file_lock
    from borel_lib.paths import checkpoints_dir

    m = dataset.manifest
    if m["domain"] not in IMAGE_DOMAINS:
        return dataset, None
    config = ImageEncoderConfig.for_domain(m["domain"], profile, **dict(image))
    own = "".join(f"_{k}{'x'.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in image if k not in VIEW_FIELDS)
    tag = f"{m['domain']}_{m['init_state']}{own}_seed{seed}"
    folder = checkpoints_dir(profile, create=False) / f"image_{tag}"
    with file_lock(folder / ".train.lock", purpose=f"training the image encoder {tag}"):
        encoder, log = train_image_encoder(dataset, config, seed=seed, checkpoint=folder / "encoder.pt",
                                           device=device, progress=progress)
        key = {"epochs": len(log), "config": config.encoder_dict(), "dataset": dataset.fingerprint}
        cache = folder / "features.pt"
        cached = torch.load(cache, weights_only=False) if cache.is_file() else {}
        if cached.get("key") == key:
            features = cached["features"]
        else:
            features = encode_frames(encoder, dataset, progress=progress)
            with atomic_path(cache) as tmp:
                torch.save({"key": key, "features": features}, tmp)
    return feature_view(dataset, features, config.proprio), ImageObserver(encoder, m["domain"])
