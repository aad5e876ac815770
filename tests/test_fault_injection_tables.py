"""Fault injection on the committed result tables (issue 35): a committed table cannot silently change a number.

One real committed table of every kind (a BOReL run, its ``_final`` and ``_traj`` tables, PEARL, MBML and a
baseline trajectory, a collection's learning curve, its trajectories and its policy-replay outcomes, an
online run, the VAE losses, a belief table, an analysis table, a sweep and a probe) is copied with its config
into a scratch results tree and corrupted the ways a file goes wrong: a NaN, an infinite or a non-numeric
value, an empty name, a non-integer seed, a duplicated row, a row with one field too many, a file cut in the
middle of a line or at a line end, a header only, an empty file, a renamed column, a truncated gzip stream,
an evaluation missing. :func:`borel_lib.results.read_table_file` must raise a one-line ``ValueError`` that
names the file, says what is wrong (the row where there is one) and ends with the command that regenerates
the table (from its config). The consumers that read tables (:func:`~borel_lib.results.borel_runs`,
:func:`~borel_lib.results.baseline_runs`, the README's tables, the figure readers, the headline table),
given the scratch tree, must raise too where the clean copy works.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest

from borel_lib.results import read_results, read_table_file, result_path

PROFILE = "quick"

TABLES: dict[str, str] = {
    "BOReL run": "borel_semicircle_uniform_reward_relabelling_seed0",
    "BOReL final evaluation": "borel_semicircle_uniform_reward_relabelling_seed0_final",
    "BOReL trajectory": "borel_semicircle_uniform_reward_relabelling_seed0_traj",
    "PEARL run": "pearl_semicircle_seed0",
    "MBML run": "mbml_semicircle_uniform_seed0",
    "baseline trajectory": "mbml_semicircle_uniform_seed0_traj",
    "collection learning curve": "collect_semicircle_uniform_seed0",
    "collection trajectory": "collect_semicircle_uniform_seed0_traj",
    "policy-replay outcomes": "collect_wind_uniform_seed0_policy_replay",
    "online run": "online_varibad_ppo_gridworld_seed0",
    "VAE losses": "vae_semicircle_uniform_reward_relabelling_seed0",
    "belief": "belief_vs_exact",
    "analysis": "references_semicircle_gridworld",
    "sweep": "sweep_table1",
    "probe": "probe_sac_gym_ant_calibrated_steps150000_seeds0-1",
}
"""One committed table of every kind."""


def _copy(name: str, root: Path) -> Path:
    """Copy committed table ``name`` and its config into the scratch results tree ``root``; its new path."""
    src, dst = result_path(name, PROFILE), result_path(name, PROFILE, root)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    shutil.copyfile(result_path(name, PROFILE, kind="config"), result_path(name, PROFILE, root, kind="config"))
    return dst


def _lines(path: Path) -> list[str]:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode().splitlines(keepends=True)


def _put(path: Path, text: str) -> None:
    data = text.encode()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)


def _set_field(path: Path, row: int, column: str, value: str) -> None:
    """Replace ``column`` of data row ``row`` (1 = the first after the header)."""
    lines = _lines(path)
    i = lines[0].rstrip("\n").split(",").index(column)
    fields = lines[row].rstrip("\n").split(",")
    fields[i] = value
    lines[row] = ",".join(fields) + "\n"
    _put(path, "".join(lines))


def _fix(name: str) -> str:
    """The end of every error message about table ``name``: the command that regenerates it."""
    command = json.loads(result_path(name, PROFILE, kind="config").read_text())["command"]
    return f"; regenerate it: `{command}`"


def _error(path: Path) -> str:
    with pytest.raises(ValueError) as info:
        read_table_file(path)
    message = str(info.value)
    assert "\n" not in message, f"a multi-line error: {message!r}"
    return message


@pytest.fixture(scope="module", params=list(TABLES), ids=list(TABLES))
def kind(request) -> str:
    return request.param


def test_every_committed_table_of_each_kind_reads_clean(kind, tmp_path):
    """The copies are valid (so each error below comes from the corruption), and read as pandas reads them."""
    import pandas as pd

    path = _copy(TABLES[kind], tmp_path)
    pd.testing.assert_frame_equal(read_table_file(path), pd.read_csv(path))


@pytest.mark.parametrize(("column", "value", "what"), [
    ("value", "", "column 'value' is NaN or empty"),
    ("value", "nan", "column 'value' is NaN or empty"),
    ("value", "inf", "column 'value' is infinite"),
    ("value", "-inf", "column 'value' is infinite"),
    ("value", "1.2.3", "column 'value' is not a number ('1.2.3')"),
    ("method", "", "column 'method' is empty"),
    ("metric", "", "column 'metric' is empty"),
    ("seed", "x", "column 'seed' is not an integer ('x')"),
    ("seed", "", "column 'seed' is empty"),
    ("episode", "1.5", "column 'episode' is not an integer (1.5)"),
], ids=["empty value", "nan", "inf", "-inf", "not a number", "empty method", "empty metric", "text seed",
        "empty seed", "fractional episode"])
def test_a_bad_field_names_the_file_and_the_row(kind, tmp_path, column, value, what):
    name = TABLES[kind]
    path = _copy(name, tmp_path)
    _set_field(path, 3, column, value)
    assert _error(path) == f"{path}: row 3: {what}{_fix(name)}"


KEY_INTEGERS: dict[str, str] = {"BOReL run": "updates", "BOReL final evaluation": "task", "BOReL trajectory": "t",
                                "PEARL run": "iteration", "MBML run": "iteration", "baseline trajectory": "task",
                                "collection learning curve": "trial", "collection trajectory": "t",
                                "policy-replay outcomes": "trial", "online run": "iteration", "VAE losses": "epoch",
                                "sweep": "cell"}
"""A key column of each kind's own schema (beyond the tidy columns)."""


