"""Rename the committed BOReL runs of one domain after a profile default moved, so that every run's name and
recorded command still reproduce it.

A run's name carries only the settings it overrode (``wind_uniform_policy_replay_ep50_u60000_seed0``); its
config beside the table holds every resolved value. When a profile's default changes (say Wind's quick VAE
epochs 10 → 50 and SAC updates 20k → 60k), the runs made with the old default would keep a name and a
command that now mean the new one, and the runs that overrode the new value by hand would keep a long name
for what is now the default. This script reads each run's *resolved* values of the named fields and
re-derives its overrides under today's defaults: a value equal to today's default is dropped, any other is
written out. So ``..._policy_replay_seed0`` made at 10 epochs becomes ``..._policy_replay_ep10_u20000_seed0``
and ``..._policy_replay_ep50_u60000_seed0`` becomes ``..._policy_replay_seed0``. Everything named after the
run moves with it: its table, ``_final`` and ``_traj`` tables and their configs (``results``, ``command``
and the recorded overrides rewritten, the table bytes unchanged), its VAE's loss table ``vae_<vae tag>``
(several runs may share one), and, where present, their checkpoint folders (so a killed run still resumes).
Moves go through temporary names, so two runs can swap names; a rerun finds nothing to do.

Usage: python scripts/rename_preset_runs.py DOMAIN --profile quick --fields vae.epochs rl.updates [--dry-run]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from borel_lib.io import write_text
from borel_lib.offline_rl import RL_DOMAIN
from borel_lib.paths import checkpoints_dir, results_dir
from borel_lib.pipeline import RunSpec
from borel_lib.results import find_results, result_name, result_path

STAGES = {"vae": "vae", "rl": "offline_rl"}
"""Field prefix on the command line → the section of a run's config that holds that stage's resolved values."""
COMPANIONS = ("", "_final", "_traj")
"""The results a BOReL run writes under its own name (``borel_<tag><suffix>``)."""


def parse_fields(fields: list[str]) -> list[tuple[str, str]]:
    """``["vae.epochs", "rl.updates"]`` → ``[("vae", "epochs"), ("rl", "updates")]``; a bad entry is one error."""
    out = []
    for item in fields:
        stage, _, name = item.partition(".")
        if stage not in STAGES or not name:
            raise ValueError(f"--fields {item!r}: write STAGE.FIELD with STAGE one of {', '.join(STAGES)} "
                             "(e.g. vae.epochs, rl.updates)")
        out.append((stage, name))
    return out


def renamed_spec(spec: RunSpec, values: dict[str, Any], fields: list[tuple[str, str]]) -> RunSpec:
    """``spec`` with the overrides of ``fields`` re-derived from the run's resolved config ``values``: dropped
    where the resolved value is today's default, written out where it is not."""
    base = dataclasses.replace(spec, rl=(), vae=())
    defaults = {"vae": base.vae_config().to_dict() if spec.belief == "vae" else None, "rl": base.rl_config().to_dict()}
    over = {"vae": dict(spec.vae), "rl": dict(spec.rl)}
    for stage, name in fields:
        if defaults[stage] is None:
            continue  # an exact-belief run has no VAE
        section = values.get(STAGES[stage]) or {}
        if name not in section or name not in defaults[stage]:
            raise ValueError(f"{spec.tag}: field {stage}.{name} is not in the run's config or today's "
                             f"{STAGES[stage]} config")
        resolved = section[name]
        if resolved == defaults[stage][name]:
            over[stage].pop(name, None)
        else:
            over[stage][name] = tuple(resolved) if isinstance(resolved, list) else resolved
    return dataclasses.replace(spec, vae=tuple(sorted(over["vae"].items())), rl=tuple(sorted(over["rl"].items())))


def _vae_table(spec: RunSpec, resolved: dict[str, Any], root: Path) -> str | None:
    """The name of the VAE loss table the run trained on: among its seed's and relabelling's VAE tables, the one
    whose config holds the run's resolved VAE values (``None`` if no table is committed)."""
    pattern = f"vae_{spec.domain}_{spec.init_state}_{spec.relabelling}*_seed{spec.seed}"
    found = [p for p in find_results(pattern, spec.profile, root, kind="config")
             if json.loads(p.read_text(encoding="utf-8")).get("values") == resolved]
    if len(found) > 1:
        raise ValueError(f"borel_{spec.tag}: its VAE's values are in {len(found)} tables ({found[0].name}, "
                         f"{found[1].name}); keep one")
    return result_name(found[0]) if found else None


def plan(domain: str, profile: str, fields: list[tuple[str, str]], root: Path) -> list[dict[str, Any]]:
    """One entry per run whose name changes: its old name, its new spec and its VAE table's old name. A run's
    recorded overrides are read under today's defaults (an override equal to one is already dropped), so its
    old name is its file's."""
    out = []
    for path in find_results(f"borel_{domain}_*", profile, root, kind="config"):
        saved = json.loads(path.read_text(encoding="utf-8"))
        run = saved.get("values", {}).get("run")
        if not run or path.name.endswith(("_final.config.json", "_traj.config.json")) or run.get("profile") != profile:
            continue
        spec = RunSpec.from_config(run)
        new = renamed_spec(spec, saved["values"], fields)
        old = result_name(path)[len("borel_"):]
        if new.tag != old:
            vae = _vae_table(spec, saved["values"]["vae"], root) if spec.belief == "vae" else None
            out.append({"old": old, "new": new, "vae": vae})
    return out


