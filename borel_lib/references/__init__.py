"""References with known answers, to measure BOReL against (not trained from data): the exact Gridworld
values (Bayes-optimal, Thompson sampling), the exact belief, scripted agents and transition-level references."""
