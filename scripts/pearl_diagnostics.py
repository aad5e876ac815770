"""PEARL's task inference, measured on finished runs (issue 30; :mod:`borel_lib.baselines.pearl_diagnostics`).

For each seed's checkpoint of ``python -m borel_lib.baselines.pearl DOMAIN --profile P --seed S [--pearl ...]``
(read only): the share of the encoder's context transitions that reach the goal and of training tasks with none,
the posterior's spread and drift after episode 1 on the test tasks, and on the Semi-circle whether episode 2 goes
to a goal episode 1 found (search metrics). Nothing is trained; one evaluation per seed (seconds).

Also the verdict on "episode 2 beats episode 1" (what posterior sampling should give): each seed's return per
episode over its last 10 % of evaluations (``return_last10``, episodes 1 and 2) and, over the seeds (``seed`` -1),
the IQM of the per-seed differences ep2 − ep1 and its bootstrap 95 % interval (``ep2_minus_ep1_*``, paired by seed,
:func:`paired_verdict`; the verdict is printed).

Writes ``data/results/<profile>/probes/<domain>/probe_pearl_diagnostics_<domain>[_<settings>].csv`` (one row per
seed and metric; ``method`` the run's) with its config.
Usage: python scripts/pearl_diagnostics.py semicircle [--profile quick] [--seeds 0 1 2] [--pearl context_reward=dense]
"""

from __future__ import annotations

import pandas as pd
import torch

from borel_lib import cli
from borel_lib.baselines import pearl


def _run(args) -> int:
    from borel_lib.baselines.common import checkpoint_path, setting_flags, setting_parts
    from borel_lib.baselines.pearl_diagnostics import pearl_diagnostics
    from borel_lib.results import evaluation_summary, write_results

    torch.set_num_threads(1)  # the machine's cores are shared with training
    profile = args.profile
    given, settings = pearl.named_settings(args.domain, profile,
                                           cli.parse_overrides(args.pearl, pearl.PEARLConfig, "pearl"))
    cfg = pearl.PEARLConfig.for_domain(args.domain, profile, **dict(given))
    tags = {s: pearl.run_tag(args.domain, s, settings=settings) for s in args.seeds}
    missing = [str(checkpoint_path(profile, t)) for t in tags.values() if not checkpoint_path(profile, t).is_file()]
    if missing:  # before any work
        raise ValueError(f"no PEARL checkpoint: {', '.join(missing)}; train it first: python -m "
                         f"borel_lib.baselines.pearl {args.domain} --profile {profile} --seed S"
                         + setting_flags("pearl", given))
    tables = []
    for seed, tag in tags.items():
        state = torch.load(checkpoint_path(profile, tag), map_location="cpu", weights_only=False)
        trainer = pearl.PEARLTrainer(args.domain, cfg.replace(iterations=state["iteration"]), seed)
        trainer.load_state_dict(state, str(checkpoint_path(profile, tag)))
        method = "pearl" + setting_parts(settings, pearl.SETTING_NAMES)
        tables.append(pearl_diagnostics(trainer).assign(method=method, variant="online", seed=seed, episode=0))
        late = evaluation_summary(pd.DataFrame(trainer.rows), "iteration", trainer.env.eval_episodes)
        tables.append(pd.DataFrame([{"domain": args.domain, "method": method, "variant": "online", "seed": seed,
                                     "episode": e, "metric": "return_last10", "value": late[f"ep{e}"],
                                     "iteration": trainer.iteration} for e in (1, 2)]))
    name = f"probe_pearl_diagnostics_{args.domain}{setting_parts(settings, pearl.SETTING_NAMES)}"
    command = (f"python scripts/pearl_diagnostics.py {args.domain} --profile {profile} --seeds "
               + " ".join(map(str, args.seeds)) + setting_flags("pearl", given))
    table = pd.concat(tables, ignore_index=True)
    late = table[table.metric == "return_last10"].pivot(index="seed", columns="episode", values="value")
    said = paired_verdict(late[2].to_numpy() - late[1].to_numpy())  # "episode 2 > episode 1", paired by seed
    if said["seeds"] >= 2:
        table = pd.concat([table, pd.DataFrame([
            {"domain": args.domain, "method": method, "variant": "online", "seed": -1, "episode": 0,
             "metric": f"ep2_minus_ep1_{k}", "value": float(said[k]), "iteration": int(table.iteration.max())}
            for k in ("seeds", "iqm", "ci_low", "ci_high")])], ignore_index=True)
    table = table[["domain", "method", "variant", "seed", "episode", "metric", "value", "iteration"]]
    print(write_results(table, name, config=cfg, profile=profile, command=command))
    print(table.pivot_table(index=["metric", "episode"], columns="seed", values="value").round(3).to_string())
    print(f"episode 2 > episode 1 over the seeds' last 10 % of evaluations: {said['verdict']} (IQM of the per-seed "
          f"differences {said['iqm']:.2f}, interval [{said['ci_low']:.2f}, {said['ci_high']:.2f}], {said['seeds']} seeds)")
    return 0


def paired_verdict(diffs) -> dict:
    """The claim "episode 2 > episode 1" from each seed's difference ep2 − ep1 (paired by seed): the seeds, the
    IQM of the differences, its bootstrap 95 % interval (:func:`borel_lib.stats.bootstrap_ci`) and the verdict
    (holds if the interval is above 0, reversed if below, not separated otherwise; too few seeds under 2)."""
    from borel_lib.stats import bootstrap_ci, iqm

    diffs = [float(d) for d in diffs]
    low, high = bootstrap_ci(diffs) if len(diffs) >= 2 else (float("nan"), float("nan"))
    said = ("too few seeds" if len(diffs) < 2 else "holds" if low > 0 else "reversed" if high < 0 else "not separated")
    return {"seeds": len(diffs), "iqm": iqm(diffs) if diffs else float("nan"), "ci_low": low, "ci_high": high,
            "verdict": said}


def main(argv: list[str] | None = None) -> int:
    parser = cli.make_parser("python scripts/pearl_diagnostics.py", __doc__.splitlines()[0],
                             "  data/results/<profile>/probes/<domain>/probe_pearl_diagnostics_<domain>[_<settings>].csv")
    parser.add_argument("domain", choices=pearl.DOMAINS, help="domain of the PEARL runs")
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--seeds", type=cli.seed, nargs="+", default=[0, 1, 2], help="seeds of the runs")
    parser.add_argument("--pearl", action="append", default=[], metavar="FIELD=VALUE",
                        help="the runs' --pearl settings (they name the runs)")
    return cli.main(_run, parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
