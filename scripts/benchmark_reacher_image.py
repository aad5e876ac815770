"""Reacher-Image from pixels: throughput of every stage on this CPU, and what the quick and paper budgets cost.

Measured in one process with one torch thread (issue 32: the quick budget chosen by measurement):

1. the environment: single-env steps/s with the rendered image observation (``make_env("reacher_image")``),
   and the numpy rasteriser alone (``ReacherImageEnv.images``, batched);
2. the image encoder of the quick config (:mod:`borel_lib.image_features`): forward images/s through
   ``encode_images`` at batch 1, at the evaluation batch (``ImageObserver`` encodes every evaluation task's
   image at once: batch = ``--eval-tasks``) and at chunk 1,024 (dataset features), and autoencoder training
   images/s (``ConvAutoencoder.loss``, backward, Adam, at the config's batch size);
3. belief VAE updates/s (:mod:`borel_lib.vae`) with the quick and the paper VAE config, replaying
   ``borel_lib.belief.train_vae``'s minibatch loop (reward relabelling) on the feature view of the quick
   dataset; the encoder's features are replaced by random numbers of the right shape (a VAE update costs the
   same whatever their values), and if the quick dataset is absent the states are random too. Also the frozen
   belief over logged trials (state relabelling), trials/s;
4. offline SAC updates/s (:class:`borel_lib.offline_rl.OfflineAgent`, meta-batch sampling included) at the
   quick and paper configs, on random hyper-states of the run's width (both sampled from an array of the quick
   data's size: the paper data's 2.4 GB of hyper-states would only make the gathering slower);
5. one whole evaluation (:func:`borel_lib.evaluation.evaluate`: ``--eval-tasks`` tasks x k·H steps with the
   observer, an untrained belief and policy).

The machine's 2 cores are shared with long trainings, so every rate is given by wall clock and by this
process's CPU time (``time.process_time``); the budget table ("quick budget -> CPU time per stage", and the
same for the paper profile in hours) uses the CPU-time rates. Finally, what a real quick run's files say about
its wall time (the checkpoints record epochs, updates and losses, no times; file modification times bound a few
stages).

Usage: python scripts/benchmark_reacher_image.py [--seconds 3] [--quick] [--eval-tasks 20] [--out PATH];
writes data/benchmarks/reacher_image.md (or PATH). About 1 min at the defaults, 40 s with --quick.
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from tqdm.auto import tqdm

from borel_lib import cli
from borel_lib.belief import VAEBelief
from borel_lib.envs import make_env
from borel_lib.image_features import (
    STATE_DIM,
    ConvAutoencoder,
    ConvEncoder,
    ImageEncoderConfig,
    ImageObserver,
    encode_images,
    learnt_columns,
)
from borel_lib.offline_rl import OfflineAgent, OfflineRLConfig
from borel_lib.relabel import sample_trials
from borel_lib.state_relabel import HyperStates
from borel_lib.vae import BeliefVAE, VAEConfig

DOMAIN = "reacher_image"
CHUNK = 1024
"""``encode_images``' default chunk (dataset features)."""


class Rate(NamedTuple):
    """One measured operation: ``calls`` calls of ``items`` items each took ``wall`` s and ``cpu`` s of CPU."""

    items: float
    calls: int
    wall: float
    cpu: float

    @property
    def per_wall(self) -> float:
        return self.items * self.calls / self.wall

    @property
    def per_cpu(self) -> float:
        return self.items * self.calls / self.cpu


def measure(fn: Callable[[], Any], items: float, seconds: float, min_calls: int = 2, warmup: int = 1) -> Rate:
    """Call ``fn`` ``warmup`` times, then until ``seconds`` of wall clock and ``min_calls`` calls have passed."""
    for _ in range(warmup):
        fn()
    calls, w0, c0 = 0, time.perf_counter(), time.process_time()
    while calls < min_calls or time.perf_counter() - w0 < seconds:
        fn()
        calls += 1
    return Rate(items, calls, time.perf_counter() - w0, max(time.process_time() - c0, 1e-9))


