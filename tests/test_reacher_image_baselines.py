"""PEARL and MBML on Reacher-Image (issue 32): they see what BOReL's learnt parts see (the seed's frozen image
encoder, BOReL's, and the joint velocities; not the joint angles by default), run end to end from their command
lines at smoke scale, write their tables, and resume."""

import numpy as np
import pandas as pd
import pytest
import torch

from borel_lib.baselines.common import Inputs, evaluate, image_inputs
from borel_lib.baselines.mbml import MBMLConfig, MBMLTrainer
from borel_lib.baselines.pearl import PEARLConfig, PEARLTrainer
from borel_lib.config import ConfigError
from borel_lib.image_features import ANGLE_COLUMNS, STATE_DIM, ImageEncoderConfig, learnt_columns

F = ImageEncoderConfig.for_profile("smoke").features


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A fresh repository root: the smoke collection, encoder, checkpoints and tables of this module."""
    mp = pytest.MonkeyPatch()
    d = tmp_path_factory.mktemp("root")
    mp.setenv("BOREL_ROOT", str(d))
    yield d
    mp.undo()


@pytest.fixture(scope="module")
def observed(root):
    """(observed view, Inputs) of the smoke collection for seed 0, as both baselines get them."""
    return image_inputs("reacher_image", "smoke", 0, "cpu", progress=False)


def _moved(states: np.ndarray) -> np.ndarray:
    """Observed states with the joint angles' cos/sin changed, the image features and the rest kept."""
    x = np.array(states)
    x[..., :ANGLE_COLUMNS] = np.roll(x[..., :ANGLE_COLUMNS], 1, -1) + 0.37
    return x


def test_inputs_are_velocities_and_borels_features(observed, root):
    view, inputs = observed
    assert inputs.columns == learnt_columns(view.manifest) == list(range(ANGLE_COLUMNS, STATE_DIM + F + 1))
    assert inputs.fingerprint == view.fingerprint and inputs.dim(STATE_DIM) == STATE_DIM - ANGLE_COLUMNS + F
    states = np.asarray(view.obs[0, 0, :5])  # observed [state, features, flag]; Inputs see the raw states
    raw = np.concatenate([states[:, :STATE_DIM], states[:, -1:]], -1)
    np.testing.assert_allclose(inputs(raw), states[:, ANGLE_COLUMNS:-1], atol=1e-5)
    # one encoder, BOReL's folder for the seed: no second one is trained
    folders = [p.name for p in (root / "build" / "smoke" / "checkpoints").iterdir() if p.name.startswith("image_")]
    assert folders == ["image_reacher_image_fixed_seed0"]
    with pytest.raises(ValueError, match="needs inputs"):
        PEARLTrainer("reacher_image", PEARLConfig.for_domain("reacher_image", "smoke"))
    with pytest.raises(ValueError, match="observed view"):
        MBMLTrainer(view, MBMLConfig.for_domain("reacher_image", "smoke"))  # without its inputs


def _pearl_run(inputs: Inputs) -> tuple[PEARLTrainer, pd.DataFrame]:
    trainer = PEARLTrainer("reacher_image", PEARLConfig.for_domain("reacher_image", "smoke", iterations=1), 0,
                           inputs=inputs)
    return trainer, trainer.train(progress=False)


@pytest.mark.parametrize("proprio", ["velocities", "full"])
def test_pearl_sees_no_joint_angles(observed, proprio):
    """Training and evaluation with the joint angles changed in every observed state (the image features kept)
    give the same buffers, networks and returns under the default; with proprio='full' they differ."""
    view, inputs = observed
    columns = inputs.columns if proprio == "velocities" else None
    runs = [_pearl_run(Inputs(see, columns, "x")) for see in (inputs.observe, lambda s: _moved(inputs.observe(s)))]
    (a, rows_a), (b, rows_b) = runs
    assert a.obs_dim == (STATE_DIM - ANGLE_COLUMNS + F if columns else STATE_DIM + F)
    hidden = proprio == "velocities"
    t = int(np.argmax(a.rl_buffers.size))
    assert np.array_equal(a.rl_buffers.data[t]["obs"], b.rl_buffers.data[t]["obs"]) == hidden
    assert rows_a.equals(rows_b) == hidden
    same = all(torch.equal(p, q) for p, q in zip(a.agent.policy.parameters(), b.agent.policy.parameters()))
    assert same == hidden
    # the rewards are the true states': the same arm moves the same way whatever is seen of it
    assert np.array_equal(a.rl_buffers.data[t]["rewards"], b.rl_buffers.data[t]["rewards"]) == hidden


def test_pearl_resume_equals_uninterrupted(observed, tmp_path):
    _, inputs = observed
    cfg = PEARLConfig.for_domain("reacher_image", "smoke", iterations=2)
    assert (cfg.gamma, cfg.reward_scale, cfg.kl_lambda, cfg.rl_reward) == (0.99, 5.0, 0.1, "sparse")
    straight = PEARLTrainer("reacher_image", cfg, 3, inputs=inputs)
    rows_a = straight.train(tmp_path / "a.pt", progress=False)
    PEARLTrainer("reacher_image", cfg.replace(iterations=1), 3, inputs=inputs).train(tmp_path / "b.pt", progress=False)
    resumed = PEARLTrainer("reacher_image", cfg, 3, inputs=inputs)
    rows_b = resumed.train(tmp_path / "b.pt", progress=False)
    assert rows_a.equals(rows_b) and set(rows_a.episode) == {1, 2}
    for p, q in zip(straight.agent.policy.parameters(), resumed.agent.policy.parameters()):
        assert torch.equal(p, q)
    other = Inputs(inputs.observe, inputs.columns, "other features")
    with pytest.raises(ConfigError, match="other image features"):
        PEARLTrainer("reacher_image", cfg, 3, inputs=other).train(tmp_path / "b.pt", progress=False)


