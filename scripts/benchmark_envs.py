"""Step throughput of every domain: single env (Gymnasium loop) and batched (N tasks per numpy op).

Usage: python scripts/benchmark_envs.py [--quick] [--n 1024]
Prints a Markdown table and writes it to data/benchmarks/envs.md (committed). Speed targets live here, not in
timed tests (issue: batched point robot >= 1M task-steps/s at N = 1024).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from borel_lib import cli
from borel_lib.envs import DOMAINS, make_env, make_trial
from borel_lib.envs.batched import BATCHABLE, make_batched_trial
from borel_lib.paths import repo_root


def single_steps_per_second(name: str, seconds: float) -> float:
    trial = make_trial(name)
    trial.reset(seed=0)
    rng = np.random.default_rng(0)
    space = trial.action_space
    discrete = not space.shape
    actions = rng.integers(0, space.n, 4096) if discrete else rng.uniform(-1, 1, (4096,) + space.shape).astype(np.float32)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for i in range(200):
            _, _, _, trunc, _ = trial.step(actions[(steps + i) % 4096])
            if trunc:
                trial.reset()
        steps += 200
    return steps / (time.perf_counter() - start)


def batched_steps_per_second(name: str, n: int, seconds: float) -> float:
    env = make_env(name)
    batched = make_batched_trial(name, n)
    rng = np.random.default_rng(0)
    batched.reset(env.sample_tasks(n, rng), seeds=range(n))
    if name == "gridworld":
        actions = rng.integers(0, 5, (64, n))
    else:
        actions = rng.uniform(-1, 1, (64, n, 2)).astype(np.float32)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        out = batched.step(actions[steps % 64])
        steps += 1
        if out.trial_done:
            batched.reset(batched.tasks)
    return steps * n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter measurements (about 10 s in all)")
    parser.add_argument("--n", type=cli.positive_int, default=1024, help="tasks stepped together in the batched form")
    args = parser.parse_args()
    seconds = 0.5 if args.quick else 2.0
    rows = []
    for name in DOMAINS:
        single = single_steps_per_second(name, seconds)
        batched = batched_steps_per_second(name, args.n, seconds) if name in BATCHABLE else None
        rows.append((name, single, batched))
        b = f"{batched:,.0f}" if batched else "—"
        print(f"{name:>15}: single {single:>10,.0f} steps/s   batched (N={args.n}) {b} task-steps/s", flush=True)
    lines = [f"Measured on {platform.processor() or platform.machine()}, numpy {np.__version__}, one process.",
             "", f"| domain | single env (steps/s) | batched, N={args.n} (task-steps/s) |", "|---|---:|---:|"]
    for name, single, batched in rows:
        lines.append(f"| {name} | {single:,.0f} | {f'{batched:,.0f}' if batched else '—'} |")
    table = "\n".join(lines)
    out = repo_root() / "data" / "benchmarks" / "envs.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table + "\n")
    print("\n" + table)
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