class Stages(NamedTuple):
    """The configs of one profile's stages and the size of its dataset."""

    n_tasks: int
    n_trials: int
    encoder: ImageEncoderConfig
    vae: VAEConfig
    rl: OfflineRLConfig


def stages(profile: str) -> Stages:
    """The profile's Reacher-Image configs, as :mod:`borel_lib.pipeline` resolves them."""
    from borel_lib.collect import CollectConfig

    c = CollectConfig.for_domain(DOMAIN, profile)
    return Stages(c.n_tasks, c.warmup_trials + c.iterations * c.trials_per_iter,
                  ImageEncoderConfig.for_domain(DOMAIN, profile), VAEConfig.for_domain(DOMAIN, profile),
                  OfflineRLConfig.for_domain(DOMAIN, profile))


def view_columns(encoder: ImageEncoderConfig) -> list[int] | None:
    """The columns of an observed state the VAE's embeddings and the SAC see (``learnt_columns``)."""
    return learnt_columns({"image_features": {"features": encoder.features, "proprio": encoder.proprio}})


def hyper_width(s: Stages) -> int:
    """The offline SAC's input width: the learnt columns, the belief [μ, log σ²] and the optional clock."""
    cols = view_columns(s.encoder)
    seen = STATE_DIM + s.encoder.features + 1 if cols is None else len(cols)
    return seen + 2 * s.vae.latent_dim + (2 if s.rl.time_input else 0)


def random_states(n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, 7)`` stored states: [cos q1, cos q2, sin q1, sin q2, q̇1, q̇2, episode-end flag]."""
    q = rng.uniform(-np.pi, np.pi, (n, 2))
    return np.concatenate([np.cos(q), np.sin(q), rng.normal(0, 1, (n, 2)), np.zeros((n, 1))], -1).astype(np.float32)


def env_rates(seconds: float, batch: int = CHUNK) -> dict[str, Rate]:
    """Single-env steps/s (image observation included) and the rasteriser's images/s at ``batch``."""
    env = make_env(DOMAIN)
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, (env.horizon, 2))

    def episode():
        for a in actions:
            env.step(a)
        env.reset()

    states = random_states(batch, np.random.default_rng(1))
    return {"env_step": measure(episode, env.horizon, seconds),
            "rasterise": measure(lambda: env.images(states), batch, seconds)}


def encoder_rates(config: ImageEncoderConfig, seconds: float, eval_batch: int, chunk: int = CHUNK) -> dict[str, Rate]:
    """Forward images/s of the frozen encoder at batch 1, ``eval_batch`` and ``chunk`` (``encode_images``),
    the evaluation observer's images/s (render + encode), and autoencoder training images/s."""
    from borel_lib.envs.reacher_image import ArmRasteriser

    torch.manual_seed(0)
    env = make_env(DOMAIN)
    states = random_states(max(chunk, eval_batch, config.batch_size), np.random.default_rng(2))
    images = env.images(states)
    encoder = ConvEncoder(config).eval().requires_grad_(False)
    observer = ImageObserver(encoder, DOMAIN)
    model = ConvAutoencoder(config)
    optim = torch.optim.Adam(model.parameters(), lr=config.lr)
    background = torch.as_tensor(ArmRasteriser.background)
    batch = torch.as_tensor(images[: config.batch_size])

    def train_step():
        loss = model.loss(batch, background, config.foreground_weight)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()

    return {"encode_1": measure(lambda: encode_images(encoder, images[:1]), 1, seconds),
            "encode_eval": measure(lambda: encode_images(encoder, images[:eval_batch]), eval_batch, seconds),
            "encode_chunk": measure(lambda: encode_images(encoder, images[:chunk], chunk), chunk, seconds),
            "observer": measure(lambda: observer(states[:eval_batch]), eval_batch, seconds),
            "encoder_train": measure(train_step, config.batch_size, seconds)}


