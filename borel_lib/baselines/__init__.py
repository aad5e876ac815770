"""The paper's meta-RL baselines (§6): PEARL (online, Rakelly et al. 2019) and MBML (offline, Li et al. 2020),
with the probabilistic task encoder they share.

- :mod:`~borel_lib.baselines.common`: the shared evaluation protocol on unseen tasks, result tables and
  command line;
- :mod:`~borel_lib.baselines.task_encoder`: the permutation-invariant task encoder q(z | c);
- :mod:`~borel_lib.baselines.pearl` (``python -m borel_lib.baselines.pearl``): online meta-training, with
  the agent in :mod:`~borel_lib.baselines.pearl_agent`;
- :mod:`~borel_lib.baselines.mbml` (``python -m borel_lib.baselines.mbml``): offline training on BOReL's
  dataset, with the per-task BCQ teachers in :mod:`~borel_lib.baselines.bcq`, the reward ensembles and the
  distilled agent in :mod:`~borel_lib.baselines.mbml_models`, and the task-identification and
  where-it-loses checks in :mod:`~borel_lib.baselines.mbml_diagnostics`.
"""
