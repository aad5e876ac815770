"""Fault injection on every command line (issue 35): each ``python -m borel_lib.<...>`` entry point and each
``scripts/*.py`` that takes arguments, called in-process through its ``main`` with bad values (an unknown
domain, negative / NaN / non-integer numbers, unknown or ill-typed ``--rl`` / ``--vae`` / ``--set``
overrides, a bad ``--profile``, ``--device`` or seed).

Each must end with exit code 2 (:func:`borel_lib.cli.main`'s user-error code, also argparse's) and one
``error:`` line on stderr naming the parameter (after argparse's usage block when argparse reports it), no
traceback, before any work and before anything is written: the repository root is a fresh temporary folder
(``$BOREL_ROOT``, :func:`borel_lib.paths.repo_root`) that must stay empty, the committed figures and result
tables must keep their sizes and times, and a tripwire stops the case if training starts (the first
``torch.manual_seed``, which every run's seeding calls, the collection's seeding, or 30 s of running). A valid call per command shows the
tripwire fires, so the cases can fail. Two cases also run as real subprocesses, end to end.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from script_loader import load_script

from borel_lib import collect, collector, minari_export, pipeline, sweep
from borel_lib.baselines import mbml, pearl
from borel_lib.online import varibad_offpolicy, varibad_ppo

REPO = Path(__file__).resolve().parents[1]
WATCHED = (REPO / "figures", REPO / "data" / "results", REPO / "data" / "benchmarks", REPO / "README.md")
"""Committed outputs a rejected command must leave alone (build/ is scratch that concurrent test runs write)."""
UNWATCHED = (REPO / "data" / "results" / "quick" / "collection" / "ant_semicircle",)
"""A long collection may be appending its learning curves here while the tests run."""


def _script(name: str):
    return load_script(name)


SCRIPTS = {name: _script(name) for name in (
    "ant_data_diversity", "ant_references", "belief_vs_exact", "benchmark_agents", "benchmark_envs", "benchmark_mujoco_collect",
    "benchmark_reacher_image", "benchmark_vae", "check_figures", "check_reproducible", "cheetah_tracking", "gridworld_coverage", "headline",
    "identifiability_gap",
    "mbml_teachers", "migrate_results_tree",
    "pearl_diagnostics", "probe_ant_collectors", "probe_ant_gait", "probe_ant_goal_known", "probe_beliefs", "probe_mbml", "probe_online_exact",
    "probe_offline_gym_ant", "probe_policy_mode", "probe_q_values", "probe_sac_gym_ant", "reacher_belief", "reacher_exact_coverage", "reacher_references",
    "results_table")
    if (REPO / "scripts" / f"{name}.py").is_file()}

ENTRY: dict[str, Callable[..., Any]] = {
    "collect": collect.main, "pipeline": pipeline.main, "pearl": pearl.main, "mbml": mbml.main,
    "varibad_ppo": varibad_ppo.main, "varibad_offpolicy": varibad_offpolicy.main, "sweep": sweep.main,
    "minari_export": minari_export.main, **{name: module.main for name, module in SCRIPTS.items()},
}


class ReachedWork(BaseException):
    """Raised by the tripwire: the command started training (a BaseException, so no handler swallows it)."""


def _snapshot() -> dict[str, tuple[int, int]]:
    out = {}
    for top in WATCHED:
        paths = [top] if top.is_file() else (top.rglob("*") if top.is_dir() else [])
        for path in paths:
            if path.is_file() and not any(path.is_relative_to(u) for u in UNWATCHED):
                st = path.stat()
                out[str(path.relative_to(REPO))] = (st.st_mtime_ns, st.st_size)
    return out


@pytest.fixture()
def sandbox(tmp_path, monkeypatch):
    """An empty repository root, no profile from the environment, and the tripwire."""
    root = tmp_path / "root"
    root.mkdir()
    monkeypatch.setenv("BOREL_ROOT", str(root))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root / "minari"))
    monkeypatch.delenv("BOREL_PROFILE", raising=False)

    def tripwire(*args, **kwargs):
        raise ReachedWork("training started")

    monkeypatch.setattr(torch, "manual_seed", tripwire)
    monkeypatch.setattr(collector, "spawn_generators", tripwire)  # the collection seeds its agents here
    if "check_reproducible" in SCRIPTS:  # it would move build/smoke/ of the real repository
        module = SCRIPTS["check_reproducible"]
        for name in ("ROOT", "OUT", "SMOKE"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, tmp_path / "check_reproducible" / name)

    def on_alarm(signum, frame):
        raise ReachedWork("still running after 30 s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    yield root
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module", autouse=True)
def committed_files_unchanged():
    """Once around the whole module (a snapshot takes a second): no case touched a committed output."""
    before = _snapshot()
    yield
    after = _snapshot()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"committed files changed: {changed[:10]}"


def _call(name: str, argv: list[str], monkeypatch) -> int | str:
    """Run one entry point in-process; its exit code (a ``main(argv)`` return or a ``SystemExit``)."""
    main = ENTRY[name]
    signal.alarm(30)
    try:
        if name in SCRIPTS and "argv" not in main.__code__.co_varnames[:main.__code__.co_argcount]:
            monkeypatch.setattr(sys, "argv", [f"scripts/{name}.py", *argv])
            code = main()
        else:
            code = main(argv)
    except SystemExit as stop:
        code = stop.code
    finally:
        signal.alarm(0)
    if code is None:
        code = 0
    return code if isinstance(code, int) else str(code)


def _error_line(err: str) -> str:
    """The one line that is not argparse's usage block; fails if there are more."""
    lines = [line for line in err.splitlines() if line.strip()]
    rest, in_usage = [], False
    for line in lines:
        if line.startswith("usage:"):
            in_usage = True
            continue
        if in_usage and line.startswith(" "):
            continue
        in_usage = False
        rest.append(line)
    assert len(rest) == 1, f"expected one error line, got {len(rest)}:\n{err}"
    return rest[0]