def test_a_bad_key_column_of_the_kind_is_refused(kind, tmp_path):
    if kind not in KEY_INTEGERS:
        pytest.skip(f"{kind}: no key column beyond the tidy ones (every column but value is its key)")
    name, column = TABLES[kind], KEY_INTEGERS[kind]
    path = _copy(name, tmp_path)
    _set_field(path, 2, column, "")
    assert _error(path) == f"{path}: row 2: column {column!r} is empty{_fix(name)}"
    path = _copy(name, tmp_path)
    lines = _lines(path)
    _put(path, lines[0].replace(f",{column},", ",renamed,").replace(f",{column}\n", ",renamed\n") + "".join(lines[1:]))
    assert _error(path).startswith(f"{path}: missing column(s) [{column!r}]; a ")


def test_a_duplicated_row_names_both_rows(kind, tmp_path):
    name = TABLES[kind]
    path = _copy(name, tmp_path)
    lines = _lines(path)
    _put(path, "".join(lines[:4] + [lines[3]] + lines[4:]))  # row 4 repeats row 3
    message = _error(path)
    assert re.fullmatch(rf"{re.escape(str(path))}: row 4: duplicated: its key columns \(domain, method, variant, seed, "
                        rf"episode, metric[^)]*\) repeat row 3{re.escape(_fix(name))}", message), message


def test_a_row_with_a_field_too_many_does_not_parse(kind, tmp_path):
    name = TABLES[kind]
    path = _copy(name, tmp_path)
    lines = _lines(path)
    lines[2] = lines[2].rstrip("\n") + ",1,2\n"
    _put(path, "".join(lines))
    assert _error(path).startswith(f"{path}: does not parse as CSV (Error tokenizing data.")


def test_a_file_cut_in_a_line_is_truncated(kind, tmp_path):
    name = TABLES[kind]
    path = _copy(name, tmp_path)
    text = "".join(_lines(path))
    _put(path, text[: len(text) - 4])
    assert _error(path) == f"{path}: truncated (its last line has no line end){_fix(name)}"


def test_a_header_only_an_empty_file_and_a_renamed_column_are_refused(kind, tmp_path):
    name = TABLES[kind]
    path = _copy(name, tmp_path)
    header = _lines(path)[0]
    _put(path, header)
    assert _error(path) == f"{path}: no rows (a header only){_fix(name)}"
    path.write_bytes(b"")
    assert _error(path) == f"{path}: empty file (0 bytes){_fix(name)}"
    _put(path, "\n")
    assert _error(path).startswith(f"{path}: does not parse as CSV (No columns to parse from file)")
    path = _copy(name, tmp_path)
    lines = _lines(path)
    _put(path, lines[0].replace("metric", "metrics", 1) + "".join(lines[1:]))
    assert _error(path).startswith(f"{path}: missing column(s) ['metric']; a ")


