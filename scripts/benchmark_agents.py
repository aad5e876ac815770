"""SAC agent-updates/s: N stacked agents vs one agent at a time (issue: >= 10x at N = 80).

Baselines, all with one torch thread per process:
- "one at a time": a single-member SAC updated N times in one process;
- "2 processes": two single-agent processes at once (someone running the authors' one-process-per-task
  scripts on both cores); agent-updates/s summed over both;
- "batched": one EnsembleSAC of N members; "batched x2": two processes of N/2 members each.
Usage: python scripts/benchmark_agents.py [--quick]; writes data/benchmarks/agents.md.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

import torch

from borel_lib.agents import EnsembleSAC, SACConfig

OBS, ACT, BATCH = 3, 2, 256


def _rate(members: int, seconds: float) -> float:
    torch.set_num_threads(1)
    agent = EnsembleSAC(OBS, ACT, list(range(members)), SACConfig(hidden=(32, 32), batch_size=BATCH))
    g = torch.Generator().manual_seed(0)
    batch = {"obs": torch.randn(members, BATCH, OBS, generator=g), "actions": torch.rand(members, BATCH, ACT, generator=g),
             "rewards": torch.randn(members, BATCH, generator=g), "next_obs": torch.randn(members, BATCH, OBS, generator=g),
             "dones": torch.zeros(members, BATCH)}
    agent.update(batch)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        agent.update(batch)
        n += 1
    return n * members / (time.perf_counter() - start)


def _worker(args):
    return _rate(*args)


def parallel(members: int, seconds: float) -> float:
    with mp.get_context("spawn").Pool(2) as pool:
        return sum(pool.map(_worker, [(members, seconds)] * 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short measurements (under a minute)")
    args = parser.parse_args()
    seconds = 1.5 if args.quick else 5.0
    one = _rate(1, seconds)
    two_proc = parallel(1, seconds)
    lines = ["| N | one at a time | 2 single-agent processes | batched (1 process) | batched, 2 processes | "
             "batched x2 / 2-process baseline |", "|---:|---:|---:|---:|---:|---:|"]
    for n in (1, 8, 32, 80):
        batched = _rate(n, seconds)
        batched2 = parallel(max(n // 2, 1), seconds) if n > 1 else two_proc
        row = f"| {n} | {one:,.0f} | {two_proc:,.0f} | {batched:,.0f} | {batched2:,.0f} | {batched2 / two_proc:.1f}x |"
        lines.append(row)
        print(row, flush=True)
    table = "SAC 2x32, batch 256, obs 3, act 2; agent-updates/s; one torch thread per process.\n\n" + "\n".join(lines)
    from borel_lib.io import write_text
    from borel_lib.paths import benchmarks_dir

    write_text(benchmarks_dir() / "agents.md", table + "\n")
    print("\n" + table)


if __name__ == "__main__":
    main()
