"""The paper's meta-RL baselines (§6): PEARL (online, Rakelly et al. 2019) and MBML (offline, Li et al. 2020),
with the probabilistic task encoder they share."""