def test_a_truncated_gzip_stream_is_refused(kind, tmp_path):
    name = TABLES[kind]
    path = _copy(name, tmp_path)
    if path.suffix != ".gz":
        pytest.skip(f"{kind}: a plain CSV")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert _error(path) == (f"{path}: not a whole gzip file (Compressed file ended before the end-of-stream marker "
                            f"was reached){_fix(name)}")
    path.write_bytes(data[:-4])  # the stream whole, the length trailer cut
    assert _error(path).startswith(f"{path}: not a whole gzip file (")


CUT_AT_A_LINE_END: dict[str, str] = {
    "BOReL run": "updates 40000 has 2 return/success rows, updates 2000 has 4",
    "BOReL final evaluation": "task 18 has 10 rows, task 0 has 11",
    "BOReL trajectory": "task 19 has 478 rows, task 0 has 480",
    "baseline trajectory": "task 19 has 478 rows, task 0 has 480",
    "collection learning curve": "iteration 99 has 238 return/success rows, iteration 0 has 240",
    "collection trajectory": "task 7 has",
    "VAE losses": "epoch 59 has 2 rows, epoch 1 has 3",
}
"""What the reader says when the last two lines are cut at a line end. The kinds not listed end with rows that no
per-evaluation count sees (PEARL's final_* rows, MBML's task-identification rows, the online runs' training
losses, a single evaluation, a table without a step): there ``tests/test_results_manifest.py`` (the committed
files' checksums) is what catches a cut."""


def test_a_file_cut_at_a_line_end_misses_rows(kind, tmp_path):
    if kind not in CUT_AT_A_LINE_END:
        pytest.skip(f"{kind}: the reader cannot see two lines cut at a line end; the manifest can")
    name = TABLES[kind]
    path = _copy(name, tmp_path)
    _put(path, "".join(_lines(path)[:-2]))
    message = _error(path)
    assert message.startswith(f"{path}: {CUT_AT_A_LINE_END[kind]}"), message
    assert message.endswith(f"(a truncated table?){_fix(name)}") and "rows are missing" in message


def test_an_evaluation_missing_from_a_run_is_refused_from_its_config(tmp_path):
    """A BOReL run holds the evaluations its config (updates, eval_every) makes; with one of them dropped whole
    (no count of rows can see that) the reader says which; a collection, every iteration; a VAE, every epoch; a
    baseline, its last."""
    name = TABLES["BOReL run"]
    path = _copy(name, tmp_path)
    lines = _lines(path)
    _put(path, "".join(line for line in lines if not line.rstrip("\n").endswith(",4000")))
    assert _error(path) == (f"{path}: evaluations at updates 2000, 6000, 8000, 10000, 12000 … (19), but its config "
                            f"(updates 40000, eval_every 2000) makes 20; missing: 4000{_fix(name)}")
    name = TABLES["collection learning curve"]
    path = _copy(name, tmp_path)
    _put(path, "".join(line for line in _lines(path) if not line.rstrip("\n").endswith(",99")))
    assert _error(path) == (f"{path}: iterations -1, 0, 1, 2, 3 … (100), but its config (iterations 100) makes "
                            f"0 .. 99; missing: 99{_fix(name)}")
    name = TABLES["VAE losses"]
    path = _copy(name, tmp_path)
    _put(path, "".join(line for line in _lines(path) if not line.rstrip("\n").endswith(",60")))
    assert _error(path) == (f"{path}: epochs 1, 2, 3, 4, 5 … (59), but its config (epochs 60) makes 1 .. 60; "
                            f"missing: 60{_fix(name)}")
    name = TABLES["PEARL run"]
    path = _copy(name, tmp_path)
    _put(path, "".join(line for line in _lines(path) if ",100,159600" not in line))
    assert _error(path) == (f"{path}: last evaluation at iteration 95, but its config (iterations 100) ends at 100"
                            f"{_fix(name)}")


