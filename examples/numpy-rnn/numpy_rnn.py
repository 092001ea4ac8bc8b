"""
A vanilla RNN and an LSTM in plain NumPy, with backpropagation through time written by hand,
the way course exercises write them (min-char-rnn style): a loop over time that fills per-step
caches, then a loop backwards that carries dh_next (and dc_next). Float64, a batch dimension,
one layer, a linear head at every step (many-to-many) or at the last one (many-to-one).

Weights are in the course's own layout:
    RNN   Wxh [H, D], Whh [H, H], bh [H]
    LSTM  Wx [4H, D], Wh [4H, H], b [4H]   (gate blocks i, f, g, o)
    head  Why [O, H], by [O]
so a step computes  Wxh @ x + Whh @ h + bh  for one column x (here: x @ Wxh.T for a batch of rows).

Set NUMPY_RNN_BUG to plant a typical student bug (or pass --bug NAME to adapter.py):
    forget-carry  LSTM: the cell-state gradient passed back without the forget gate (dc_next = dc)
    truncate      RNN and LSTM: each output's gradient goes back at most 4 steps (bptt_truncate,
                  as in a well-known tutorial; NUMPY_RNN_TRUNCATE sets it)
    loss-scale    the loss summed over the batch instead of averaged
    gate-order    LSTM: the gates read in the order i, f, o, g from blocks that hold i, f, c, o
    classic (or 1) the RNN forgets the tanh derivative on the recurrent path, the LSTM uses c_t
                  instead of c_{t-1} in the forget gate's derivative (not in rnnlab's catalogue)
Only gate-order changes the forward pass.
"""
import os

import numpy as np

BUGS = ("forget-carry", "truncate", "loss-scale", "gate-order", "classic")
BUG = {"1": "classic"}.get(os.environ.get("NUMPY_RNN_BUG", ""), os.environ.get("NUMPY_RNN_BUG") or None)
TRUNCATE = int(os.environ.get("NUMPY_RNN_TRUNCATE", "4"))


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


class RNN:
    """h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)"""

    names = ["Wxh", "Whh", "bh"]

    def forward(self, p, x, h0):
        B, T, _ = x.shape
        hs = {-1: h0}  # hs[t]: [B, H]
        for t in range(T):
            hs[t] = np.tanh(x[:, t] @ p["Wxh"].T + hs[t - 1] @ p["Whh"].T + p["bh"])
        return hs, {"x": x, "hs": hs}

    def backward(self, p, cache, dh_out):
        """dh_out[t]: dLoss/dh_t from the head. Returns grads, dh_t per step (total), dh0."""
        x, hs = cache["x"], cache["hs"]
        T = x.shape[1]
        g = {n: np.zeros_like(p[n]) for n in self.names}
        if BUG == "truncate":
            return self.backward_truncated(p, cache, dh_out, TRUNCATE)
        dh_next = np.zeros_like(hs[0])
        dhs = [None] * T
        for t in reversed(range(T)):
            dh = dh_out[t] + dh_next  # the total gradient reaching h_t
            dhs[t] = dh
            draw = (1 - hs[t] ** 2) * dh  # through tanh
            g["Wxh"] += draw.T @ x[:, t]
            g["Whh"] += draw.T @ hs[t - 1]
            g["bh"] += draw.sum(0)
            dh_next = (dh if BUG == "classic" else draw) @ p["Whh"]
        return g, dhs, {"h": dh_next}

    def backward_truncated(self, p, cache, dh_out, k):
        """The tutorial's truncated BPTT: output t's gradient goes back through steps t, t-1, ..., t-k only."""
        x, hs = cache["x"], cache["hs"]
        T = x.shape[1]
        g = {n: np.zeros_like(p[n]) for n in self.names}
        dhs = [np.zeros_like(hs[0]) for _ in range(T)]
        dh0 = np.zeros_like(hs[0])
        for t in reversed(range(T)):
            delta = dh_out[t]
            for s in range(t, max(-1, t - k - 1), -1):
                dhs[s] = dhs[s] + delta
                draw = (1 - hs[s] ** 2) * delta
                g["Wxh"] += draw.T @ x[:, s]
                g["Whh"] += draw.T @ hs[s - 1]
                g["bh"] += draw.sum(0)
                delta = draw @ p["Whh"]
                if s == 0:
                    dh0 = dh0 + delta
        return g, dhs, {"h": dh0}


# which block of the fused [4H] pre-activations each gate is read from: rnnlab's (Keras's) i, f, c, o,
# or the i, f, o, g many NumPy LSTMs use
ORDER_IFGO = {"i": 0, "f": 1, "g": 2, "o": 3}
ORDER_IFOG = {"i": 0, "f": 1, "o": 2, "g": 3}


