"""The baseline and sweep command lines follow the shared CLI rules of borel_lib.cli: every bad flag is
rejected before any work, as one ``error:`` line without a traceback, leaving nothing on disk, and
``--help`` lists defaults, allowed values and outputs. (collect and borel: test_collect_cli.py,
test_borel.py.)"""

import re

import pytest
import torch

from borel_lib import sweep
from borel_lib.baselines import mbml, pearl


@pytest.fixture()
def root(tmp_path, monkeypatch):
    """An empty repository root: everything a command writes lands here."""
    monkeypatch.setenv("BOREL_ROOT", str(tmp_path))
    monkeypatch.delenv("BOREL_PROFILE", raising=False)
    return tmp_path


SEED_AND_DEVICE = [
    (["--profile", "huge"], "invalid choice: 'huge'"),
    (["--seed", "-1"], r"0 <= seed < 2\*\*31"),
    (["--seed", "1.5"], "not an integer"),
    (["--device", "tpu"], "--device: unknown device 'tpu'; allowed values"),
    (["--bogus"], "unrecognized arguments"),
]
if not torch.cuda.is_available():
    SEED_AND_DEVICE.append((["--device", "cuda"], "--device: .*CUDA is not available"))

BAD = (
    [(pearl.main, ["semicircle", *argv], msg) for argv, msg in SEED_AND_DEVICE]
    + [(mbml.main, ["semicircle", *argv], msg) for argv, msg in SEED_AND_DEVICE]
    + [(pearl.main, ["mars"], "invalid choice: 'mars'"),
       (pearl.main, ["semicircle", "--iterations", "0"], "must be an integer >= 1"),  # not the default budget
       (mbml.main, ["gridworld"], "invalid choice: 'gridworld'"),
       (sweep.main, ["nogrid"], "invalid choice: 'nogrid'"),
       (sweep.main, ["smoke", "--profile", "huge"], "invalid choice: 'huge'"),
       (sweep.main, ["smoke", "--executor", "k8s"], "invalid choice: 'k8s'"),
       (sweep.main, ["smoke", "--max-parallel", "0"], "must be an integer >= 1"),
       (sweep.main, ["smoke", "--time-min", "-5"], "must be an integer >= 1"),
       (sweep.main, ["smoke", "--cpus-per-task", "0"], "must be an integer >= 1"),
       (sweep.main, ["smoke", "--gpus-per-node", "-1"], "must be an integer >= 0"),
       (sweep.main, ["smoke", "--mem-gb", "inf"], "must be a finite number >= 0")]
)


@pytest.mark.parametrize(("main", "argv", "message"), BAD,
                         ids=[f"{m.__module__.split('.')[-1]} {' '.join(a)}" for m, a, _ in BAD])
def test_bad_flags_are_rejected_before_any_work(root, capsys, main, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "error:" in last and re.search(message, last), last
    assert not any(root.rglob("*")), "a rejected command must leave nothing behind"


@pytest.mark.parametrize("main", [pearl.main, mbml.main, sweep.main], ids=["pearl", "mbml", "sweep"])
def test_bad_profile_from_the_environment_is_one_line(root, monkeypatch, capsys, main):
    monkeypatch.setenv("BOREL_PROFILE", "huge")
    assert main(["smoke" if main is sweep.main else "semicircle"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "BOREL_PROFILE" in err and "huge" in err, err
    assert not any(root.rglob("*"))


@pytest.mark.parametrize(("main", "texts"), [
    (pearl.main, ("{smoke,quick,paper}", "(default: 0)", "outputs:", "data/results/<profile>/baselines/<domain>/pearl", "--debug",
                  "cuda:N")),
    (mbml.main, ("{smoke,quick,paper}", "(default: 0)", "outputs:", "data/checkpoints/<profile>/mbml", "cuda:N")),
    (sweep.main, ("{local,slurm,debug}", "(default: 2)", "outputs:", "sweep_<grid>.csv", "build/sweeps/")),
], ids=["pearl", "mbml", "sweep"])
def test_help_lists_defaults_choices_and_outputs(capsys, main, texts):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for text in texts:
        assert text in out, text


def test_output_into_a_reader_that_stops_early_ends_quietly():
    """``python -m borel_lib.sweep table1 --list | head -1``: no BrokenPipeError traceback, exit 1."""
    import subprocess
    import sys

    code = ("import argparse\n"
            "from borel_lib.cli import main\n"
            "def run(args):\n"
            "    for i in range(200000):\n"
            "        print('cell', i)\n"
            "raise SystemExit(main(run, argparse.ArgumentParser(), []))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"cell 0\n"
    proc.stdout.close()  # the reader stops, as `head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
