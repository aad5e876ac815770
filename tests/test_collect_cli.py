"""The collect command line: bad flags rejected before any work, stale state recoverable, one writer
per dataset (shared CLI helpers of borel_lib.cli)."""

import os
import shutil
import subprocess
import sys

import pytest
import torch

from borel_lib import cli
from borel_lib.collect import main
from borel_lib.results import result_path  # noqa: E402

SMOKE = ["semicircle", "--profile", "smoke", "--no-progress"]


@pytest.fixture()
def root(tmp_path, monkeypatch):
    """An empty repository root: everything the command writes lands here."""
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    return tmp_path


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


BAD = [
    (["mars"], "invalid choice: 'mars'"),
    (["semicircle", "--profile", "huge"], "invalid choice: 'huge'"),
    (["semicircle", "--init-state", "center"], "invalid choice: 'center'"),
    (["gridworld", "--init-state", "exclude_semicircle"], "init_state='exclude_semicircle' is not allowed"),
    (["semicircle", "--seed", "-1"], "0 <= seed < 2\\*\\*31"),
    (["semicircle", "--seed", str(2**31)], "0 <= seed < 2\\*\\*31"),
    (["semicircle", "--seed", "1.5"], "not an integer"),
    (["semicircle", "--n-tasks", "0"], "must be an integer >= 1"),
    (["semicircle", "--iterations", "-3"], "must be an integer >= 1"),
    (["semicircle", "--device", "tpu"], "--device: unknown device 'tpu'; allowed values"),
    (["semicircle", "--bogus"], "unrecognized arguments"),
]
if not torch.cuda.is_available():
    BAD.append((["semicircle", "--device", "cuda"], "--device: .*CUDA is not available"))


@pytest.mark.parametrize(("argv", "message"), BAD, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_bad_flags_are_rejected_before_any_work(root, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "error:" in last
    import re

    assert re.search(message, last), last
    assert _files(root) == []  # nothing on disk, not even an empty folder


def test_debug_shows_the_traceback(root):
    from borel_lib.config import ConfigError

    with pytest.raises(ConfigError):
        main(["gridworld", "--init-state", "exclude_semicircle", "--debug"])


def test_help_lists_defaults_choices_and_outputs(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for text in ("{smoke,quick,paper}", "uniform,exclude_semicircle,fixed", "outputs:", "data/datasets/",
                 "--restart", "0 <= seed < 2147483648"):
        assert text in out


def test_cli_types():
    assert cli.positive_int("3") == 3 and cli.non_negative_int("0") == 0 and cli.seed("0") == 0
    assert cli.non_negative_float("0.5") == 0.5
    for fn, bad in ((cli.positive_int, "0"), (cli.non_negative_int, "-1"), (cli.non_negative_float, "-0.1"),
                    (cli.non_negative_float, "inf"), (cli.seed, str(2**31)), (cli.seed, "x")):
        with pytest.raises(Exception, match="integer|number"):
            fn(bad)


def test_stale_state_is_named_and_restart_or_self_recovery_fix_it(root, capsys):
    assert main(SMOKE) == 0
    ds = root / "build/smoke/datasets/semicircle_uniform_seed0"
    ckpt = root / "build/smoke/checkpoints/semicircle_uniform_seed0"
    curves = result_path("collect_semicircle_uniform_seed0", "smoke", root / "build" / "smoke" / "results")
    reference = (ds / "rewards.npy").read_bytes()

    curves.unlink()  # killed just after the dataset was finalised: curves come back from the final checkpoint
    assert main(SMOKE) == 0 and curves.is_file()

    for f in ckpt.iterdir():  # finished dataset, but curves and checkpoint gone: collected again, same bytes
        f.unlink()
    ckpt.rmdir()
    curves.unlink()
    assert main(SMOKE) == 0 and curves.is_file() and (ds / "rewards.npy").read_bytes() == reference

    for f in ds.iterdir():  # dataset removed while its checkpoint stays: a clear error naming --restart
        f.unlink()
    ds.rmdir()
    curves.unlink()
    capsys.readouterr()
    before = _files(root)
    assert main(SMOKE) == 2
    err = capsys.readouterr().err
    assert str(ckpt) in err and "--restart" in err and "Traceback" not in err
    assert _files(root) == before
    assert main([*SMOKE, "--restart"]) == 0 and (ds / "rewards.npy").read_bytes() == reference

    # another number of iterations is a dataset of its own, which --extend continues from the shorter one
    # (left as it is); the extension equals collecting the longer one from the start
    longer, longer_ckpt = (root / f"build/smoke/{kind}/semicircle_uniform_it5_seed0" for kind in ("datasets", "checkpoints"))
    assert main([*SMOKE[:-1], "--iterations", "5", "--extend", "--no-progress"]) == 0
    extended = (longer / "rewards.npy").read_bytes()
    assert (ds / "rewards.npy").read_bytes() == reference and extended[:len(reference) // 2] != b""
    assert sorted(p.name for p in ckpt.glob("policies_iter*.pt")) < sorted(p.name for p in longer_ckpt.glob("policies_iter*.pt"))
    for folder in (longer, longer_ckpt):
        shutil.rmtree(folder)
    assert main([*SMOKE[:-1], "--iterations", "5", "--no-progress"]) == 0
    assert (longer / "rewards.npy").read_bytes() == extended
    assert main([*SMOKE[:-1], "--updates-per-iter", "2", "--no-progress"]) == 0
    assert (root / "build/smoke/datasets/semicircle_uniform_upi2_seed0").is_dir()
    # another number of tasks is a dataset of its own (a config mismatch under one name: test_collect.py)
    assert main([*SMOKE[:-1], "--iterations", "3", "--seed", "0", "--n-tasks", "3", "--no-progress"]) == 0
    assert (root / "build/smoke/datasets/semicircle_uniform_n3_seed0").is_dir() and (ds / "rewards.npy").is_file()
    assert main([*SMOKE[:-1], "--iterations", "3", "--no-progress", "--restart"]) == 0


def test_one_writer_per_dataset(root, capsys):
    lock = root / "build/smoke/datasets/.semicircle_uniform_seed0.lock"
    lock.parent.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.write_text(f"{sleeper.pid} another collect\n")
        before = _files(root)
        assert main(SMOKE) == 2
        err = capsys.readouterr().err
        assert f"pid {sleeper.pid}" in err and str(lock) in err
        assert _files(root) == before  # no checkpoint folder, no results
    finally:
        sleeper.kill()
        sleeper.wait()
    # the holder is gone (killed): its lock is stale and taken over; released at the end
    assert main(SMOKE) == 0 and not lock.exists()
    assert os.listdir(lock.parent) == ["semicircle_uniform_seed0"]
