"""How close each trained belief VAE is to the exact posterior (issue "BOReL that learns to search").

For every VAE a finished run of the profile used (``data/checkpoints/<profile>/vae_<vae tag>``)
the VAE's goal distribution implied by its reward decoder is compared with the exact posterior
(:func:`borel_lib.pipeline.belief_vs_exact`, :func:`borel_lib.belief.belief_tv`: total variation, 0 = identical, 1 = disjoint) after every step of
three kinds of trials:

- ``scripted_search``: trials that search without being told where to go (Gridworld: a serpentine
  sweep, :func:`borel_lib.references.scripted.gridworld_sweep_trials`, for each of the 21 goals; Semi-circle: the
  search-then-go script, :func:`borel_lib.references.scripted.semicircle_search_then_go`, for the 20 evaluation
  goals; Ant-Semi-circle: the same script walked by the run's collection's goal-conditioned SAC,
  :func:`borel_lib.references.ant_scripted.search_trials`, which needs that collection's saved policy).
  These are the beliefs exploration needs: cells or arc segments ruled out, goal not yet found.
- ``logged_late``: the last 5 logged trials of every task (goal-reaching; training data).
- ``logged_early``: the first 5 logged trials of every task (random warm-up; training data).

Writes ``data/results/<profile>/belief/belief_vs_exact.csv`` (tidy; column ``t`` = transitions seen; metric
``tv``, mean over trials; column ``vae`` = the VAE's tag, e.g. ``semicircle_uniform_reward_relabelling_seed0``) with its
config; ``--domains`` restricts it to some domains (the rows of the others already in the table are kept).
A VAE whose dataset or checkpoint is not on this machine is refused before any work (``--skip-missing``: measure
the others).
Usage: python scripts/belief_vs_exact.py [--profile quick] [--domains ant_semicircle] [--skip-missing]
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import pandas as pd
import torch

from borel_lib.pipeline import belief_vs_exact, finished_runs
from borel_lib.results import read_table_file, result_path, write_results

DOMAINS = ("gridworld", "semicircle", "ant_semicircle")
"""The domains with an exact posterior and a scripted search to probe a VAE on."""


def _dataset_path(spec):
    """The folder of the run's own-policy dataset."""
    from borel_lib.collect import CollectConfig, dataset_name
    from borel_lib.paths import datasets_dir

    return datasets_dir(spec.profile, create=False) / dataset_name(
        CollectConfig.for_domain(spec.domain, spec.profile, **spec.collect_overrides), spec.profile)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--domains", nargs="+", choices=DOMAINS, default=list(DOMAINS),
                        help="the domains whose VAEs to measure (default: all with an exact posterior and a script)")
    parser.add_argument("--skip-missing", action="store_true",
                        help="measure only the VAEs whose dataset and checkpoint are on this machine (default: refuse "
                             "when any is missing, before any work)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    todo, missing = {}, {}
    for run in finished_runs(args.profile):  # every VAE a finished run used, once
        if run.belief != "vae" or run.domain not in args.domains or run.vae_tag in todo or run.vae_tag in missing:
            continue
        spec = dataclasses.replace(run, features="latent", rl=())
        here = _dataset_path(spec).is_dir() and spec.vae_checkpoint().is_file()
        (todo if here else missing)[spec.vae_tag] = spec
    if missing and not args.skip_missing:  # before any work: re-collecting and retraining would take hours on the Ant
        first = next(iter(missing.values()))
        parser.error(f"{len(missing)} VAE(s) of finished runs are not on this machine (dataset or VAE checkpoint), e.g. "
                     f"vae_{first.vae_tag} (made by `{first.command}`); run those commands first, or give "
                     "--skip-missing to measure the VAEs that are here (the table keeps the others' rows)")
    if not todo:
        parser.error(f"no finished VAE run of {', '.join(args.domains)} at --profile {args.profile} with its dataset and "
                     "checkpoint on this machine: run `python -m borel_lib.pipeline <domain> --profile ... --belief vae` first")
    frames, configs = [], {}
    path = result_path("belief_vs_exact", args.profile)
    if path.is_file():  # keep the other domains' rows, and the skipped VAEs' (measured where their data were)
        old = read_table_file(path)
        frames.append(old[~old.domain.isin(args.domains) | old.vae.isin(missing)])
        kept = set(frames[0].vae)
        saved = json.loads(result_path("belief_vs_exact", args.profile, kind="config").read_text())["values"]["vae"]
        configs.update({tag: c for tag, c in saved.items() if tag in kept})
    for tag in missing:
        print(f"skipped vae_{tag}: dataset or VAE checkpoint not on this machine" + (
            " (its rows kept)" if tag in configs else ""))
    for spec in todo.values():
        configs[spec.vae_tag] = spec.vae_config().to_dict()
        df = belief_vs_exact(spec, device="cpu")
        for kind, g in df.groupby("variant"):
            print(f"vae_{spec.vae_tag} {kind}: mean TV {g.value.mean():.3f}")
        frames.append(df.assign(vae=spec.vae_tag))
    df = pd.concat(frames, ignore_index=True)
    # the command that makes the whole table (a --domains run replaces only its domains' rows)
    write_results(df, "belief_vs_exact", config={"vae": configs}, profile=args.profile,
                  command=f"python scripts/belief_vs_exact.py --profile {args.profile}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