class LSTM:
    """i, f, o = sigmoid(.), g = tanh(.);  c_t = f c_{t-1} + i g;  h_t = o tanh(c_t)"""

    names = ["Wx", "Wh", "b"]

    def forward(self, p, x, h0, c0):
        B, T, _ = x.shape
        H = h0.shape[1]
        hs, cs, gates = {-1: h0}, {-1: c0}, {}
        # the blocks of the fused weights, in the order this code reads the gates
        G = ORDER_IFOG if BUG == "gate-order" else ORDER_IFGO
        for t in range(T):
            a = x[:, t] @ p["Wx"].T + hs[t - 1] @ p["Wh"].T + p["b"]  # [B, 4H]
            blk = [a[:, k * H:(k + 1) * H] for k in range(4)]
            i, f = sigmoid(blk[G["i"]]), sigmoid(blk[G["f"]])
            g, o = np.tanh(blk[G["g"]]), sigmoid(blk[G["o"]])
            cs[t] = f * cs[t - 1] + i * g
            hs[t] = o * np.tanh(cs[t])
            gates[t] = (i, f, g, o)
        return hs, {"x": x, "hs": hs, "cs": cs, "gates": gates}

    def step_back(self, p, cache, t, dh, dc_next):
        """One step back: the gradient of step t's pre-activations [B, 4H] and of c_{t-1}."""
        x, hs, cs, gates = cache["x"], cache["hs"], cache["cs"], cache["gates"]
        i, f, g, o = gates[t]
        tc = np.tanh(cs[t])
        do = dh * tc
        dc = dc_next + dh * o * (1 - tc ** 2)
        di, dg = dc * g, dc * i
        df = dc * (cs[t] if BUG == "classic" else cs[t - 1])
        d = {"i": di * i * (1 - i), "f": df * f * (1 - f), "g": dg * (1 - g ** 2), "o": do * o * (1 - o)}
        G = ORDER_IFOG if BUG == "gate-order" else ORDER_IFGO
        da = np.concatenate([d[k] for k in sorted(G, key=G.get)], axis=1)  # back into the blocks the gates were read from
        return da, (dc if BUG == "forget-carry" else dc * f)

    def backward(self, p, cache, dh_out):
        x, hs, cs = cache["x"], cache["hs"], cache["cs"]
        T = x.shape[1]
        g_ = {n: np.zeros_like(p[n]) for n in self.names}
        dhs = [np.zeros_like(hs[0]) for _ in range(T)]

        def accumulate(t, da):
            g_["Wx"] += da.T @ x[:, t]
            g_["Wh"] += da.T @ hs[t - 1]
            g_["b"] += da.sum(0)

        if BUG == "truncate":
            # output t's gradient goes back through steps t, ..., t - k only (h and c alike)
            d0 = {"h": np.zeros_like(hs[0]), "c": np.zeros_like(cs[0])}
            for t in reversed(range(T)):
                dh, dc = dh_out[t], np.zeros_like(cs[0])
                for s in range(t, max(-1, t - TRUNCATE - 1), -1):
                    dhs[s] = dhs[s] + dh
                    da, dc = self.step_back(p, cache, s, dh, dc)
                    accumulate(s, da)
                    dh = da @ p["Wh"]
                    if s == 0:
                        d0 = {"h": d0["h"] + dh, "c": d0["c"] + dc}
            return g_, dhs, d0
        dh_next, dc_next = np.zeros_like(hs[0]), np.zeros_like(cs[0])
        for t in reversed(range(T)):
            dh = dh_out[t] + dh_next
            dhs[t] = dh
            da, dc_next = self.step_back(p, cache, t, dh, dc_next)
            accumulate(t, da)
            dh_next = da @ p["Wh"]
        return g_, dhs, {"h": dh_next, "c": dc_next}


def head(p, hs, many_to_many):
    """Logits at every step [B, T, O], or at the last one [B, 1, O]; and the steps they read."""
    T = len(hs) - 1
    steps = list(range(T)) if many_to_many else [T - 1]
    H_top = np.stack([hs[t] for t in steps], 1)  # [B, S, H]
    return H_top @ p["Why"].T + p["by"], H_top, steps


def head_and_loss(p, hs, y, many_to_many, loss):
    """Logits of the head, the loss (mean over positions) and dLoss/dh_t per step."""
    T = len(hs) - 1
    z, H_top, steps = head(p, hs, many_to_many)  # z [B, S, O]
    B, S, O = z.shape
    if loss == "softmaxCrossEntropy":
        yy = y.reshape(B, S)
        zmax = z.max(-1, keepdims=True)
        logsumexp = zmax[..., 0] + np.log(np.exp(z - zmax).sum(-1))
        picked = np.take_along_axis(z, yy[..., None], -1)[..., 0]
        n = S if BUG == "loss-scale" else B * S  # the loss-scale bug: summed over the batch, averaged over time
        L = (logsumexp - picked).sum() / n
        dz = np.exp(z - logsumexp[..., None])
        np.put_along_axis(dz, yy[..., None], np.take_along_axis(dz, yy[..., None], -1) - 1, -1)
        dz /= n
    else:
        d = z - y.reshape(B, S, O)
        n = S * O if BUG == "loss-scale" else B * S * O
        L = (d ** 2).sum() / n
        dz = 2 * d / n
    dWhy = np.einsum("bso,bsh->oh", dz, H_top)
    dby = dz.sum((0, 1))
    dh_top = dz @ p["Why"]  # [B, S, H]
    dh_out = [np.zeros_like(hs[0]) for _ in range(T)]
    for k, t in enumerate(steps):
        dh_out[t] = dh_top[:, k]
    logits = z if many_to_many else z[:, 0]
    return logits, L, {"Why": dWhy, "by": dby}, dh_out


class SGD:
    def __init__(self, lr):
        self.lr = lr
        self.slots = {}

    def update(self, p, g):
        for n in p:
            p[n] -= self.lr * g[n]


class Adam:
    """tfjs's Adam: p -= lr * m_hat / (sqrt(v_hat) + eps)."""

    def __init__(self, lr, beta1, beta2, eps):
        self.lr, self.b1, self.b2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.slots = {"m": {}, "v": {}}

    def update(self, p, g):
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for n in p:
            m = self.slots["m"].setdefault(n, np.zeros_like(p[n]))
            v = self.slots["v"].setdefault(n, np.zeros_like(p[n]))
            m[...] = self.b1 * m + (1 - self.b1) * g[n]
            v[...] = self.b2 * v + (1 - self.b2) * g[n] * g[n]
            p[n] -= (self.lr * (m / c1)) / (np.sqrt(v / c2) + self.eps)
