"""BOReL on Semi-circle in one file (CleanRL-style): read this first, then the library.

Dorfman, Shenfeld & Tamar, "Offline Meta Reinforcement Learning – Identifiability Challenges and Effective
Data Collection Strategies", NeurIPS 2021. Sections 0-4 below are the offline pipeline in order: the logs
of N agents on N goals (§3.1) → a VariBAD belief VAE (§2, §3.2) trained with reward relabelling (§4) → state
relabelling into hyper-states (§3.2) → offline SAC on them (§3.2) → evaluation on unseen goals with the
paper's metric, the mean return over the first 2 episodes of a trial (§6). ``borel_lib`` does the same with
checkpoints, result tables, more domains and options; this file imports only its environment and dataset
reader, and ``tests/test_single_file.py`` checks that with the same seed and data every stage here gives
the library's numbers. The defaults are smoke sizes (seconds on a CPU); comments give the authors' values.

    python single_file/borel_semicircle.py [--dataset data/datasets/quick/semicircle_uniform_seed0] [--help]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math

import numpy as np
import torch
from torch import nn

from borel_lib.datasets import load_dataset  # the data side: a collected dataset (docs/datasets.md)
from borel_lib.envs import make_env  # the environment: Semi-circle's pure transition and reward


@dataclasses.dataclass(frozen=True)
class Args:
    dataset: str | None = None  # a collected Semi-circle dataset folder; None = collect a tiny random one
    seed: int = 0  # seeds the data, the VAE, SAC and the evaluation goals
    device: str = "auto"  # auto (CUDA if present), cpu or cuda
    n_tasks: int = 4  # random data only: training goals N (authors: 80)
    n_trials: int = 4  # random data only: trials per goal M
    reward_relabelling: bool = True  # §4; False = the paper's ablation "BOReL without RR"
    state_embed: int = 8  # encoder embedding of s' (authors: 32)
    action_embed: int = 4  # encoder embedding of a (authors: 16)
    reward_embed: int = 4  # encoder embedding of r (authors: 16)
    gru_hidden: int = 16  # GRU hidden size (authors: 128)
    latent_dim: int = 5  # dimension of the belief latent m (authors: 5)
    decoder_hidden: tuple[int, ...] = (8,)  # reward decoder layers (authors: 32,32)
    kl_weight: float = 0.05  # weight of the KL terms of the ELBO (authors: 0.05)
    vae_lr: float = 3e-4
    vae_epochs: int = 1  # authors: 100
    tasks_per_batch: int = 2  # VAE minibatch: tasks x trials per task (authors: 8 x 8)
    trials_per_task: int = 2
    hidden: tuple[int, ...] = (16, 16)  # SAC actor and critic layers (authors: 128,128)
    gamma: float = 0.9  # authors: 0.9
    alpha: float = 0.01  # SAC's fixed entropy weight (authors: 0.01)
    tau: float = 0.005  # soft target update
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    meta_batch: int = 2  # tasks per SAC update, with replacement (authors: 16)
    batch_per_task: int = 16  # transitions per task per update (authors: 256)
    updates: int = 4  # SAC updates (authors: 5,000,000)
    eval_every: int = 2
    time_input: bool = True  # add the trial's clock ((t mod H)/H, episode/k) to the hyper-state (authors: no)
    goal_terminal: bool = False  # cut the backup where the goal is reached (authors: yes)
    n_eval_tasks: int = 20  # unseen goals of the evaluation


def check_args(args: Args) -> None:
    """Bad input stops the run with one line naming the parameter and its allowed values."""
    cuda = args.device == "cuda" and torch.cuda.is_available()
    numbers = [f.name for f in dataclasses.fields(Args) if type(f.default) in (int, float)]
    rules = {name: (getattr(args, name) > 0, "> 0") for name in numbers}
    rules.update({"device": (args.device in ("auto", "cpu") or cuda, "auto, cpu, cuda (where CUDA is available)"),
                  "gamma": (0 <= args.gamma < 1, "in [0, 1)"), "tau": (0 < args.tau <= 1, "in (0, 1]"),
                  "seed": (args.seed >= 0, ">= 0"), "alpha": (args.alpha >= 0, ">= 0"),
                  "n_tasks": (bool(args.dataset) or args.n_tasks >= 2, ">= 2 (relabelling borrows)"),
                  "hidden": (min(args.hidden, default=0) >= 1, "layer sizes >= 1, e.g. 128,128"),
                  "decoder_hidden": (min(args.decoder_hidden, default=0) >= 1, "layer sizes >= 1, e.g. 32,32")})
    for name, (ok, allowed) in rules.items():
        if not ok:
            raise ValueError(f"{name}={getattr(args, name)!r}: allowed values are {allowed}")


# ------------------------------------------------------------------ 0. the offline data (§3.1)
def collect_random(env, args: Args) -> dict:
    """A tiny stand-in for the logs: N goals x M trials of random actions, each episode started uniformly in
    the authors' rectangle. ``borel_lib``'s layout: (N, M, T = k*H, ·), obs with an episode-end flag last."""
    rng = np.random.default_rng(args.seed)
    start_env = make_env("semicircle", init_state="uniform")
    k, H, N, M = env.episodes_per_trial, env.horizon, args.n_tasks, args.n_trials
    tasks = env.sample_tasks(N, rng)
    obs, next_obs = np.zeros((2, N, M, k * H, 3), np.float32)
    actions = rng.uniform(-1, 1, (N, M, k * H, 2)).astype(np.float32)
    rewards = np.zeros((N, M, k * H), np.float32)
    for e in range(k):
        s = np.stack([start_env.sample_init_state(rng, None) for _ in range(N * M)]).reshape(N, M, 2)
        for t in range(e * H, (e + 1) * H):
            s2 = env.transition(s, actions[:, :, t], tasks[:, None])
            rewards[:, :, t] = env.reward(s, actions[:, :, t], s2, tasks[:, None])
            obs[:, :, t, :2], next_obs[:, :, t, :2], next_obs[:, :, t, 2] = s, s2, float(t == (e + 1) * H - 1)
            s = s2
    return {"obs": obs, "actions": actions, "rewards": rewards, "next_obs": next_obs, "tasks": tasks}


def load_semicircle(path: str) -> dict:
    """A collected dataset (``python -m borel_lib.collect semicircle``) read into memory."""
    ds = load_dataset(path)
    if ds.manifest["domain"] != "semicircle":
        raise ValueError(f"dataset={path!r} holds domain {ds.manifest['domain']!r}; this script runs semicircle")
    return {**{key: np.array(ds.arrays[key], np.float32) for key in ("obs", "actions", "rewards", "next_obs")},
            "tasks": ds.tasks}


# ------------------------------------------------------------------ 1a. reward relabelling (§4)
def sample_trials(data: dict, env, ti: np.ndarray, mi: np.ndarray, rng, relabel: bool) -> dict:
    """Trials ``(ti[b], mi[b])``. With reward relabelling each of the first k/2 episodes is replaced by the
    same episode of a random trial of a random *other* task j, its rewards recomputed with task i's reward,
    r̂_{t+1} = R_i(s_t, a_t): task j's collection policy run on MDP i, policy replaying in hindsight (Prop. 3)."""
    batch = {key: data[key][ti, mi].copy() for key in ("obs", "actions", "rewards", "next_obs")}
    if not relabel:
        return batch
    N, M, k, H = *data["rewards"].shape[:2], env.episodes_per_trial, env.horizon
    for e in range(k // 2):
        other = rng.integers(0, N - 1, size=ti.size)
        other = other + (other >= ti)  # uniform over the tasks j != i
        other_trial = rng.integers(0, M, size=ti.size)
        sl = slice(e * H, (e + 1) * H)
        for key in ("obs", "actions", "next_obs"):
            batch[key][:, sl] = data[key][other, other_trial, sl]
        batch["rewards"][:, sl] = env.reward(batch["obs"][:, sl, :2], batch["actions"][:, sl],
                                             batch["next_obs"][:, sl, :2], data["tasks"][ti][:, None])
    return batch


# ------------------------------------------------------------------ 1b. the belief VAE (§2 VariBAD, §3.2)
def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1]))