def vae_data(s: Stages, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray, str]:
    """The VAE's view of the data (observed states ``[state, image features, flag]``), its tasks, and where it
    came from: the quick dataset on disk with random features (read only), else random states of the
    profile's shape."""
    from borel_lib.datasets import load_dataset
    from borel_lib.image_features import feature_view
    from borel_lib.paths import datasets_dir

    env = make_env(DOMAIN)
    k, H = env.episodes_per_trial, env.horizon
    found = sorted(p for p in datasets_dir("quick").glob(f"{DOMAIN}_*") if (p / "manifest.json").is_file())
    if found:
        ds = load_dataset(found[0], verify=False, check_finite=False)
        feats = rng.uniform(-1, 1, (*ds.images.shape[:3], s.encoder.features)).astype(np.float32)
        view = feature_view(ds, feats, s.encoder.proprio)
        arrays = {name: view.arrays[name] for name in ("obs", "actions", "rewards", "next_obs")}
        return arrays, np.asarray(view.tasks), f"the quick dataset `{found[0].name}` with random image features"
    N, M, T = s.n_tasks, s.n_trials, k * H
    tasks = env.sample_tasks(N, rng)
    noise = rng.uniform(-1, 1, (2, N, M, T, s.encoder.features)).astype(np.float32)
    obs, next_obs = (np.concatenate([random_states(N * M * T, rng).reshape(N, M, T, -1)[..., :-1], f,
                                     np.zeros((N, M, T, 1), np.float32)], -1) for f in noise)
    actions = rng.uniform(-1, 1, (N, M, T, 2)).astype(np.float32)
    rewards = env.reward(obs[..., :-1], actions, next_obs[..., :-1], tasks[:, None, None]).astype(np.float32)
    return ({"obs": obs, "actions": actions, "rewards": rewards, "next_obs": next_obs}, tasks,
            f"random states and features ({N} tasks x {M} trials; no quick dataset on disk)")


def vae_rates(configs: dict[str, VAEConfig], encoder: ImageEncoderConfig, data: dict[str, np.ndarray],
              tasks: np.ndarray, seconds: float) -> dict[str, Rate]:
    """Belief VAE updates/s per config (``train_vae``'s minibatch: ``tasks_per_batch`` tasks x
    ``trials_per_task`` trials, reward relabelling) and the frozen belief's trials/s over logged trials."""
    env = make_env(DOMAIN)
    k, H = env.episodes_per_trial, env.horizon
    N, M = data["rewards"].shape[:2]
    cols = view_columns(encoder)
    out = {}
    for name, config in configs.items():
        torch.manual_seed(0)
        vae = BeliefVAE(data["obs"].shape[-1], 2, config, state_columns=cols)
        rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)

        def update(vae=vae, config=config, rng=rng, gen=gen):
            ti = np.repeat(rng.choice(N, size=min(config.tasks_per_batch, N), replace=False), config.trials_per_task)
            b = sample_trials(data, ti, rng.integers(0, M, ti.size), tasks=tasks, episodes=k, horizon=H,
                              mode="reward_relabelling", reward_fn=env.reward, rng=rng, varies=env.varies)
            vae.train_step({key: torch.as_tensor(getattr(b, key)) for key in ("obs", "actions", "rewards", "next_obs")},
                           generator=gen)

        out[f"vae_{name}"] = measure(update, 1, seconds)
    belief = VAEBelief(vae)
    n = min(256, N * M)
    flat = {key: data[key].reshape(N * M, *data[key].shape[2:])[:n] for key in ("actions", "rewards", "next_obs")}
    out["belief_trials"] = measure(lambda: belief.trials(flat["actions"], flat["rewards"], flat["next_obs"]), n, seconds)
    return out