DOMAIN = {"collect": "semicircle", "pipeline": "semicircle", "pearl": "semicircle", "mbml": "semicircle",
          "varibad_ppo": "semicircle", "varibad_offpolicy": "semicircle", "sweep": "smoke",
          "probe_mbml": "semicircle"}
"""The positional argument that makes each command's call valid apart from the flag under test."""

COMMON = [  # (argv after the domain, the name the error line must contain)
    (["--profile", "huge"], "--profile"),
    (["--profile", ""], "--profile"),
    (["--seed", "-1"], "--seed"),
    (["--seed", "nan"], "--seed"),
    (["--seed", "1.5"], "--seed"),
    (["--seed", str(2**31)], "--seed"),
    (["--device", "tpu"], "argument --device"),
    (["--device", "cuda:99"], "--device"),
    (["--bogus", "1"], "--bogus"),
]

CASES: list[tuple[str, list[str], str]] = []
for _cmd in ("collect", "pipeline", "pearl", "mbml", "varibad_ppo", "varibad_offpolicy"):
    CASES += [(_cmd, ["mars"], "domain"), (_cmd, [], "domain")]
    CASES += [(_cmd, [DOMAIN[_cmd], *argv], name) for argv, name in COMMON]
CASES += [
    ("collect", ["semicircle", "--n-tasks", "0"], "--n-tasks"),
    ("collect", ["semicircle", "--n-tasks", "nan"], "--n-tasks"),
    ("collect", ["semicircle", "--iterations", "-1"], "--iterations"),
    ("collect", ["semicircle", "--iterations", "1e9"], "--iterations"),
    ("collect", ["semicircle", "--updates-per-iter", "0"], "--updates-per-iter"),
    ("collect", ["semicircle", "--updates-per-iter", "x"], "--updates-per-iter"),
    ("collect", ["semicircle", "--init-state", "center"], "--init-state"),
    ("collect", ["gridworld", "--init-state", "exclude_semicircle"], "init_state"),
    ("pipeline", ["semicircle", "--rl", "no_such_field=1"], "no_such_field"),
    ("pipeline", ["semicircle", "--collection", "n_tasks=3"], "n_tasks"),
    ("pipeline", ["semicircle", "--collection", "iterations=0"], "iterations"),
    ("pipeline", ["semicircle", "--collection", "iterations"], "iterations"),
    ("pipeline", ["semicircle", "--rl", "tau"], "tau"),
    ("pipeline", ["semicircle", "--rl", "tau=2"], "tau"),
    ("pipeline", ["semicircle", "--rl", "tau=0"], "tau"),
    ("pipeline", ["semicircle", "--rl", "tau=nan"], "tau"),
    ("pipeline", ["semicircle", "--rl", "gamma=1"], "gamma"),
    ("pipeline", ["semicircle", "--rl", "gamma=-inf"], "gamma"),
    ("pipeline", ["semicircle", "--rl", "updates=-5"], "updates"),
    ("pipeline", ["semicircle", "--rl", "updates=2.5"], "updates"),
    ("pipeline", ["semicircle", "--rl", "updates=many"], "updates"),
    ("pipeline", ["semicircle", "--rl", "hidden="], "hidden"),
    ("pipeline", ["semicircle", "--rl", "hidden=0"], "hidden"),
    ("pipeline", ["semicircle", "--rl", "hidden=64,-1"], "hidden"),
    ("pipeline", ["semicircle", "--rl", "double_dqn=maybe"], "double_dqn"),
    ("pipeline", ["semicircle", "--rl", "mixed_borrow=some"], "mixed_borrow"),
    ("pipeline", ["semicircle", "--rl", "lr_final=1.5"], "lr_final"),
    ("pipeline", ["semicircle", "--rl", "cql_alpha=-1"], "cql_alpha"),
    ("pipeline", ["semicircle", "--vae", "no_such_field=1"], "no_such_field"),
    ("pipeline", ["semicircle", "--vae", "epochs=0"], "epochs"),
    ("pipeline", ["semicircle", "--vae", "lr=x"], "lr"),
    ("pipeline", ["semicircle", "--vae", "decoder=nope"], "decoder"),
    ("pipeline", ["semicircle", "--vae", "decode_subset=0"], "decode_subset"),
    ("pipeline", ["semicircle", "--vae", "latent_dim=nan"], "latent_dim"),
    ("pipeline", ["semicircle", "--belief", "oracle"], "--belief"),
    ("pipeline", ["semicircle", "--belief", "exact", "--vae", "epochs=5"], "vae"),
    ("pipeline", ["wind", "--relabelling", "reward_relabelling"], "relabelling"),
    ("pipeline", ["semicircle", "--init-state", "center"], "init_state"),
    ("pipeline", ["semicircle", "--last-trials", "0"], "--last-trials"),
    ("pipeline", ["semicircle", "--last-trials", "100000"], "last_trials"),
    ("pipeline", ["semicircle", "--features", "pixels"], "--features"),
    ("pearl", ["semicircle", "--iterations", "0"], "--iterations"),
    ("pearl", ["semicircle", "--iterations", "nan"], "--iterations"),
    ("pearl", ["semicircle", "--pearl", "context_reward=shaped"], "context_reward"),
    ("pearl", ["semicircle", "--pearl", "no_such_field=1"], "no_such_field"),
    ("pearl", ["semicircle", "--pearl", "iterations=3"], "iterations"),
    ("pearl", ["escape_room", "--pearl", "context_reward=dense"], "context_reward"),
    ("mbml", ["semicircle", "--init-state", "center"], "init_state"),
    ("mbml", ["semicircle", "--mbml", "no_such_field=1"], "no_such_field"),
    ("mbml", ["semicircle", "--mbml", "bcq_lambda=2"], "bcq_lambda"),
    ("mbml", ["semicircle", "--mbml", "bcq_iterations=0"], "bcq_iterations"),
    ("varibad_ppo", ["wind"], "domain"),
    ("varibad_ppo", ["semicircle", "--env-steps", "0"], "--env-steps"),
    ("varibad_ppo", ["semicircle", "--env-steps", "-inf"], "--env-steps"),
    ("varibad_offpolicy", ["semicircle", "--env-steps", "-1"], "--env-steps"),
    ("sweep", ["nogrid"], "grid"),
    ("sweep", ["smoke", "--profile", "huge"], "--profile"),
    ("sweep", ["smoke", "--executor", "k8s"], "--executor"),
    ("sweep", ["smoke", "--max-parallel", "0"], "--max-parallel"),
    ("sweep", ["smoke", "--time-min", "nan"], "--time-min"),
    ("sweep", ["smoke", "--mem-gb", "nan"], "--mem-gb"),
    ("sweep", ["smoke", "--mem-gb", "-1"], "--mem-gb"),
    ("sweep", ["smoke", "--seeds", "-1"], "--seeds"),
    ("sweep", ["smoke", "--seeds", str(2**31)], "seed"),
    ("sweep", ["smoke", "--seeds", "99"], "seed"),
    ("minari_export", ["no/such/dataset", "borel/x-v0"], "no/such/dataset"),
    ("minari_export", ["no/such/dataset", "borel/x-v0", "--trials", "0"], "--trials"),
    # scripts
    ("ant_data_diversity", ["--profile", "huge"], "--profile"),
    ("belief_vs_exact", ["--profile", "huge"], "profile"),
    ("belief_vs_exact", ["--domains", "wind"], "--domains"),
    ("benchmark_agents", ["--bogus"], "--bogus"),
    ("benchmark_envs", ["--n", "0"], "--n"),
    ("benchmark_envs", ["--n", "-5"], "--n"),
    ("benchmark_mujoco_collect", ["--n", "-2"], "--n"),
    ("benchmark_mujoco_collect", ["--n", "3"], "--n"),
    ("benchmark_mujoco_collect", ["--iterations", "0"], "--iterations"),
    ("benchmark_mujoco_collect", ["--warmup-trials", "-1"], "--warmup-trials"),
    ("benchmark_mujoco_collect", ["--updates-per-iter", "-1"], "--updates-per-iter"),
    ("benchmark_mujoco_collect", ["--baseline-tasks", "0"], "--baseline-tasks"),
    ("benchmark_mujoco_collect", ["--domain", "mars"], "--domain"),
    ("benchmark_vae", ["--k", "0"], "--k"),
    ("benchmark_vae", ["--updates", "-1"], "--updates"),
    ("benchmark_reacher_image", ["--seconds", "0"], "--seconds"),
    ("benchmark_reacher_image", ["--seconds", "nan"], "--seconds"),
    ("benchmark_reacher_image", ["--eval-tasks", "0"], "--eval-tasks"),
    ("benchmark_reacher_image", ["--bogus"], "--bogus"),
    ("check_figures", ["--profile", "huge"], "--profile"),
    ("check_reproducible", ["--notebooks", "no_such_notebook.ipynb"], "--notebooks"),
    ("cheetah_tracking", ["--profile", "huge"], "--profile"),
    ("cheetah_tracking", ["--block", "0"], "--block"),
    ("headline", ["--profile", "huge"], "--profile"),
    ("migrate_results_tree", ["--profile", "huge"], "--profile"),
    ("probe_ant_collectors", ["--profile", "huge"], "--profile"),
    ("probe_ant_collectors", ["--iterations", "-10"], "--iterations"),
    ("probe_ant_collectors", ["--trials", "0"], "--trials"),
    ("probe_ant_collectors", ["--last", "0"], "--last"),
    ("probe_ant_collectors", ["--set", "no_such_field=1"], "no_such_field"),
    ("probe_ant_collectors", ["--set", "gamma=2"], "gamma"),
    ("probe_ant_collectors", ["--set", "alpha=nan"], "alpha"),
    ("probe_ant_gait", ["--iteration", "-1"], "--iteration"),
    ("probe_ant_gait", ["--iteration", "10", "--set", "no_such_field=1"], "no_such_field"),
    ("probe_ant_gait", ["--iteration", "10", "--set", "n_tasks=0"], "n_tasks"),
    ("probe_beliefs", ["--profile", "huge"], "profile"),
    ("probe_mbml", ["mars"], "domain"),
    ("probe_mbml", ["reacher_image"], "domain"),
    ("probe_mbml", ["semicircle", "--seed", "-1"], "--seed"),
    ("probe_mbml", ["semicircle", "--device", "tpu"], "argument --device"),
    ("probe_mbml", ["semicircle", "--context-size", "0"], "--context-size"),
    ("mbml_teachers", ["mars"], "domain"),
    ("mbml_teachers", ["semicircle", "--seed", "-1"], "--seed"),
    ("mbml_teachers", ["semicircle", "--mbml", "kl_beta=1"], "kl_beta"),
    ("mbml_teachers", ["semicircle", "--mbml", "bcq_lambda=2"], "bcq_lambda"),
    ("mbml_teachers", ["semicircle", "--mbml", "bcq_iterations=0"], "bcq_iterations"),
    ("mbml_teachers", ["semicircle", "--eval-every", "0"], "--eval-every"),
    ("mbml_teachers", ["semicircle", "--mbml", "heldout_trials=220"], "heldout_trials"),
    ("mbml_teachers", ["reacher_image"], "domain"),
    ("mbml_teachers", ["semicircle", "--last", "0"], "--last"),
    ("mbml_teachers", ["semicircle", "--last", "100000"], "--last"),
    ("mbml_teachers", ["semicircle", "--init-state", "everywhere"], "everywhere"),
    ("mbml_teachers", ["semicircle", "--device", "tpu"], "argument --device"),
    ("probe_online_exact", ["--data", "both"], "--data"),
    ("probe_online_exact", ["--data", "online", "--domain", "ant_semicircle"], "--domain"),
    ("probe_online_exact", ["--data", "online", "--profile", "huge"], "profile"),
    ("probe_online_exact", ["--data", "online", "--seed", "-1"], "--seed"),
    ("probe_online_exact", ["--data", "online", "--collect-every", "0"], "--collect-every"),
    ("probe_online_exact", ["--data", "online", "--warmup-trials", "-1"], "--warmup-trials"),
    ("probe_online_exact", ["--data", "online", "--eps-final", "2"], "--eps-final"),
    ("probe_online_exact", ["--data", "online", "--eps-final", "nan"], "--eps-final"),
    ("probe_online_exact", ["--data", "offline+online", "--online-fraction", "1.5"], "--online-fraction"),
    ("probe_policy_mode", ["semicircle", "--rl", "tau=2"], "tau"),
    ("probe_policy_mode", ["semicircle", "--seed", "-1"], "--seed"),
    ("probe_policy_mode", ["gridworld", "--belief", "exact"], "gridworld"),
    ("probe_q_values", ["--profile", "huge"], "profile"),
    ("probe_sac_gym_ant", ["--sac", "nope"], "--sac"),
    ("probe_sac_gym_ant", ["--set", "no_such_field=1"], "no_such_field"),
    ("probe_sac_gym_ant", ["--set", "tau=2"], "tau"),
    ("probe_sac_gym_ant", ["--steps", "0"], "--steps"),
    ("probe_sac_gym_ant", ["--random-steps", "-1"], "--random-steps"),
    ("probe_sac_gym_ant", ["--eval-episodes", "0"], "--eval-episodes"),
    ("probe_sac_gym_ant", ["--seeds", "-1"], "--seeds"),
    ("probe_sac_gym_ant", ["--device", "tpu"], "argument --device"),
    ("results_table", ["--profile", "huge"], "--profile"),
    ("gridworld_coverage", ["--profile", "huge"], "--profile"),
    ("gridworld_coverage", ["--seeds", "-1"], "--seeds"),
    ("gridworld_coverage", ["--profile", "quick"], "gridworld_exact_search"),
    ("ant_references", ["--seeds", "-1"], "--seeds"),
    ("ant_references", ["--variants", "centre"], "--variants"),
    ("ant_references", ["--n-tasks", "0"], "--n-tasks"),
    ("pearl_diagnostics", ["wind", "--profile", "huge"], "--profile"),
    ("pearl_diagnostics", ["semicircle", "--seeds", "-1"], "--seeds"),
    ("pearl_diagnostics", ["semicircle", "--pearl", "context_reward=x"], "context_reward"),
    ("pearl_diagnostics", ["semicircle", "--profile", "quick"], "no PEARL checkpoint"),
    ("identifiability_gap", ["--profile", "huge"], "--profile"),
    ("identifiability_gap", ["--seed", "-1"], "--seed"),
    ("identifiability_gap", ["--profile", "quick"], "datasets missing"),
    ("reacher_belief", ["--profile", "huge"], "--profile"),
    ("reacher_belief", ["--tasks", "0"], "--tasks"),
    ("reacher_exact_coverage", ["--near", "-1"], "--near"),
    ("reacher_exact_coverage", ["--profile", "huge"], "--profile"),
    ("reacher_references", ["--seeds", "-1"], "--seeds"),
    ("reacher_references", ["--n-tasks", "0"], "--n-tasks"),
    ("reacher_references", ["--kp", "0"], "--kp"),
    ("reacher_references", ["--kp", "nan"], "--kp"),
    ("probe_ant_goal_known", ["--variants", "medium"], "--variants"),
    ("probe_ant_goal_known", ["--updates", "0"], "--updates"),
    ("probe_ant_goal_known", ["--init-state", "middle"], "--init-state"),
    ("probe_ant_goal_known", ["--rl", "tau=2"], "tau"),
    ("probe_ant_goal_known", ["--device", "tpu"], "argument --device"),
    ("probe_ant_goal_known", ["--belief", "vae"], "--belief"),
    ("probe_ant_goal_known", ["--keep-tasks", "-1"], "--keep-tasks"),
    ("probe_offline_gym_ant", ["--variants", "iql"], "--variants"),
    ("probe_offline_gym_ant", ["--updates", "0"], "--updates"),
    ("probe_offline_gym_ant", ["--eval-every", "-1"], "--eval-every"),
    ("probe_offline_gym_ant", ["--set", "tau=2"], "tau"),
    ("probe_offline_gym_ant", ["--dataset", "/nonexistent/probe.pt"], "probe.pt"),
    ("probe_offline_gym_ant", ["--device", "tpu"], "argument --device"),
]
if torch.cuda.is_available():  # then cuda:99 may exist on a big node; cuda without a GPU is tested otherwise
    CASES = [c for c in CASES if c[1][-2:] != ["--device", "cuda:99"]]
