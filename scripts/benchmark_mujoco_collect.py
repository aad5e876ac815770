"""MuJoCo data collection end to end: N stacked agents in one batched run vs one process per task.

The same small collection (Ant-Semi-circle by default: N tasks, the paper's SAC 128x128 agents, a few
warm-up and learning trials of 400 steps, some updates per iteration) is run three ways, each run in
fresh processes with one torch thread:

- "one process per task, 2 at once": what running the authors' one-task script on both cores gives
  (a fresh process per task, as theirs; process start-up included);
- "batched, 1 process": one :class:`~borel_lib.collector.Collector` of N tasks;
- "batched, 2 processes": two Collectors of N/2 tasks, one per core.

The project's machine is shared with long trainings that have priority, so wall-clock times measure the
scheduler, not the code. What is measured is each process's CPU time from its start (imports included)
to its finished dataset; the table also gives the wall time an idle 2-core machine would take: the
per-task runs packed on two cores (sum / 2), the 1-process run's CPU time, and the slower of the two
half runs.

Usage: python scripts/benchmark_mujoco_collect.py [--domain ant_semicircle] [--n 16] [--updates-per-iter 100];
writes data/benchmarks/mujoco_collect.md.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _collect(job: tuple[dict, str]) -> tuple[float, float]:
    """Run one collection (config values, output folder) in this fresh process; return the CPU
    seconds this process used since it started, in all (imports included) and collecting only."""
    import torch

    from borel_lib.collect import CollectConfig
    from borel_lib.collector import Collector

    torch.set_num_threads(1)
    values, folder = job
    collector = Collector(CollectConfig(**values), Path(folder) / "ds", Path(folder) / "ck", profile="smoke")
    ready = _cpu()
    collector.run(progress=False)
    total = _cpu()
    return total, total - ready


def _pool_run(jobs: list[tuple[dict, str]], workers: int) -> tuple[list[float], list[float], float]:
    """Run ``jobs``, each in a fresh process, ``workers`` at a time; return (CPU s per job, collecting
    CPU s per job, wall s)."""
    start = time.perf_counter()
    with mp.get_context("spawn").Pool(workers, maxtasksperchild=1) as pool:
        out = pool.map(_collect, jobs, chunksize=1)
    return [o[0] for o in out], [o[1] for o in out], time.perf_counter() - start


def main() -> None:
    from borel_lib import cli

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", default="ant_semicircle", choices=["ant_semicircle", "cheetah_vel"])
    parser.add_argument("--n", type=cli.positive_int, default=16, help="tasks (even)")
    parser.add_argument("--warmup-trials", type=cli.non_negative_int, default=1)
    parser.add_argument("--iterations", type=cli.positive_int, default=2)
    parser.add_argument("--updates-per-iter", type=cli.non_negative_int, default=100)
    parser.add_argument("--baseline-tasks", type=cli.positive_int, default=None,
                        help="run only this many of the N one-task processes and scale their CPU by N / this "
                             "(the tasks differ only in their goal; saves time on a busy machine)")
    parser.add_argument("--halves", action="store_true", help="also time two batched processes of N/2 tasks")
    args = parser.parse_args()
    if args.n % 2:
        parser.error(f"--n {args.n}: the number of tasks must be even (two halves)")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from borel_lib.collect import CollectConfig

    base = CollectConfig.for_domain(args.domain, "paper", warmup_trials=args.warmup_trials, iterations=args.iterations,
                                    trials_per_iter=1, updates_per_iter=args.updates_per_iter,
                                    checkpoint_every=args.iterations).to_dict()
    base["hidden"] = tuple(base["hidden"])
    n = args.n
    with tempfile.TemporaryDirectory() as tmp:
        k = args.baseline_tasks or n
        single = [({**base, "n_tasks": 1, "seed": i}, f"{tmp}/single{i}") for i in range(k)]
        cpu_single, run_single, wall_single = _pool_run(single, 2)
        scale = n / k
        print(f"one process per task ({k} of {n}): CPU {sum(cpu_single):.1f} s", flush=True)
        cpu_one, run_one, wall_one = _pool_run([({**base, "n_tasks": n}, f"{tmp}/batched")], 1)
        print(f"batched, 1 process: CPU {cpu_one[0]:.1f} s", flush=True)
        if args.halves:
            halves = [({**base, "n_tasks": n // 2, "seed": s}, f"{tmp}/half{s}") for s in (0, 1)]
            cpu_two, run_two, wall_two = _pool_run(halves, 2)
            print(f"batched, 2 processes: CPU {sum(cpu_two):.1f} s", flush=True)
    steps = n * (args.warmup_trials + args.iterations) * 400
    updates = n * args.iterations * args.updates_per_iter
    idle = {"single": scale * sum(cpu_single) / 2, "one": cpu_one[0]}
    rows = [(f"one process per task, 2 at once{f' ({k} of {n} run, scaled x{scale:g})' if k != n else ''}",
             scale * sum(cpu_single), scale * sum(run_single), idle["single"], scale * wall_single),
            ("batched, 1 process", cpu_one[0], run_one[0], idle["one"], wall_one)]
    if args.halves:
        idle["two"] = max(cpu_two)
        rows.append(("batched, 2 processes of N/2", sum(cpu_two), sum(run_two), idle["two"], wall_two))
    base_run = rows[0][2]
    table = "\n".join([
        f"{args.domain}, N = {n} tasks; per task {args.warmup_trials} random + {args.iterations} policy trial(s) of "
        f"400 steps and {args.iterations} x {args.updates_per_iter} SAC updates (paper networks 128x128, batch 256): "
        f"{steps:,} task-steps and {updates:,} agent-updates in all. Each run in fresh processes, one torch thread "
        f"each; CPU seconds from process start (imports included). Load average at the end {os.getloadavg()[0]:.1f} "
        "on 2 cores (other trainings had priority), so the measured wall times are the scheduler's.",
        "",
        "| run | CPU s (all processes) | idle 2-core wall s (estimate) | speed-up (idle estimate) | CPU s collecting "
        "only (no imports/set-up) | CPU ratio, collecting only | measured wall s |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(f"| {name} | {cpu:.1f} | {est:.1f} | {idle['single'] / est:.1f}x | {run:.1f} | {base_run / run:.1f}x | {wall:.0f} |"
          for name, cpu, run, est, wall in rows),
        "",
        f"Per-task process CPU: {min(cpu_single):.1f}-{max(cpu_single):.1f} s each, of which the imports and set-up "
        "are paid once per process.",
        "",
        "Command: python scripts/benchmark_mujoco_collect.py " + " ".join(sys.argv[1:]),
    ])
    from borel_lib.io import write_text
    from borel_lib.paths import benchmarks_dir

    write_text(benchmarks_dir() / "mujoco_collect.md", table + "\n")
    print("\n" + table)


if __name__ == "__main__":
    main()