def sac_rate(config: OfflineRLConfig, width: int, seconds: float, shape: tuple[int, int, int] = (16, 120, 100)) -> Rate:
    """Offline SAC updates/s (meta-batch sampling included) on random hyper-states ``shape + (width,)``."""
    rng = np.random.default_rng(3)
    hs = HyperStates(obs=rng.normal(size=(*shape, width)).astype(np.float32),
                     actions=rng.uniform(-1, 1, (*shape, 2)).astype(np.float32),
                     rewards=rng.normal(size=shape).astype(np.float32),
                     next_obs=rng.normal(size=(*shape, width)).astype(np.float32), dones=np.zeros(shape, np.float32))
    agent = OfflineAgent(width, 2, False, config, seed=0)
    return measure(lambda: agent.update(agent.sample(hs)), 1, seconds)


def evaluation_rate(s: Stages, n_tasks: int, seconds: float) -> Rate:
    """Whole evaluations per second (``evaluate`` with the image observer, an untrained VAE belief and SAC)."""
    from borel_lib.evaluation import evaluate
    from borel_lib.tasks import eval_tasks

    torch.manual_seed(0)
    cols = view_columns(s.encoder)
    observer = ImageObserver(ConvEncoder(s.encoder).eval().requires_grad_(False), DOMAIN)
    belief = VAEBelief(BeliefVAE(STATE_DIM + s.encoder.features + 1, 2, s.vae, state_columns=cols))
    agent = OfflineAgent(hyper_width(s), 2, False, s.rl, seed=0)
    tasks = eval_tasks(DOMAIN, 0, n_tasks)
    return measure(lambda: evaluate(belief, agent, DOMAIN, tasks, seed=0, time_input=s.rl.time_input,
                                    observe=observer, columns=cols), 1, seconds, min_calls=1, warmup=0)


def budget(s: Stages, rates: dict[str, Rate], profile: str, eval_tasks: int) -> list[tuple[str, str, float]]:
    """``(stage, work, CPU seconds)`` of one profile's run, from the CPU-time rates."""
    env = make_env(DOMAIN)
    k, H = env.episodes_per_trial, env.horizon
    frames = s.n_tasks * s.n_trials * k * (H + 1)
    pool = min(s.encoder.pool_frames, frames)
    per_epoch = math.ceil(s.n_trials / s.vae.trials_per_task) * math.ceil(s.n_tasks / s.vae.tasks_per_batch)  # train_vae
    vae_updates = s.vae.epochs * per_epoch
    n_evals = math.ceil(s.rl.updates / s.rl.eval_every)  # pipeline: one evaluation after every eval_every updates
    return [
        ("image encoder training", f"{s.encoder.epochs} epochs x {pool:,} frames",
         s.encoder.epochs * pool / rates["encoder_train"].per_cpu),
        ("image features (every stored frame)", f"{frames:,} frames", frames / rates["encode_chunk"].per_cpu),
        ("belief VAE", f"{s.vae.epochs} epochs x {per_epoch:,} = {vae_updates:,} updates",
         vae_updates / rates[f"vae_{profile}"].per_cpu),
        ("state relabelling (belief over every trial)", f"{s.n_tasks * s.n_trials:,} trials",
         s.n_tasks * s.n_trials / rates["belief_trials"].per_cpu),
        ("offline SAC", f"{s.rl.updates:,} updates", s.rl.updates / rates[f"sac_{profile}"].per_cpu),
        ("evaluations", f"{n_evals} x {eval_tasks} tasks x {k * H} steps", n_evals / rates["evaluation"].per_cpu),
    ]


