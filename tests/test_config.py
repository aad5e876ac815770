"""Profiles and frozen-dataclass configs: resolution, presets, validation, JSON round trip."""

import dataclasses
import json

import pytest

from borel_lib.config import Config, ConfigError, check_choice, check_positive, resolve_profile


@dataclasses.dataclass(frozen=True)
class ToyConfig(Config):
    """A config for tests."""

    iterations: int = 300
    """Collection iterations (paper: 300)."""
    hidden: tuple[int, ...] = (32, 32)
    """Hidden layer sizes."""
    mode: str = "sparse"
    """Reward mode: sparse or dense."""

    PRESETS = {"smoke": {"iterations": 2, "hidden": (4,)}, "quick": {"iterations": 30}}

    def validate(self) -> None:
        check_positive(self.iterations, "iterations")
        check_choice(self.mode, "mode", ("sparse", "dense"))


def test_resolve_profile_sources(monkeypatch):
    monkeypatch.delenv("BOREL_PROFILE", raising=False)
    assert resolve_profile() == "quick"
    monkeypatch.setenv("BOREL_PROFILE", "smoke")
    assert resolve_profile() == "smoke"
    assert resolve_profile("paper") == "paper"  # explicit beats the environment
    assert resolve_profile(" Quick ") == "quick"


@pytest.mark.parametrize("bad", ["papr", "", "fast"])
def test_resolve_profile_rejects_unknown(bad):
    with pytest.raises(ConfigError, match="allowed values: smoke, quick, paper"):
        resolve_profile(bad)


def test_bad_profile_from_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("BOREL_PROFILE", "qiuck")
    with pytest.raises(ConfigError, match="BOREL_PROFILE"):
        resolve_profile()


def test_presets_and_overrides():
    assert ToyConfig.for_profile("paper").iterations == 300
    assert ToyConfig.for_profile("quick").iterations == 30
    smoke = ToyConfig.for_profile("smoke", mode="dense")
    assert (smoke.iterations, smoke.hidden, smoke.mode) == (2, (4,), "dense")
    assert smoke.diff_from_paper() == {"iterations": (300, 2), "hidden": ([32, 32], [4]), "mode": ("sparse", "dense")}


def test_unknown_field_and_bad_values_are_named():
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['iteratons'\].*iterations"):
        ToyConfig.for_profile("quick", iteratons=5)
    with pytest.raises(ConfigError, match="iterations=0 must be a finite number > 0"):
        ToyConfig(iterations=0)
    with pytest.raises(ConfigError, match="mode='medium'.*'sparse', 'dense'"):
        ToyConfig.for_profile("smoke").replace(mode="medium")


def test_frozen():
    cfg = ToyConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.iterations = 1  # type: ignore[misc]


def test_field_docs_and_json_round_trip(tmp_path):
    docs = ToyConfig.field_docs()
    assert docs["iterations"] == "Collection iterations (paper: 300)."
    assert all(docs.values()), "every field must have a docstring"
    cfg = ToyConfig.for_profile("smoke")
    path = cfg.save_json(tmp_path / "cfg.json", profile="smoke", command="make test")
    payload = json.loads(path.read_text())
    assert payload["profile"] == "smoke" and payload["command"] == "make test"
    assert payload["values"]["hidden"] == [4]
    assert ToyConfig.load_json(path) == cfg
    assert "iterations = 2" in cfg.describe()


def test_load_json_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="bad.json"):
        ToyConfig.load_json(bad)
    bad.write_text(json.dumps({"values": {"nope": 1}}))
    with pytest.raises(ConfigError, match="nope"):
        ToyConfig.load_json(bad)


def test_library_configs_document_every_field():
    """Every Config subclass in the library has one docstring per field (design card)."""
    import importlib
    import pkgutil

    import borel_lib

    for mod in pkgutil.walk_packages(borel_lib.__path__, "borel_lib."):
        try:
            module = importlib.import_module(mod.name)
        except ImportError:
            continue
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Config) and obj is not Config and obj.__module__ == mod.name:
                missing = [k for k, v in obj.field_docs().items() if not v]
                assert not missing, f"{obj.__qualname__}: fields without docstring: {missing}"


def test_upgrade_fills_fields_added_later_with_their_defaults():
    """A checkpoint written before a field existed still matches a config that leaves it at its default."""
    cfg = ToyConfig()
    old = {k: v for k, v in cfg.to_dict().items() if k != "iterations"}
    assert ToyConfig.upgrade(old) == cfg.to_dict()
    assert ToyConfig.upgrade(None) is None
    changed = dataclasses.replace(cfg, iterations=cfg.iterations + 1)
    assert ToyConfig.upgrade(old) != changed.to_dict()


@pytest.mark.parametrize("item, message", [
    ("tau=2", r"tau=2.0 must be in \(0, 1\]"),
    ("hidden=0", r"hidden=\(0,\) must be a non-empty tuple of layer sizes, each an integer >= 1"),
    ("hidden=64,0.5", r"--rl 'hidden=64,0.5': '64,0.5' is not a valid tuple"),  # refused while parsing
    ("cql_alpha=inf", "cql_alpha=inf must be a finite number"),
    ("cql_alpha=-1", "cql_alpha=-1.0 must be a finite number >= 0"),
    ("actor_lr=nan", "actor_lr=nan must be a finite number"),
    ("gamma=nan", "gamma=nan must be a finite number"),
    ("gamma=1", r"gamma=1.0 must be in \[0, 1\)"),
])
def test_offline_rl_values_that_make_no_sense_are_refused_before_any_work(item, message):
    from borel_lib.cli import parse_overrides
    from borel_lib.offline_rl import OfflineRLConfig

    with pytest.raises(ConfigError, match=message):
        OfflineRLConfig.for_domain("semicircle", "smoke", **parse_overrides([item], OfflineRLConfig, "rl"))