CASES = [c for c in CASES if c[0] in ENTRY]

XFAIL: dict[tuple[str, str], str] = {}
"""``(command, ' '.join(argv))`` → reason: a missing check in a file another helper is editing."""


def _param(cmd: str, argv: list[str], name: str):
    reason = XFAIL.get((cmd, " ".join(argv)))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(cmd, argv, name, marks=marks, id=f"{cmd} {' '.join(argv)}")


@pytest.mark.parametrize(("cmd", "argv", "name"), [_param(*c) for c in CASES])
def test_a_bad_value_ends_in_one_error_line_before_any_work(sandbox, monkeypatch, capsys, cmd, argv, name):
    try:
        code = _call(cmd, argv, monkeypatch)
    except ReachedWork as stop:
        pytest.fail(f"the bad value reached the work: {stop}")
    except Exception as err:  # noqa: BLE001 - that is the finding: a raw traceback
        pytest.fail(f"raw traceback: {type(err).__name__}: {err}")
    out, err = capsys.readouterr()
    assert code == 2, f"exit code {code!r}; stderr: {err}"
    assert "Traceback" not in err
    line = _error_line(err)
    assert "error" in line.lower(), line
    assert name.lower() in line.lower(), f"does not name {name!r}: {line}"
    assert not any(sandbox.rglob("*")), f"written: {sorted(map(str, sandbox.rglob('*')))[:10]}"