def recorded_run(profile: str = "quick") -> list[tuple[str, str, float]]:
    """What a finished run's files say about its wall time (read only): ``(run, stage, seconds)`` from file
    modification times, the only times on disk. Image features: from the encoder's last checkpoint to the
    features cache; the offline stage: from the release of the VAE's training lock (its folder's time) to the
    agent's last checkpoint (state relabelling, offline SAC and evaluations)."""
    from borel_lib.paths import checkpoints_dir

    root = checkpoints_dir(profile)
    rows = []
    for folder in sorted(root.glob(f"image_{DOMAIN}_*_seed*")):
        enc, feats = folder / "encoder.pt", folder / "features.pt"
        if enc.is_file() and feats.is_file() and 0 < feats.stat().st_mtime - enc.stat().st_mtime < 3600:
            rows.append((folder.name, "image features", feats.stat().st_mtime - enc.stat().st_mtime))
    for folder in sorted(root.glob(f"borel_{DOMAIN}_*_seed*")):
        vae = root / folder.name.replace("borel_", "vae_", 1)
        agent = folder / "agent.pt"
        if vae.is_dir() and agent.is_file() and 0 < agent.stat().st_mtime - vae.stat().st_mtime < 6 * 3600:
            rows.append((folder.name, "state relabelling + offline SAC + evaluations",
                         agent.stat().st_mtime - vae.stat().st_mtime))
    return rows


ROWS = [  # (rate key, operation, size, unit)
    ("env_step", "env step, single env, image observation rendered", "1 env", "steps"),
    ("rasterise", "rasteriser alone (`ReacherImageEnv.images`)", f"batch {CHUNK:,}", "images"),
    ("encode_1", "encoder forward (`encode_images`)", "batch 1", "images"),
    ("encode_eval", "encoder forward, evaluation (`ImageObserver`: all tasks at once)", "batch {eval}", "images"),
    ("observer", "`ImageObserver` call (render + encode)", "batch {eval}", "images"),
    ("encode_chunk", "encoder forward, dataset features (`encode_images`)", f"chunk {CHUNK:,}", "images"),
    ("encoder_train", "autoencoder training (forward, backward, Adam)", "batch {enc_batch}", "images"),
    ("vae_quick", "belief VAE update, quick config ({quick_decode})", "{vae_batch}", "updates"),
    ("vae_paper", "belief VAE update, paper config ({paper_decode})", "{vae_batch}", "updates"),
    ("belief_trials", "frozen belief over logged trials (state relabelling)", "256 trials", "trials"),
    ("sac_quick", "offline SAC update, quick config", "{sac_quick}", "updates"),
    ("sac_paper", "offline SAC update, paper config", "{sac_paper}", "updates"),
    ("evaluation", "one evaluation (env, render, encode, belief, policy)", "{eval} tasks x {steps} steps", "evaluations"),
]


