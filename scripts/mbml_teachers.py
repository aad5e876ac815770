"""Are MBML's BCQ teachers at least as good as the data they learn from? (issue "fair comparisons")

MBML (:mod:`borel_lib.baselines.mbml`) first trains one BCQ agent per training task on that task's logged
trials, then distils them into one task-conditioned policy. A teacher below its own data bounds everything after
it. This script trains only that first phase (the same :class:`~borel_lib.baselines.mbml.MBMLTrainer`, its BCQ
steps, resumable) with the given settings (``--mbml FIELD=VALUE``, the BCQ fields only; they name the run, apart
from ``bcq_iterations``, which grows it: a longer run continues the shorter one's checkpoint), and
every ``--eval-every`` iterations evaluates every task's teacher on its own task from the collection's own
initial states (:func:`~borel_lib.baselines.mbml_diagnostics.evaluate_teachers`), beside the logged trials'
return per episode over all training trials and over the last ``--last`` of them
(:func:`~borel_lib.baselines.mbml_diagnostics.logged_returns`). The gate: the teachers' mean return per episode
at or above the logged trials' (the bootstrap interval of the difference over the tasks reaching 0 or above).

Writes ``data/results/<profile>/probes/<domain>/probe_mbml_teachers_<domain>_<init_state>[_<settings>]_seed<seed>.csv``
(tidy, per-episode means over the tasks; ``method`` bcq_teachers / logged_all / logged_last<L>, ``iteration`` the
BCQ updates, -1 for the logged rows; plus, per evaluation and logged source, ``minus_<method>_{mean,ci_low,ci_high}``:
the teachers' return minus the logged one per episode, mean over the tasks with a bootstrap 95 % interval over the
tasks, and ``tasks_at_or_above_<method>``) with its config; checkpoint
``data/checkpoints/<profile>/probe_mbml_teachers_...pt``.
Usage: python scripts/mbml_teachers.py semicircle --profile quick --seed 0 [--mbml bcq_iterations=50000]
"""

from __future__ import annotations

import pandas as pd
import torch
from tqdm.auto import tqdm

from borel_lib import cli
from borel_lib.baselines import mbml
from borel_lib.config import ConfigError
from borel_lib.stats import bootstrap_ci


def teacher_tag(domain: str, init_state: str, settings: tuple, seed: int) -> str:
    from borel_lib.baselines.common import setting_parts
    from borel_lib.baselines.mbml_diagnostics import TEACHER_NAMES

    return f"probe_mbml_teachers_{domain}_{init_state}{setting_parts(settings, TEACHER_NAMES)}_seed{seed}"


def summary_rows(teachers: pd.DataFrame, logged: pd.DataFrame) -> list[dict]:
    """Per-episode means over the tasks of each source; then, against each logged source, the teachers' return
    minus the logged one per task and episode (the teacher's one trial against the mean of the task's logged trials):
    its mean over the tasks with a bootstrap 95 % interval over the tasks (the gate: the interval's upper end at or
    above 0 says the teachers are not below the data; its lower end above 0, above it) and the share of tasks at or
    above (noisy: one trial against a mean)."""
    rows = []
    for (method, it), g in pd.concat([teachers, logged], ignore_index=True).groupby(["method", "iteration"]):
        means = g.groupby(["episode", "metric"])["value"].mean()
        rows += [{"method": method, "iteration": it, "episode": e, "metric": m, "value": float(v)}
                 for (e, m), v in means.items()]
    total = lambda f: f[f.metric == "return"].groupby("task")["value"].sum()  # noqa: E731
    for it, g in teachers.groupby("iteration"):
        mine = total(g)
        for method, lg in logged.groupby("method"):
            diff = (mine - total(lg)).to_numpy() / g.episode.max()  # per task, per episode
            low, high = bootstrap_ci(diff, statistic=lambda s: s.mean(1))
            rows += [{"method": "bcq_teachers", "iteration": it, "episode": 0, "metric": metric, "value": float(v)}
                     for metric, v in ((f"tasks_at_or_above_{method}", (diff >= -1e-9).mean()),
                                       (f"minus_{method}_mean", diff.mean()), (f"minus_{method}_ci_low", low),
                                       (f"minus_{method}_ci_high", high))]
    return rows


