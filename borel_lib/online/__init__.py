"""Online meta-RL with the VariBAD belief (BOReL paper §6: "our off-policy method improves meta-RL in the
online setting"): the same belief VAE trained online from the agent's own trials, under two learners.

- :mod:`~borel_lib.online.varibad_ppo`: **on-policy VariBAD** (Zintgraf et al., ICLR 2020): PPO on the
  belief-augmented state, the official architecture, loss weighting and PPO settings as the ``paper``
  profile (``python -m borel_lib.online.varibad_ppo DOMAIN``). Its networks and PPO step are in
  :mod:`~borel_lib.online.ppo`.
- :mod:`~borel_lib.online.varibad_offpolicy`: **off-policy VariBAD online** (BOReL's online variant): the
  same belief with this project's DQN (Gridworld) or SAC (Semi-circle) trained from a replay of the agent's
  own trials, whose hyper-states are recomputed with the current encoder as the belief changes (state
  relabelling, as BOReL does offline) (``python -m borel_lib.online.varibad_offpolicy DOMAIN``).
- :mod:`~borel_lib.online.common`: what both share: the configuration of the budget, the evaluation and
  the belief VAE; VariBAD's ELBO; the buffer of whole trials.
- :mod:`~borel_lib.online.loop`: the training loop both run, with evaluation every N environment steps,
  CPU-time accounting, resumable checkpoints, the result table ``online_<method>_<domain>_seed<S>`` and the
  command line.

Both learners see the same environment-step budget at a profile, step ``n_envs`` tasks at once in one
:class:`~borel_lib.envs.batched.BatchedTrial` (a new task from the prior for every trial), and are
evaluated by :func:`borel_lib.evaluation.evaluate` (the paper's protocol) on the evaluation tasks of
:func:`borel_lib.pipeline.eval_tasks`, so their learning curves compare directly with each other and
with offline BOReL.
"""