def report(rates: dict[str, Rate], plans: dict[str, Stages], eval_tasks: int, data_source: str,
           recorded: list[tuple[str, str, float]]) -> str:
    """The markdown of ``data/benchmarks/reacher_image.md``."""
    q, p = plans["quick"], plans["paper"]

    def decode(c: VAEConfig) -> str:
        return "full decoding" if c.decode_subset is None else f"K={c.decode_subset:,} decoded pairs"

    def sac(s: Stages) -> str:
        return f"{'x'.join(map(str, s.rl.hidden))}, {s.rl.meta_batch} x {s.rl.batch_per_task}, input {hyper_width(s)}"

    env = make_env(DOMAIN)
    steps = env.episodes_per_trial * env.horizon
    fill = {"eval": eval_tasks, "steps": steps, "enc_batch": q.encoder.batch_size, "quick_decode": decode(q.vae),
            "paper_decode": decode(p.vae), "sac_quick": sac(q), "sac_paper": sac(p),
            "vae_batch": f"{q.vae.tasks_per_batch} tasks x {q.vae.trials_per_task} trials x {steps} steps"}
    lines = [f"Reacher-Image from pixels, one process, one torch thread ({platform.processor() or platform.machine()}, "
             f"torch {torch.__version__}). The machine's 2 cores were shared with other trainings while this ran, so "
             "wall-clock rates depend on their load; CPU time (this process's `time.process_time`) is the steadier "
             f"measure and the budget uses it. VAE data: {data_source}. Quick image encoder: "
             f"channels {q.encoder.channels}, {q.encoder.features} features.", "",
             "| operation | size | unit | per s (wall) | per s (CPU) |", "|---|---|---|---:|---:|"]
    for key, what, size, unit in ROWS:
        r = rates[key]
        fmt = ",.0f" if r.per_cpu >= 100 else ".2f"
        lines.append(f"| {what.format(**fill)} | {size.format(**fill)} | {unit} | {r.per_wall:{fmt}} | {r.per_cpu:{fmt}} |")
    quick, paper = budget(q, rates, "quick", eval_tasks), budget(p, rates, "paper", eval_tasks)
    lines += ["", f"Budget -> estimated CPU time per stage (quick data: {q.n_tasks} tasks x {q.n_trials} trials; "
              f"paper: {p.n_tasks} x {p.n_trials}; {eval_tasks} evaluation tasks; data collection not included):", "",
              "| stage | quick: work | quick: CPU min | paper: work | paper: CPU h |", "|---|---|---:|---|---:|"]
    for (stage, qw, qs), (_, pw, ps) in zip(quick, paper):
        lines.append(f"| {stage} | {qw} | {_amount(qs / 60)} | {pw} | {_amount(ps / 3600)} |")
    lines.append(f"| total | | {sum(r[2] for r in quick) / 60:.1f} | | {sum(r[2] for r in paper) / 3600:.1f} |")
    lines += ["", "A real quick run: its checkpoints record epochs, updates and losses but no times, and the start of "
              "the encoder's and the VAE's training is recorded nowhere. File modification times bound two stages "
              "(wall clock, on the shared CPU, often beside other runs):"]
    if recorded:
        lines += ["", "| run | stage | wall min |", "|---|---|---:|"]
        lines += [f"| {run} | {stage} | {sec / 60:.1f} |" for run, stage, sec in recorded]
    else:
        lines.append("none found (no finished quick Reacher-Image run on this machine).")
    return "\n".join(lines) + "\n"


def _amount(x: float) -> str:
    return "< 0.1" if x < 0.05 else f"{x:,.1f}"


def _positive_seconds(text: str) -> float:
    value = cli.non_negative_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number > 0")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=_positive_seconds, default=3.0, help="wall-clock seconds per measurement")
    parser.add_argument("--quick", action="store_true", help="0.5 s per measurement (about 40 s in all)")
    parser.add_argument("--eval-tasks", type=cli.positive_int, default=20,
                        help="evaluation tasks (the pipeline's 20): the observer's batch")
    parser.add_argument("--out", type=Path, default=None, help="output file (default data/benchmarks/reacher_image.md)")
    args = parser.parse_args(argv)
    seconds = 0.5 if args.quick else args.seconds
    torch.set_num_threads(1)
    plans = {profile: stages(profile) for profile in ("quick", "paper")}
    q = plans["quick"]
    rates: dict[str, Rate] = {}
    steps = tqdm(total=6, desc="measuring", leave=False)
    rates.update(env_rates(seconds))
    steps.update()
    rates.update(encoder_rates(q.encoder, seconds, args.eval_tasks))
    steps.update()
    data, tasks, source = vae_data(q, np.random.default_rng(0))
    rates.update(vae_rates({name: s.vae for name, s in plans.items()}, q.encoder, data, tasks, seconds))
    steps.update()
    for name, s in plans.items():
        rates[f"sac_{name}"] = sac_rate(s.rl, hyper_width(s), seconds)
    steps.update()
    rates["evaluation"] = evaluation_rate(q, args.eval_tasks, seconds)
    steps.update()
    text = report(rates, plans, args.eval_tasks, source, recorded_run("quick"))
    steps.update()
    steps.close()
    from borel_lib.io import atomic_path
    from borel_lib.paths import benchmarks_dir

    out = args.out if args.out is not None else benchmarks_dir() / "reacher_image.md"
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {out} ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)")


if __name__ == "__main__":
    main()
