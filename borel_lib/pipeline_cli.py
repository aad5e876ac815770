"""The command line of :mod:`borel_lib.pipeline`: ``python -m borel_lib.pipeline DOMAIN ...`` runs one BOReL run.

:func:`build_parser` is the parser, :func:`spec_from_args` turns its arguments into a checked
:class:`~borel_lib.pipeline.RunSpec` (every input checked before any work), :func:`main` runs it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from borel_lib import image_features
from borel_lib.belief import BELIEFS, FEATURES
from borel_lib.cli import parse_overrides as _parse_overrides
from borel_lib.collect import CollectConfig
from borel_lib.config import resolve_profile
from borel_lib.envs import INIT_STATE_OPTIONS
from borel_lib.image_features import observed_data
from borel_lib.offline_rl import RL_DOMAIN, OfflineRLConfig
from borel_lib.pipeline import RunSpec, collection, load_run_belief, run_borel
from borel_lib.relabel import RELABEL_MODES
from borel_lib.tasks import add_split_argument
from borel_lib.vae import VAEConfig

__all__ = ["build_parser", "main", "spec_from_args"]


def _parse_rl(items: list[str]) -> dict[str, Any]:
    """``--rl`` overrides of :class:`OfflineRLConfig`."""
    return _parse_overrides(items, OfflineRLConfig, "rl")


def build_parser():
    """The ``python -m borel_lib.pipeline`` command line (see :mod:`borel_lib.cli`)."""
    from borel_lib import cli

    parser = cli.make_command_parser(
        "python -m borel_lib.pipeline",
        "BOReL for one domain and seed (paper §3.2, §6): collection (cached) -> belief -> state relabelling ->\n"
        "offline RL -> evaluation. Every input is checked before any work; a killed run resumes.",
        outputs="  results:     data/results/<profile>/borel/<domain>/<configuration>/borel_<tag>.csv (+ _final, _traj) and .config.json\n"
                "               (<tag> = <domain>_<init state>_<belief or relabelling>[_<overrides>][_validation]_seed<seed>)\n"
                "  VAE losses:  data/results/<profile>/belief/<domain>/vae_<domain>_<init state>_<relabelling>_seed<seed>.csv\n"
                "  checkpoints: data/checkpoints/<profile>/borel_<tag>/ and vae_<...>/ (delete to restart)\n"
                "  (profile smoke: the same under build/smoke/)",
        subject="domain", choices=RL_DOMAIN, subject_help="domain")
    parser.add_argument("--init-state", default=None, metavar="VARIANT",
                        help="initial-state variant of the collection to train on (Table 1): "
                             f"{', '.join(INIT_STATE_OPTIONS)}, as the domain allows (default: the domain's "
                             "collection protocol's)")
    parser.add_argument("--last-trials", type=cli.positive_int, default=None, metavar="N",
                        help="train on the last N trials of every task's log only (the converged collectors' data; "
                             "default: the whole logs)")
    parser.add_argument("--collection", action="append", default=[], metavar="FIELD=VALUE",
                        help="train on a collection of another length than the profile's, repeatable (fields: "
                             "iterations, updates_per_iter; make it first: python -m borel_lib.collect DOMAIN "
                             "--iterations N --updates-per-iter U)")
    parser.add_argument("--belief", default="vae", choices=BELIEFS,
                        help="the learnt VAE belief (BOReL) or the exact posterior (the oracle)")
    parser.add_argument("--relabelling", default="reward_relabelling", choices=RELABEL_MODES,
                        help="how the VAE's training trials are mixed (reward_relabelling: reward-varying domains "
                             "only; policy_replay: needs python -m borel_lib.collect DOMAIN --policy-replay first)")
    parser.add_argument("--features", default="latent", choices=FEATURES,
                        help="what the policy sees of the belief: VAE latent (default) or decoded; the exact belief's "
                             "default features (latent) or mean, the posterior moments of the goal angle (arc domains)")
    cli.add_seed_argument(parser, default=0, help="seed of the VAE, the offline RL and the evaluation tasks")
    parser.add_argument("--rl", action="append", default=[], metavar="FIELD=VALUE",
                        help="offline-RL config override, repeatable (e.g. --rl time_input=1 --rl updates=50000); "
                             f"fields: {', '.join(f.name for f in dataclasses.fields(OfflineRLConfig))}")
    parser.add_argument("--vae", action="append", default=[], metavar="FIELD=VALUE",
                        help="belief-VAE config override, repeatable (e.g. --vae epochs=60 --vae kl_weight=0.1); "
                             f"fields: {', '.join(f.name for f in dataclasses.fields(VAEConfig))}")
    image_features.add_image_argument(parser)
    add_split_argument(parser)
    parser.add_argument("--only-belief", action="store_true",
                        help="train (or resume) the run's VAE and stop (its checkpoint is shared by every RL setting)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    cli.add_device_argument(parser)
    return parser


def spec_from_args(args) -> RunSpec:
    """The :class:`RunSpec` of parsed ``python -m borel_lib.pipeline`` arguments (every input checked)."""
    return RunSpec(args.domain, resolve_profile(args.profile), args.belief, args.relabelling, args.seed,
                   args.features, tuple(_parse_rl(args.rl).items()),
                   tuple(_parse_overrides(args.vae, VAEConfig, "vae").items()), init_state=args.init_state,
                   image=tuple(_parse_overrides(args.image, image_features.ImageEncoderConfig, "image").items()),
                   eval_split=args.eval_split, last_trials=args.last_trials,
                   collection=tuple(_parse_overrides(args.collection, CollectConfig, "collection").items()))


def _run_cli(args) -> int:
    spec = spec_from_args(args)  # every input checked before any work
    torch.set_num_threads(1)
    progress = not args.no_progress
    if args.only_belief:
        from borel_lib.device import get_device

        dev = get_device(args.device)
        data = observed_data(collection(spec, progress), spec.profile, spec.seed, dev, progress, spec.image)[0]
        load_run_belief(spec, data, dev, progress=progress)
        print(f"belief ready: {spec.vae_checkpoint() if spec.belief == 'vae' else 'exact (nothing to train)'}")
        return 0
    df = run_borel(spec, progress=progress, device=args.device)
    last = df[(df.updates == df.updates.max()) & (df.metric == "return")]
    print(last.to_string(index=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line of ``python -m borel_lib.pipeline``; returns the exit code."""
    from borel_lib import cli

    return cli.main(_run_cli, build_parser(), argv)
