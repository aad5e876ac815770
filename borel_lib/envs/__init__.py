"""The seven domains of the paper (§6) as Gymnasium task families under the ``borel/`` namespace.

``gymnasium.make("borel/SemiCircle-v0")`` gives one MDP episode (time limit H);
:func:`make_trial` gives the BAMDP trial of k episodes with the episode-end flag (the form every
stage of BOReL uses). Importing ``borel_lib.envs`` registers the ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from borel_lib.envs.base import INIT_STATE_OPTIONS, BAMDPTrial, TaskEnv


@dataclass(frozen=True)
class DomainInfo:
    """Registry entry of one domain."""

    name: str
    """Short name used in configs, file names and result tables."""
    env_id: str
    """The Gymnasium id."""
    entry_point: str
    """``module:Class`` of the single-episode environment."""
    horizon: int
    """H, steps per episode."""


DOMAINS: dict[str, DomainInfo] = {
    d.name: d
    for d in (
        DomainInfo("gridworld", "borel/Gridworld-v0", "borel_lib.envs.gridworld:GridworldEnv", 15),
        DomainInfo("semicircle", "borel/SemiCircle-v0", "borel_lib.envs.point_robot:SemiCircleEnv", 60),
        DomainInfo("wind", "borel/Wind-v0", "borel_lib.envs.point_robot:WindEnv", 75),
        DomainInfo("escape_room", "borel/EscapeRoom-v0", "borel_lib.envs.point_robot:EscapeRoomEnv", 60),
        DomainInfo("ant_semicircle", "borel/AntSemiCircle-v0", "borel_lib.envs.ant:AntSemiCircleEnv", 200),
        DomainInfo("cheetah_vel", "borel/HalfCheetahVel-v0", "borel_lib.envs.cheetah:HalfCheetahVelEnv", 200),
        DomainInfo("reacher_image", "borel/ReacherImage-v0", "borel_lib.envs.reacher_image:ReacherImageEnv", 50),
    )
}
"""All domains by short name, in the paper's order."""


def register_all() -> None:
    """Register every ``borel/`` id with Gymnasium (idempotent)."""
    for info in DOMAINS.values():
        if info.env_id not in gym.registry:
            gym.register(id=info.env_id, entry_point=info.entry_point, max_episode_steps=info.horizon)


def domain_info(name_or_id: str) -> DomainInfo:
    """Look a domain up by short name or Gymnasium id; a clear error lists the allowed names."""
    for info in DOMAINS.values():
        if name_or_id in (info.name, info.env_id):
            return info
    raise ValueError(f"unknown domain {name_or_id!r}; allowed: {', '.join(DOMAINS)} (or their borel/ ids)")


def make_env(name_or_id: str, **kwargs: Any) -> TaskEnv:
    """The bare single-episode environment (no time limit, no checker wrappers)."""
    info = domain_info(name_or_id)
    return gym.make(info.env_id, **kwargs).unwrapped


def make_trial(name_or_id: str, episodes: int | None = None, **kwargs: Any) -> BAMDPTrial:
    """The BAMDP trial of ``episodes`` (default: the paper's k) episodes of one task."""
    return BAMDPTrial(make_env(name_or_id, **kwargs), episodes=episodes)


register_all()

__all__ = ["DOMAINS", "INIT_STATE_OPTIONS", "BAMDPTrial", "DomainInfo", "TaskEnv", "domain_info",
           "make_env", "make_trial", "register_all"]