def test_a_broken_config_beside_a_table_is_refused(tmp_path):
    name = TABLES["BOReL run"]
    path = _copy(name, tmp_path)
    config = result_path(name, PROFILE, tmp_path, kind="config")
    config.write_text(config.read_text()[:-20])
    assert _error(path).startswith(f"{config}: not valid JSON (")


def test_read_results_and_a_missing_table(tmp_path):
    name = TABLES["analysis"]
    path = _copy(name, tmp_path)
    assert len(read_results(name, PROFILE, tmp_path)) > 0
    _set_field(path, 1, "value", "")
    with pytest.raises(ValueError, match=re.escape(f"{path}: row 1: column 'value' is NaN or empty")):
        read_results(name, PROFILE, tmp_path)
    with pytest.raises(FileNotFoundError, match="no such result table"):
        read_table_file(tmp_path / "gridworld_exact.csv")


# ---- the consumers: given a scratch tree with a corrupted table they raise, they do not change a number ----


def _corrupt(path: Path) -> None:
    _set_field(path, 2, "value", "nan")


def test_borel_and_baseline_runs_refuse_a_corrupted_table(tmp_path):
    from borel_lib.results import baseline_runs, borel_runs, results_table_markdown

    run = _copy(TABLES["BOReL run"], tmp_path)
    final = _copy(TABLES["BOReL final evaluation"], tmp_path)
    pearl = _copy(TABLES["PEARL run"], tmp_path)
    refs = _copy(TABLES["analysis"], tmp_path)
    assert len(borel_runs(PROFILE, tmp_path)) == 1 and len(baseline_runs(PROFILE, tmp_path)) == 1
    assert "semicircle_uniform_reward_relabelling" in results_table_markdown(PROFILE, tmp_path)
    for path, read in ((final, borel_runs), (run, borel_runs), (pearl, baseline_runs), (refs, results_table_markdown)):
        clean = path.read_bytes()
        _corrupt(path)
        with pytest.raises(ValueError, match=re.escape(f"{path}: row 2: column 'value' is NaN or empty")):
            read(PROFILE, tmp_path)
        path.write_bytes(clean)


def test_the_figure_readers_refuse_a_corrupted_table(tmp_path):
    from borel_lib.figures import common, gridworld_semicircle, mujoco, online
    from borel_lib.pipeline import RunSpec

    spec = RunSpec("semicircle", PROFILE, seed=0)
    assert f"borel_{spec.tag}" == TABLES["BOReL run"]
    paths = {kind: _copy(TABLES[kind], tmp_path) for kind in ("BOReL run", "BOReL final evaluation", "online run",
                                                              "probe", "analysis")}
    paths["gridworld"] = _copy(f"borel_{RunSpec('gridworld', PROFILE, seed=0).tag}", tmp_path)
    readers = {
        "analysis": lambda: common.references(PROFILE, tmp_path),
        "BOReL final evaluation": lambda: common.run_table(spec, "final", tmp_path),
        "online run": lambda: online.online_tables(PROFILE, tmp_path, seeds=[0]),
        "probe": lambda: mujoco.sac_calibration(PROFILE, tmp_path),
        "BOReL run": lambda: gridworld_semicircle.borel_learning_curves(PROFILE, tmp_path, seeds=[0]),
    }
    import matplotlib

    matplotlib.use("Agg")
    for kind, read in readers.items():
        out = read()  # the clean copy works
        if isinstance(out, matplotlib.figure.Figure):
            matplotlib.pyplot.close(out)
        clean = paths[kind].read_bytes()
        _corrupt(paths[kind])
        with pytest.raises(ValueError, match=re.escape(f"{paths[kind]}: row 2: column 'value' is NaN or empty")):
            read()
        paths[kind].write_bytes(clean)


def test_the_headline_table_refuses_a_corrupted_table(tmp_path):
    from borel_lib.headline import headline_table

    path = _copy(TABLES["collection learning curve"], tmp_path)
    assert headline_table(PROFILE, tmp_path, figures=tmp_path).ours.str.contains("40 agents").any()
    _put(path, "".join(_lines(path)[:-2]))
    with pytest.raises(ValueError, match=re.escape(f"{path}: iteration 99 has 238 return/success rows")):
        headline_table(PROFILE, tmp_path, figures=tmp_path)