def _run(args) -> int:
    from borel_lib.baselines.common import checkpoint_path, run_lock, setting_flags
    from borel_lib.baselines.mbml_diagnostics import TEACHER_FIELDS, evaluate_teachers, logged_returns
    from borel_lib.collect import run_collection
    from borel_lib.config import resolve_profile
    from borel_lib.device import get_device
    from borel_lib.io import atomic_path
    from borel_lib.pipeline import dataset_overrides, resolve_init_state
    from borel_lib.results import write_results
    from borel_lib.seeding import seed_everything

    torch.set_num_threads(1)
    profile = resolve_profile(args.profile)
    given = cli.parse_overrides(args.mbml, mbml.MBMLConfig, "mbml")
    bad = sorted(set(given) - set(TEACHER_FIELDS))
    if bad:
        raise ConfigError(f"--mbml {bad[0]}: only the teachers' fields may be set here: {', '.join(TEACHER_FIELDS)}")
    cfg = mbml.MBMLConfig.for_domain(args.domain, profile, **given)
    base = mbml.MBMLConfig.for_domain(args.domain, profile)
    settings = tuple(sorted((k, v) for k, v in given.items() if getattr(base, k) != v))
    data = dataset_overrides(args.domain, profile, args.init_state)  # checks the variant before any work
    init_state = resolve_init_state(args.domain, profile, args.init_state)
    from borel_lib.collect import CollectConfig

    trials = CollectConfig.for_domain(args.domain, profile, **data).trials_per_task - cfg.heldout_trials
    if trials < 1:
        raise ConfigError(f"--mbml heldout_trials={cfg.heldout_trials} leaves no training trial (the collection has "
                          f"{trials + cfg.heldout_trials} per task)")
    if args.eval_every <= 0:
        raise ConfigError(f"--eval-every {args.eval_every} must be positive")
    if args.last is not None and not 0 < args.last <= trials:
        raise ConfigError(f"--last {args.last} must be in [1, {trials}] (the collection's training trials per task)")
    tag = teacher_tag(args.domain, init_state, tuple((k, v) for k, v in settings if k != "bcq_iterations"), args.seed)
    command = (f"python scripts/mbml_teachers.py {args.domain} --profile {profile} --seed {args.seed}"
               + "".join(f" --init-state {v}" for v in data.values()) + setting_flags("mbml", settings)
               + (f" --eval-every {args.eval_every}" if args.eval_every != 2000 else "")
               + (f" --last {args.last}" if args.last is not None else ""))
    ckpt, total = checkpoint_path(profile, tag), cfg.bcq_iterations
    state = torch.load(ckpt, map_location="cpu", weights_only=False) if ckpt.is_file() else None
    if state is not None:  # before any work: a run only grows, on one evaluation grid
        done = state["done"]["bcq"]
        if done > total:
            raise ConfigError(f"{ckpt}: already {done} BCQ iterations, more than --mbml bcq_iterations={total}; "
                              "a teacher run only grows")
        grid = {int(r["iteration"]) for r in state["rows"]}
        if any(k % args.eval_every and k != done for k in grid):
            raise ConfigError(f"{ckpt}: evaluated every {min(grid)} iterations, not every --eval-every "
                              f"{args.eval_every}; resume with the same --eval-every")
        state["config"]["bcq_iterations"] = total  # the run grows (BCQ has no schedule): the same updates
    with run_lock(profile, tag, "MBML teachers"):
        seed_everything(args.seed)
        dataset, _ = run_collection(args.domain, profile, progress=not args.no_progress, **data)
        logged = logged_returns(dataset, cfg.heldout_trials, min(20, trials) if args.last is None else args.last)
        logged = logged.assign(iteration=-1)
        trainer = mbml.MBMLTrainer(dataset, cfg, args.seed, get_device(args.device))
        if state is not None:
            trainer.load_state_dict(state, str(ckpt))
        bar = tqdm(total=total, initial=trainer.done["bcq"], desc="BCQ teachers", disable=args.no_progress)
        while trainer.done["bcq"] < total:
            trainer.bcq_step()
            trainer.done["bcq"] += 1
            bar.update()
            k = trainer.done["bcq"]
            if k % args.eval_every == 0 or k == total:
                ev = evaluate_teachers(trainer, init_state)
                trainer.rows += ev.assign(iteration=k).to_dict("records")
                bar.set_postfix(ret=f"{ev[ev.metric == 'return'].groupby('episode')['value'].mean().sum():.3g}")
                with atomic_path(ckpt) as tmp:
                    torch.save(trainer.state_dict(), tmp)
        bar.close()
        rows = summary_rows(pd.DataFrame(trainer.rows), logged)
        table = pd.DataFrame(rows).assign(domain=args.domain, variant=init_state, seed=args.seed)
        table = table[["domain", "method", "variant", "seed", "episode", "metric", "value", "iteration"]]
        print(write_results(table, tag, config=cfg, profile=profile, command=command))
    last = table[(table.iteration.isin([-1, total])) & (table.metric != "success")]
    print(last.pivot_table(index=["method", "metric"], columns="episode", values="value").round(3).to_string())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = cli.make_parser("python scripts/mbml_teachers.py", __doc__.splitlines()[0],
                             "  data/results/<profile>/probes/<domain>/probe_mbml_teachers_<domain>_<init_state>"
                             "[_<settings>]_seed<seed>.csv")
    parser.add_argument("domain", choices=tuple(d for d in mbml.DOMAINS if d != "reacher_image"),
                        help="MBML's domains without images (Reacher-Image's teachers see image features: not built here)")
    parser.add_argument("--profile", choices=("smoke", "quick", "paper"), default=None,
                        help="run size (default: $BOREL_PROFILE, else quick)")
    parser.add_argument("--seed", type=cli.seed, default=0)
    parser.add_argument("--init-state", default=None, metavar="VARIANT",
                        help="initial-state variant of the collection (default: the domain's collection protocol's)")
    parser.add_argument("--mbml", action="append", default=[], metavar="FIELD=VALUE",
                        help="BCQ settings (they name the run, apart from bcq_iterations, which grows it): "
                             + ", ".join(mbml_fields()))
    parser.add_argument("--eval-every", type=int, default=2000, help="BCQ updates between evaluations (default 2000)")
    parser.add_argument("--last", type=int, default=None,
                        help="the logged trials' late window (default 20, or all training trials if fewer)")
    parser.add_argument("--device", type=cli.device, default="auto", help="torch device: auto, cpu, cuda")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return cli.main(_run, parser, argv)


def mbml_fields() -> tuple[str, ...]:
    from borel_lib.baselines.mbml_diagnostics import TEACHER_FIELDS

    return TEACHER_FIELDS


if __name__ == "__main__":
    raise SystemExit(main())