VALID = [
    ("collect", ["semicircle", "--profile", "smoke", "--no-progress"]),
    ("pipeline", ["semicircle", "--profile", "smoke", "--no-progress"]),
    ("pearl", ["semicircle", "--profile", "smoke", "--no-progress"]),
    ("mbml", ["semicircle", "--profile", "smoke", "--no-progress"]),
    ("varibad_ppo", ["semicircle", "--profile", "smoke", "--no-progress"]),
    ("varibad_offpolicy", ["semicircle", "--profile", "smoke", "--no-progress"]),
]


@pytest.mark.parametrize(("cmd", "argv"), VALID, ids=[f"{c} {' '.join(a)}" for c, a in VALID])
def test_the_tripwire_fires_on_a_valid_call(sandbox, monkeypatch, cmd, argv):
    """The same call with good values reaches the training: the cases above can fail."""
    with pytest.raises(ReachedWork):
        _call(cmd, argv, monkeypatch)


def test_a_valid_listing_is_a_correct_result(sandbox, monkeypatch, capsys):
    assert _call("sweep", ["smoke", "--profile", "smoke", "--list"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) >= 1 and "todo" in out
    assert not any(sandbox.rglob("*"))


@pytest.mark.parametrize("argv", [
    ["-m", "borel_lib.pipeline", "semicircle", "--profile", "smoke", "--rl", "tau=2", "--vae", "epochs=3"],
    ["-m", "borel_lib.collect", "mars"],
], ids=["pipeline --rl tau=2", "collect mars"])
def test_end_to_end_in_a_subprocess(tmp_path, argv):
    env = {**os.environ, "BOREL_ROOT": str(tmp_path)}
    env.pop("BOREL_PROFILE", None)
    proc = subprocess.run([sys.executable, *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    line = _error_line(proc.stderr)
    assert re.search(r"tau|domain", line), line
    assert not any(tmp_path.rglob("*"))