def test_mbml_sees_no_joint_angles_and_resumes(observed, tmp_path):
    from borel_lib.datasets import OfflineDataset

    view, inputs = observed
    cfg = MBMLConfig.for_domain("reacher_image", "smoke", checkpoint_every=1)
    assert cfg.tasks_per_step == 2 and MBMLConfig.for_domain("reacher_image", "quick").std_threshold == 0.005
    trainer = MBMLTrainer(view, cfg, 1, inputs=inputs)
    assert trainer.data.obs_dim == STATE_DIM - ANGLE_COLUMNS + F
    np.testing.assert_array_equal(trainer.data.train["obs"][0, :3], view.obs[0, 0, :3, ANGLE_COLUMNS:-1])
    arrays = {**view.arrays, "obs": _moved(view.obs), "next_obs": _moved(view.next_obs)}
    moved = OfflineDataset(path=view.path, manifest=view.manifest, arrays=arrays)
    for k, v in MBMLTrainer(moved, cfg, 1, inputs=inputs).data.train.items():
        np.testing.assert_array_equal(v, trainer.data.train[k])
    rows_a = trainer.train(tmp_path / "a.pt", progress=False)
    killed = MBMLTrainer(view, cfg, 1, inputs=inputs)
    original, calls = killed.distill_step, {"n": 0}

    def dying_step():
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original()

    killed.distill_step = dying_step
    with pytest.raises(KeyboardInterrupt):
        killed.train(tmp_path / "b.pt", progress=False)
    resumed = MBMLTrainer(view, cfg, 1, inputs=inputs)
    rows_b = resumed.train(tmp_path / "b.pt", progress=False)
    assert rows_a.equals(rows_b) and len(rows_a) > 0
    # evaluation: the same returns when every observed state's angles are changed (the features kept)
    tasks, start = trainer.eval_tasks[:2], trainer.agent.generator.get_state()  # its candidate actions' draws
    ev = []
    for see in (inputs.observe, lambda s: _moved(inputs.observe(s))):
        trainer.agent.generator.set_state(start)
        ev.append(evaluate(trainer.agent, "reacher_image", tasks, 0, 1, True, inputs=Inputs(see, inputs.columns)))
    assert ev[0].equals(ev[1]) and set(ev[0].episode) == {1, 2}


@pytest.mark.parametrize("module", ["pearl", "mbml"])
def test_commands_run_end_to_end_write_tables_and_resume(root, module, capsys):
    """``python -m borel_lib.baselines.<module> reacher_image --profile smoke`` runs, writes its table and
    trajectories, and a second run of the same command resumes the finished checkpoint (the same table)."""
    import importlib

    from borel_lib.results import read_results

    mod = importlib.import_module(f"borel_lib.baselines.{module}")
    argv = ["reacher_image", "--profile", "smoke", "--seed", "0", "--device", "cpu", "--no-progress"]
    assert mod.main(argv) == 0
    tag = mod.run_tag("reacher_image", 0) if module == "pearl" else mod.run_tag("reacher_image", 0, profile="smoke")
    first = read_results(tag, "smoke")
    assert {"best_return", "final_return", "best_success"} <= set(first.metric)
    traj = read_results(f"{tag}_traj", "smoke")
    assert {"x", "y", "reward"} <= set(traj.metric)  # the fingertip of the true states
    assert (traj[traj.metric == "x"].value.abs() <= 0.21 + 1e-6).all()
    assert mod.main(argv) == 0
    pd.testing.assert_frame_equal(read_results(tag, "smoke"), first)
    # --image names the run; image overrides on a state domain are refused before any work
    full = mod.run_tag("reacher_image", 0, **({} if module == "pearl" else {"profile": "smoke"}),
                       image=(("proprio", "full"),))
    assert full == tag.replace("_seed0", "_propriofull_seed0") != tag
    capsys.readouterr()
    assert mod.main(["semicircle", "--profile", "smoke", "--image", "proprio=full"]) == 2
    assert "image domains only" in capsys.readouterr().err


def test_goal_known_reacher_reference_goes_straight_to_the_target():
    """The scripted oracle (IK + joint PD on the true state): its IK puts the fingertip on the target, and run
    through BOReL's evaluation it reaches every target in both episodes, far above standing still."""
    from borel_lib.envs.reacher_image import fingertip
    from borel_lib.evaluation import evaluate
    from borel_lib.references.ant_scripted import KnownGoal
    from borel_lib.references.reacher_scripted import IKReacher, reacher_oracle, target_angles
    from borel_lib.tasks import eval_tasks

    tasks = eval_tasks("reacher_image", 0, 6)
    for q in target_angles(tasks):
        state = np.concatenate([np.cos(q), np.sin(q)], -1)  # [cos q1, cos q2, sin q1, sin q2]
        np.testing.assert_allclose(fingertip(state), tasks, atol=1e-9)
    ev = reacher_oracle(tasks)
    assert set(ev.episode) == {1, 2} and (ev[ev.metric == "success"].value == 1).all()

    class Still:
        def act(self, hyper):
            return np.zeros((len(hyper), 2), np.float32)

    still = evaluate(KnownGoal(tasks), Still(), "reacher_image", tasks)
    ret = {name: e[e.metric == "return"].value.mean() for name, e in (("oracle", ev), ("still", still))}
    assert ret["oracle"] > ret["still"] + 2, ret
    with pytest.raises(ValueError, match="kp"):
        IKReacher(kp=0)