class Encoder(nn.Module):
    """q(m | h_:t) = N(μ(h_:t), diag σ²(h_:t)): ReLU embeddings of (a_t, s_{t+1}, r_{t+1}) into a GRU that runs
    over the whole k-episode trial (never reset inside it), linear heads for μ and log σ². The prior q_0 is the
    heads on the zero hidden state."""

    def __init__(self, args: Args):
        super().__init__()
        self.state_emb = nn.Linear(3, args.state_embed)
        self.action_emb = nn.Linear(2, args.action_embed)
        self.reward_emb = nn.Linear(1, args.reward_embed)
        inputs = args.state_embed + args.action_embed + args.reward_embed
        self.gru = nn.GRU(inputs, args.gru_hidden, batch_first=True)
        for name, p in self.gru.named_parameters():  # orthogonal weights, zero biases (the authors')
            nn.init.orthogonal_(p) if "weight" in name else nn.init.zeros_(p)
        self.mu, self.logvar = nn.Linear(args.gru_hidden, args.latent_dim), nn.Linear(args.gru_hidden, args.latent_dim)

    def prior(self, n: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = torch.zeros(1, n, self.gru.hidden_size, device=device)
        return self.mu(h[0]), self.logvar(h[0]), h

    def step(self, h, actions, rewards, next_obs):
        """Feed transitions ``(B, T, ·)``: the posteriors after each, ``(B, T, latent)``, and the new state."""
        x = torch.cat([torch.relu(self.action_emb(actions)), torch.relu(self.state_emb(next_obs)),
                       torch.relu(self.reward_emb(rewards[..., None]))], -1)
        out, h = self.gru(x, h)
        return self.mu(out), self.logvar(out), h

    def trials(self, actions, rewards, next_obs) -> tuple[torch.Tensor, torch.Tensor]:
        """The belief after every prefix of whole trials: μ, log σ² ``(B, T + 1, latent)``, index 0 the prior."""
        mu0, lv0, h = self.prior(rewards.shape[0], rewards.device)
        mu, lv, _ = self.step(h, actions, rewards, next_obs)
        return torch.cat([mu0[:, None], mu], 1), torch.cat([lv0[:, None], lv], 1)


class RewardDecoder(nn.Module):
    """p(r | m, s'): a deterministic reward prediction from [z, ReLU(emb(s'))] (an MSE head)."""

    def __init__(self, args: Args):
        super().__init__()
        self.next_emb = nn.Linear(3, args.state_embed)
        self.net = mlp([args.latent_dim + args.state_embed, *args.decoder_hidden, 1])

    def forward(self, z, next_obs):
        return self.net(torch.cat([z, torch.relu(self.next_emb(next_obs))], -1))[..., 0]


class BeliefVAE(nn.Module):
    def __init__(self, args: Args):
        super().__init__()
        self.encoder, self.reward_decoder = Encoder(args), RewardDecoder(args)


def vae_loss(vae: BeliefVAE, batch: dict, kl_weight: float, gen: torch.Generator):
    """−ELBO summed over t = 0..T (§2): z_t ~ q(m | h_:t) by reparameterisation decodes *every* reward of the
    trial, past and future, E[log p(r_1..r_T | m)] ≈ −Σ_j (r̂(z_t, s_j) − r_j)² (mean over j), and the KL
    term is KL(q_t ‖ q_{t−1}) with q_{−1} = N(0, I). Returns (loss, reconstruction, KL), each a batch mean."""
    a, r, s2 = batch["actions"], batch["rewards"], batch["next_obs"]
    T = r.shape[1]
    mu, lv = vae.encoder.trials(a, r, s2)  # (B, T + 1, latent)
    z = mu + (0.5 * lv).exp() * torch.randn(mu.shape, generator=gen, device=mu.device)
    pred = vae.reward_decoder(z[:, :, None].expand(-1, -1, T, -1), s2[:, None].expand(-1, T + 1, -1, -1))
    recon = ((pred - r[:, None]) ** 2).sum((1, 2)) / T  # (B,): all T + 1 beliefs x T rewards
    mu_p = torch.cat([torch.zeros_like(mu[:, :1]), mu[:, :-1]], 1)
    lv_p = torch.cat([torch.zeros_like(lv[:, :1]), lv[:, :-1]], 1)
    kl = 0.5 * (lv_p - lv + (lv.exp() + (mu - mu_p) ** 2) / lv_p.exp() - 1).sum((1, 2))
    return (recon + kl_weight * kl).mean(), recon.mean(), kl.mean()


def to_torch(batch: dict, device) -> dict:
    return {key: torch.as_tensor(value, dtype=torch.float32, device=device) for key, value in batch.items()}


def train_vae(data: dict, env, args: Args, device) -> BeliefVAE:
    torch.manual_seed(args.seed)
    vae = BeliefVAE(args).to(device)
    optim = torch.optim.Adam(vae.parameters(), lr=args.vae_lr)
    rng, gen = np.random.default_rng(args.seed), torch.Generator(device=device).manual_seed(args.seed)
    N, M = data["rewards"].shape[:2]
    for epoch in range(args.vae_epochs):
        losses = []
        for _ in range(math.ceil(M / args.trials_per_task) * math.ceil(N / args.tasks_per_batch)):
            ti = np.repeat(rng.choice(N, size=min(args.tasks_per_batch, N), replace=False), args.trials_per_task)
            mi = rng.integers(0, M, size=ti.size)
            batch = sample_trials(data, env, ti, mi, rng, args.reward_relabelling)
            loss, recon, kl = vae_loss(vae, to_torch(batch, device), args.kl_weight, gen)
            optim.zero_grad()
            loss.backward()
            optim.step()
            losses.append([loss.item(), recon.item(), kl.item()])
        print(f"VAE epoch {epoch + 1}: loss, reconstruction, KL = {np.mean(losses, 0).round(4).tolist()}")
    return vae


# ------------------------------------------------------------------ 2. state relabelling (§3.2)
def hyper_state(obs, belief, t, k: int, H: int, time_input: bool) -> np.ndarray:
    """s⁺ = [s (with its episode-end flag), b, ((t mod H)/H, ⌊t/H⌋/k) if time_input]: the same vector in training
    and evaluation. The clock is part of the BAMDP's state: a Bayes-optimal policy depends on the time left."""
    parts = [obs, belief]
    if time_input:
        t = np.broadcast_to(t, obs.shape[:-1])
        parts.append(np.stack([(t % H) / H, (t // H) / k], -1).astype(np.float32))
    return np.concatenate(parts, -1)


@torch.no_grad()
def relabel_states(vae: BeliefVAE, data: dict, env, args: Args, device) -> dict:
    """s⁺_t = (s_t, b_t[, time_t]) with b_t = [μ, log σ²] of the frozen encoder run over each logged trial.
    The Bellman target needs the hyper-state the BAMDP moves to: inside an episode s_{t+1} = next_obs[t], but
    after an episode's last step it is the next episode's start state obs[t + 1]. The trial's end is terminal."""
    N, M, T = data["rewards"].shape
    k, H, steps = env.episodes_per_trial, env.horizon, np.arange(T + 1)
    out = {"obs": [], "next_obs": []}
    for i in range(N):  # one task at a time keeps memory flat
        x = to_torch({key: data[key][i] for key in ("actions", "rewards", "next_obs")}, device)
        mu, lv = vae.encoder.trials(x["actions"], x["rewards"], x["next_obs"])
        belief = torch.cat([mu, lv], -1).cpu().numpy()  # (M, T + 1, 2 * latent)
        nxt = np.concatenate([data["obs"][i][:, 1:], data["next_obs"][i][:, -1:]], 1)
        out["obs"].append(hyper_state(data["obs"][i], belief[:, :-1], steps[:-1], k, H, args.time_input))
        out["next_obs"].append(hyper_state(nxt, belief[:, 1:], steps[1:], k, H, args.time_input))
    dones = np.zeros((N, M, T), np.float32)
    dones[..., -1] = 1.0
    if args.goal_terminal:
        dones = np.maximum(dones, env.is_success(data["next_obs"][..., :2], data["tasks"][:, None, None]))
    return {"obs": np.stack(out["obs"]), "next_obs": np.stack(out["next_obs"]), "actions": data["actions"],
            "rewards": data["rewards"], "dones": dones}


# ------------------------------------------------------------------ 3. offline SAC on hyper-states (§3.2)
@torch.no_grad()
def authors_init(net: nn.Sequential, gen: torch.Generator, last_bound: float) -> None:
    """Hidden layers U(±1/√fan_in) with bias 0.1, the last layer U(±last_bound) (the authors' SAC)."""
    layers = [m for m in net if isinstance(m, nn.Linear)]
    for j, layer in enumerate(layers):
        last = j == len(layers) - 1
        bound = last_bound if last else 1.0 / math.sqrt(layer.in_features)
        w = torch.rand(layer.in_features, layer.out_features, generator=gen, device=gen.device)
        layer.weight.copy_((w * 2 * bound - bound).T)
        if last:
            b = torch.rand(layer.out_features, generator=gen, device=gen.device)
            layer.bias.copy_(b * 2 * bound - bound)
        else:
            layer.bias.fill_(0.1)


class SAC(nn.Module):
    """Soft actor-critic with twin Q, target critics and a fixed entropy weight α; actions in [-1, 1]²."""

    def __init__(self, obs_dim: int, args: Args, device):
        super().__init__()
        self.args, self.gen = args, torch.Generator(device=device).manual_seed(args.seed)
        self.actor = mlp([obs_dim, *args.hidden, 4])  # mean and log-std of a tanh-Gaussian
        self.q1, self.q2 = mlp([obs_dim + 2, *args.hidden, 1]), mlp([obs_dim + 2, *args.hidden, 1])
        self.to(device)
        for net, bound in ((self.actor, 1e-3), (self.q1, 3e-3), (self.q2, 3e-3)):
            authors_init(net, self.gen, bound)
        self.q1_target, self.q2_target = copy.deepcopy(self.q1), copy.deepcopy(self.q2)
        self.actor_optim = torch.optim.Adam(self.actor.parameters(), lr=args.actor_lr)
        self.critic_optim = torch.optim.Adam([*self.q1.parameters(), *self.q2.parameters()], lr=args.critic_lr)

    def sample(self, obs):
        """a = tanh(μ + σ ε), ε ~ N(0, I), and log π(a | s⁺) with the tanh change of variables."""
        mean, log_std = self.actor(obs).chunk(2, -1)
        log_std = log_std.clamp(-20.0, 2.0)
        eps = torch.randn(mean.shape, generator=self.gen, device=mean.device)
        action = torch.tanh(mean + log_std.exp() * eps)
        log_prob = (-0.5 * eps.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        return action, log_prob - torch.log1p(-action.pow(2) + 1e-6).sum(-1)

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> np.ndarray:  # the deterministic policy tanh(μ(s⁺)) of the evaluation
        x = torch.as_tensor(obs, dtype=torch.float32, device=self.gen.device)
        return torch.tanh(self.actor(x).chunk(2, -1)[0]).cpu().numpy()

    @staticmethod
    def q(q1, q2, obs, action):
        x = torch.cat([obs, action], -1)
        return q1(x)[..., 0], q2(x)[..., 0]

    def critic_target(self, b: dict) -> torch.Tensor:
        """y = r + γ (1 − done) (min_i Q̄_i(s'⁺, a') − α log π(a' | s'⁺)), a' ~ π(· | s'⁺): the soft Bellman
        target on hyper-states (Eq. 2 with the BAMDP's samples, Proposition 1)."""
        with torch.no_grad():
            a2, logp2 = self.sample(b["next_obs"])
            q_next = torch.minimum(*self.q(self.q1_target, self.q2_target, b["next_obs"], a2))
            return b["rewards"] + self.args.gamma * (1 - b["dones"]) * (q_next - self.args.alpha * logp2)

    def update(self, b: dict) -> dict:
        y = self.critic_target(b)
        q1, q2 = self.q(self.q1, self.q2, b["obs"], b["actions"])
        critic_loss = ((q1 - y) ** 2).mean() + ((q2 - y) ** 2).mean()
        self.critic_optim.zero_grad()
        critic_loss.backward()
        self.critic_optim.step()
        with torch.no_grad():  # Polyak averaging of the target critics after every critic step
            for target, source in ((self.q1_target, self.q1), (self.q2_target, self.q2)):
                for pt, p in zip(target.parameters(), source.parameters()):
                    pt.mul_(1 - self.args.tau).add_(p, alpha=self.args.tau)
        a, logp = self.sample(b["obs"])
        actor_loss = (self.args.alpha * logp - torch.minimum(*self.q(self.q1, self.q2, b["obs"], a))).mean()
        self.actor_optim.zero_grad()
        actor_loss.backward()
        self.actor_optim.step()
        return {"critic_loss": critic_loss.item(), "actor_loss": actor_loss.item()}


def sample_meta_batch(hs: dict, rng, args: Args, device) -> dict:
    """``meta_batch`` tasks drawn with replacement, ``batch_per_task`` uniform transitions of each (authors')."""
    N, M, T = hs["rewards"].shape
    ti = np.repeat(rng.integers(0, N, args.meta_batch), args.batch_per_task)
    mi, tt = rng.integers(0, M, ti.size), rng.integers(0, T, ti.size)
    return to_torch({key: value[ti, mi, tt] for key, value in hs.items()}, device)


# ------------------------------------------------------------------ 4. evaluation (§6)
@torch.no_grad()
def evaluate(vae: BeliefVAE, policy, env, tasks: np.ndarray, args: Args, device) -> np.ndarray:
    """Returns ``(n, k)``: one k-episode trial per goal, from the origin, with ``policy(hyper_states)``; the
    belief starts at the prior and is updated after every step, also across the episode boundary."""
    n, k, H = len(tasks), env.episodes_per_trial, env.horizon
    s = np.zeros((n, 2), np.float32)
    mu, lv, h = vae.encoder.prior(n, device)
    returns = np.zeros((n, k))
    for t in range(k * H):
        belief = torch.cat([mu, lv], -1).reshape(n, -1).cpu().numpy()  # b_t = [μ, log σ²]
        obs = np.concatenate([s, np.zeros((n, 1), np.float32)], -1)  # flag 0: a state the agent acts in
        hyper = hyper_state(obs, belief, np.array(t), k, H, args.time_input)
        a = np.asarray(policy(hyper), np.float32)
        s2 = env.transition(s, a, tasks)
        r = env.reward(s, a, s2, tasks).astype(np.float32)
        returns[:, t // H] += r
        end = (t + 1) % H == 0  # the episode's last step: flag the final state, then restart at the origin
        flagged = np.concatenate([s2, np.full((n, 1), float(end), np.float32)], -1)
        x = to_torch({"a": a, "r": r, "s2": flagged}, device)
        mu, lv, h = vae.encoder.step(h, x["a"][:, None], x["r"][:, None], x["s2"][:, None])  # (n, 1, latent)
        s = np.zeros((n, 2), np.float32) if end else s2
    return returns


def paper_metric(returns: np.ndarray, env) -> float:
    """§6: the mean return per episode over the first ``eval_episodes`` (2) episodes, averaged over goals."""
    return float(returns[:, : env.eval_episodes].mean())


def main(args: Args) -> tuple[float, BeliefVAE, SAC]:
    """The whole pipeline; returns the last evaluation's paper metric, the VAE and the agent."""
    check_args(args)
    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if use_cuda else "cpu")
    env = make_env("semicircle")
    data = load_semicircle(args.dataset) if args.dataset else collect_random(env, args)
    print(f"data: {data['rewards'].shape[0]} goals x {data['rewards'].shape[1]} trials, device {device}")
    vae = train_vae(data, env, args, device)
    hs = relabel_states(vae, data, env, args, device)
    sac = SAC(hs["obs"].shape[-1], args, device)
    rng = np.random.default_rng(args.seed)
    tasks = env.sample_tasks(args.n_eval_tasks, np.random.default_rng(args.seed + 10_000))  # unseen goals
    score = float("nan")
    for update in range(1, args.updates + 1):
        losses = sac.update(sample_meta_batch(hs, rng, args, device))
        if update % args.eval_every == 0 or update == args.updates:
            score = paper_metric(evaluate(vae, sac.act, env, tasks, args, device), env)
            print(f"SAC update {update}: {losses}, paper's metric (mean return, episodes 1-2) {score:.3f}")
    return score, vae, sac


def parse_args(argv: list[str] | None = None) -> Args:
    parser = argparse.ArgumentParser(description="BOReL on Semi-circle in one file (see the module docstring)")
    for f in dataclasses.fields(Args):
        d = f.default
        kind = ((lambda s: s.lower() in ("1", "true", "yes")) if isinstance(d, bool)
                else (lambda s: tuple(int(x) for x in s.split(","))) if isinstance(d, tuple)
                else str if d is None else type(d))
        parser.add_argument("--" + f.name.replace("_", "-"), type=kind, default=d)
    return Args(**vars(parser.parse_args(argv)))


if __name__ == "__main__":
    torch.set_num_threads(1)  # small networks: one thread is faster on a CPU (borel_lib's commands do the same)
    try:
        main(parse_args())
    except ValueError as err:  # bad input (an argument, a dataset): one line naming it, no traceback
        raise SystemExit(f"error: {err}") from None
