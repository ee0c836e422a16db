/**
 * optim.py, shared by every kind: recur's optimizers and learning-rate callback in PyTorch.
 * Python kept as written (String.raw): no backquote, no dollar-brace.
 */

export const OPTIM = String.raw`"""recur's optimizers and learning-rate callback in PyTorch: Adam, RMSprop (with ε inside the square root, as Keras
and TensorFlow.js, or outside, as recur's 'outside'), Adagrad and SGD; ReduceLROnPlateau and EarlyStopping."""
import math

import torch


class RMSpropInside(torch.optim.Optimizer):
    """RMSprop with ε inside the square root, as Keras and TensorFlow.js: Δ = ηg/√(v + ε)."""

    def __init__(self, params, lr, rho=0.9, eps=1e-7):
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps})

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if "v" not in st:
                    st["v"] = torch.zeros_like(p)
                v = st["v"]
                v.mul_(g["rho"]).addcmul_(p.grad, p.grad, value=1 - g["rho"])
                p.addcdiv_(p.grad, (v + g["eps"]).sqrt(), value=-g["lr"])


class AdagradInside(torch.optim.Optimizer):
    """Adagrad as Keras and TensorFlow.js: a ← a + g² (a₀ = 0.1), Δ = ηg/√(a + ε)."""

    def __init__(self, params, lr, initial=0.1, eps=1e-7):
        super().__init__(params, {"lr": lr, "initial": initial, "eps": eps})

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if "a" not in st:
                    st["a"] = torch.full_like(p, g["initial"])
                a = st["a"]
                a.addcmul_(p.grad, p.grad)
                p.addcdiv_(p.grad, (a + g["eps"]).sqrt(), value=-g["lr"])


def make_optimizer(settings, params):
    name = settings["optimizer"]
    lr = settings["learningRate"]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-7)
    if name == "rmsprop":
        if settings.get("rmspropEpsilon", "inside") == "outside":
            # PyTorch's RMSprop adds ε outside the square root, as recur's 'outside'.
            return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7)
        return RMSpropInside(params, lr=lr)
    if name == "adagrad":
        return AdagradInside(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    raise SystemExit(f"train.py: optimizer {name} is not exported")


class ReduceLROnPlateau:
    """recur's (Keras's): after 'patience' epochs without an improvement of more than min_delta, lr ← max(lr·factor,
    min_lr)."""

    def __init__(self, factor=0.2, patience=1, min_lr=0.001, min_delta=1e-4):
        self.factor, self.patience, self.min_lr, self.min_delta = factor, patience, min_lr, min_delta
        self.wait, self.best = 0, math.inf

    def step(self, value, optimizer):
        if value < self.best - self.min_delta:
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            for g in optimizer.param_groups:
                if g["lr"] > self.min_lr:
                    g["lr"] = max(g["lr"] * self.factor, self.min_lr)
                    self.wait = 0
`;