def _rewrite(text: str, old_name: str, new_name: str, command: str, spec: RunSpec | None) -> str:
    data = json.loads(text)
    data["results"] = data["results"].replace(old_name, new_name, 1)
    data["command"] = command
    run = data.get("values", {}).get("run")
    if spec is not None and run is not None:
        run["vae"] = [list(p) for p in spec.vae]
        run["rl"] = [list(p) for p in spec.rl]
    return json.dumps(data, indent=2, sort_keys=True) + ("\n" if text.endswith("\n") else "")


def rename(domain: str, profile: str, fields: list[str], root: Path | None = None, checkpoints: Path | None = None,
           dry_run: bool = False) -> list[tuple[str, str]]:
    """Rename ``domain``'s runs of ``profile`` (module docstring); return the (old, new) result names moved."""
    if domain not in RL_DOMAIN:
        raise ValueError(f"domain {domain!r}: allowed values: {', '.join(sorted(RL_DOMAIN))}")
    parsed = parse_fields(fields)
    root = Path(root) if root is not None else results_dir(profile, create=False)
    checkpoints = Path(checkpoints) if checkpoints is not None else checkpoints_dir(profile)
    runs = plan(domain, profile, parsed, root)
    names: dict[str, tuple[str, str, RunSpec | None]] = {}  # old result name -> (new name, command, spec or None)
    for r in runs:
        old, new = r["old"], r["new"]
        for suffix in COMPANIONS:
            names[f"borel_{old}{suffix}"] = (f"borel_{new.tag}{suffix}", new.command, new)
        if r["vae"] is not None and r["vae"] != f"vae_{new.vae_tag}":
            key, target = r["vae"], f"vae_{new.vae_tag}"
            if key in names and names[key][0] != target:
                raise ValueError(f"{key}: runs sharing this VAE would rename it to {names[key][0]} and {target}")
            if key not in names or len(new.command) < len(names[key][1]):  # the shortest command that retrains it
                names[key] = (target, new.command, None)
    moves = []  # (source file, destination file, new text or None)
    for old_name, (new_name, command, spec) in sorted(names.items()):
        for kind in ("table", "config"):
            src = result_path(old_name, profile, root, kind=kind)
            if not src.is_file():
                continue
            dest = result_path(new_name, profile, root, kind=kind)
            text = _rewrite(src.read_text(encoding="utf-8"), old_name, new_name, command, spec) if kind == "config" else None
            moves.append((src, dest, text))
    ck_moves = [(checkpoints / old, checkpoints / new) for old, (new, _, _) in sorted(names.items())
                if (checkpoints / old).is_dir()]
    sources = {s for s, _, _ in moves} | {s for s, _ in ck_moves}
    clash = [str(d) for _, d, _ in moves if d.exists() and d not in sources] + \
            [str(d) for _, d in ck_moves if d.exists() and d not in sources]
    if clash:
        raise ValueError(f"would overwrite {clash[0]}, which no run being renamed owns; move it away first")
    if dry_run:
        return sorted((o, n) for o, (n, _, _) in names.items())
    staged = []
    for src, dest, text in moves:  # phase 1: every source to a temporary name beside it
        tmp = src.with_name(src.name + ".renaming")
        if text is not None:
            write_text(tmp, text)
            src.unlink()
        else:
            os.replace(src, tmp)
        staged.append((tmp, dest))
    for src, dest in ck_moves:
        tmp = src.with_name(src.name + ".renaming")
        os.replace(src, tmp)
        staged.append((tmp, dest))
    for tmp, dest in staged:  # phase 2: to the new names
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
    for src, _, _ in moves:  # configuration folders left empty
        try:
            src.parent.rmdir()
        except OSError:
            pass
    return sorted((o, n) for o, (n, _, _) in names.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("domain", help="domain whose runs to rename (e.g. wind)")
    parser.add_argument("--profile", default="quick", help="profile whose results tree to rename in (default quick)")
    parser.add_argument("--fields", nargs="+", required=True, metavar="STAGE.FIELD",
                        help="the fields whose default moved, e.g. vae.epochs rl.updates")
    parser.add_argument("--dry-run", action="store_true", help="print the renames, move nothing")
    args = parser.parse_args(argv)
    try:
        moved = rename(args.domain, args.profile, args.fields, dry_run=args.dry_run)
    except ValueError as err:
        print(f"rename_preset_runs: {err}", file=sys.stderr)
        return 2
    for old, new in moved:
        print(f"{old} -> {new}")
    print(f"{len(moved)} result names {'to rename' if args.dry_run else 'renamed'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
