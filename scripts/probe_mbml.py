"""Where does MBML lose? A finished MBML run's parts, evaluated on its training tasks.

Issue "PEARL and MBML": on Half-Cheetah-Vel MBML scores well below BOReL on the same data. MBML has three
stages (per-task BCQ teachers, distillation into one task-conditioned policy, task inference), and its
final score mixes them. This probe loads a finished run's checkpoint (nothing is trained) and evaluates,
on the run's *training* tasks (the only ones with a teacher) with MBML's test protocol (fixed start, the
domain's k episodes, deterministic actions), from the most to the least informed agent
(:data:`borel_lib.baselines.mbml.PROBE_MODES`):

- ``teachers``: each task's own BCQ teacher on its task: what the offline per-task policies reach;
- ``student_own_data``: the distilled policy with z from the posterior of its task's own training data;
- ``student_inferred``: the distilled policy with the test protocol (prior z in episode 1, then the
  posterior of the trial so far): what MBML does;
- ``zero_action``: a = 0.

A drop from one row to the next names the stage that loses it. Writes
``data/results/<profile>/probes/<domain>/probe_mbml_<domain>_<init_state>_seed<seed>.csv`` (tidy, column ``mode``, per-episode means
over the tasks) with the run's config.
Usage: python scripts/probe_mbml.py cheetah_vel --profile quick --seed 0
"""

from __future__ import annotations

import argparse
import shlex
import sys

import torch

from borel_lib import cli
from borel_lib.baselines.mbml import DOMAINS, MBMLConfig, MBMLTrainer, run_tag
from borel_lib.baselines.mbml_diagnostics import probe_components
from borel_lib.collect import run_collection
from borel_lib.config import resolve_profile
from borel_lib.device import get_device
from borel_lib.image_features import IMAGE_DOMAINS
from borel_lib.paths import checkpoints_dir
from borel_lib.results import write_results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/probe_mbml.py", description=__doc__.splitlines()[0])
    parser.add_argument("domain", choices=[d for d in DOMAINS if d not in IMAGE_DOMAINS],
                        help="a state-based domain (the probe feeds the stored states; Reacher-Image's MBML sees "
                             "image features and is not probed)")
    parser.add_argument("--profile", choices=("smoke", "quick", "paper"), default=None,
                        help="run size (default: $BOREL_PROFILE, else quick)")
    parser.add_argument("--seed", type=cli.seed, default=0)
    parser.add_argument("--device", type=cli.device, default="auto", help="torch device: auto (CUDA if present, else CPU), cpu, cuda")
    parser.add_argument("--context-size", type=cli.positive_int, default=512,
                        help="transitions of a task's own data behind student_own_data's z (default: 512)")
    args = parser.parse_args(argv)
    profile = resolve_profile(args.profile)
    torch.set_num_threads(1)
    cfg = MBMLConfig.for_domain(args.domain, profile)
    tag = run_tag(args.domain, args.seed, None, profile)
    checkpoint = checkpoints_dir(profile) / f"{tag}.pt"
    if not checkpoint.is_file():
        parser.error(f"no finished run: {checkpoint} is missing; run `python -m borel_lib.baselines.mbml {args.domain} "
                     f"--profile {profile} --seed {args.seed}` first")
    dataset, _ = run_collection(args.domain, profile, progress=False)
    trainer = MBMLTrainer(dataset, cfg, args.seed, get_device(args.device))
    trainer.load_state_dict(torch.load(checkpoint, map_location=trainer.device, weights_only=False), str(checkpoint))
    if trainer.done != trainer.totals():
        parser.error(f"{checkpoint}: the run is not finished ({trainer.done} of {trainer.totals()}); resume it first")
    ev = probe_components(trainer, args.context_size)
    df = (ev.groupby(["mode", "episode", "metric"], sort=False)["value"].mean().reset_index()
          .assign(domain=args.domain, method="mbml", variant="offline", seed=args.seed))
    df = df[["domain", "method", "variant", "seed", "episode", "metric", "value", "mode"]]
    command = "python scripts/probe_mbml.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    path = write_results(df, f"probe_{tag}", config=cfg, profile=profile, command=command)
    print(df.pivot_table(index=["mode", "metric"], columns="episode", values="value", sort=False).round(2).to_string())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
