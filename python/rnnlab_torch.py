"""
rnnlab's PyTorch engine (docs/engines.md): the protocol through rnnlab_engine.py, the model in torch.

Parameters live in PyTorch's layout, as the parameters of an nn.RNN / nn.LSTM / nn.GRU module
(weight_ih_l{k} [G*H, in], weight_hh_l{k} [G*H, H], bias_ih_l{k}, bias_hh_l{k}; gate blocks
i,f,g,o for the LSTM and r,z,n for the GRU) plus the head as nn.Linear's weight [O, H] and bias [O].
rnnlab's canonical (Keras) layout is converted at the boundary only: set/get params, gradients and
optimizer state. The canonical RNN/LSTM has one bias, so bias_hh stays at zero and is not trained.

Two ways through a batch:
  - the module itself (nn.RNN, nn.LSTM, nn.GRU) where it computes rnnlab's function: no mask, no
    per-step gradients, sigmoid gates, and for the GRU the reset-after form;
  - the same cells written with torch ops in a loop over time, with autograd, for the rest:
    masks (a masked step keeps the state), hardSigmoid gates, the reset-before GRU (tfjs's), and
    per-step gradients dLoss/dh_t (each h_t keeps its gradient).
The optimizers are tfjs's formulas written out in torch in scratch/optim.ts's order of operations
(torch.optim's Adam and RMSprop place epsilon differently).

Encoder-decoders (init with "model": "seq2seq", docs/engines.md "Encoder-decoder models") are
TorchSeq2Seq: the same modules for the encoder (over the packed source) and the decoder, the same
torch-ops loop where they do not compute rnnlab's function, attention in torch ops. TorchAdapter
holds whichever model the last init asked for.
"""
import math
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from rnnlab_engine import Unsupported, serve  # noqa: E402

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def blas_name():
    """Which BLAS this process loaded (Debian's torch calls libblas.so.3, an alternative)."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1]
                if "blas" in os.path.basename(p).lower():
                    libs.add(os.path.realpath(p))
    except OSError:
        return "BLAS unknown"
    if any("openblas" in p for p in libs):
        kind = "pthread" if any("pthread" in p for p in libs) else "openmp" if any("openmp" in p for p in libs) else ""
        return "OpenBLAS" + (" (%s)" % kind if kind else "")
    if any("mkl" in p for p in libs):
        return "MKL"
    if any("blis" in p for p in libs):
        return "BLIS"
    if libs:
        return "reference BLAS (slow: install libopenblas0-pthread)"
    return "torch's own BLAS"


def pt_order(cell):
    """PyTorch gate block k holds canonical block ORDER[k] (GRU: r,z,n <- z,r,h)."""
    return [1, 0, 2] if cell == "gru" else list(range(GATES[cell]))


def to_pt_blocks(a, H, order):
    """Canonical [.., G*H] columns -> PyTorch block order along the last axis."""
    return np.concatenate([a[..., k * H:(k + 1) * H] for k in order], axis=-1)


def from_pt_blocks(a, H, order):
    out = np.empty_like(a)
    for k, src in enumerate(order):
        out[..., src * H:(src + 1) * H] = a[..., k * H:(k + 1) * H]
    return out


def check_names(p, want):
    """Exactly the names of `want` ({name: shape}), each of its shape: one line naming what is not."""
    missing = [n for n in want if n not in p]
    extra = [n for n in p if n not in want]
    bad = ["%s has shape %s, expected %s" % (n, list(p[n].shape), list(want[n])) for n in want if n in p and tuple(p[n].shape) != want[n]]
    if missing or extra or bad:
        raise ValueError("; ".join(x for x in ["missing " + ", ".join(missing) if missing else "", "unexpected " + ", ".join(extra) if extra else ""] + bad if x))


def hard_sigmoid(x):
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


class TorchBase:
    """What the sequence model and the encoder-decoder share: one recurrent step with torch ops on a
    module's parameters (PyTorch layout and gate order), the canonical <-> PyTorch layout of one
    layer, and the optimizer (tfjs's formulas, clipping first)."""

    def setup_cell(self, s):
        self.cell = s["cell"]
        self.G = GATES[self.cell]
        self.order = pt_order(self.cell)
        self.reset_after = self.cell == "gru" and s["gruResetAfter"]
        self.gate = torch.sigmoid if s["recurrentActivation"] == "sigmoid" else hard_sigmoid
        self.act = torch.tanh if s["activation"] == "tanh" else torch.relu

    def module(self, n_in, H, L, bi):
        """nn.RNN / nn.LSTM / nn.GRU of rnnlab's cell; bias_hh is trained only by the reset-after GRU (canonical bias row 1)."""
        kw = dict(input_size=n_in, hidden_size=H, num_layers=L, batch_first=True, dtype=self.dtype, bidirectional=bi)
        if self.cell == "rnn":
            m = torch.nn.RNN(nonlinearity=self.spec["activation"], **kw)
        elif self.cell == "lstm":
            m = torch.nn.LSTM(**kw)
        else:
            m = torch.nn.GRU(**kw)
        if not self.reset_after:
            for l in range(L):
                for d in (["", "_reverse"] if bi else [""]):
                    getattr(m, "bias_hh_l%d%s" % (l, d)).requires_grad_(False)
        return m

    def layer_to_pt(self, kernel, rk, b, H):
        """One canonical layer (kernel [in, G*H], recurrentKernel, bias) -> weight_ih, weight_hh, bias_ih, bias_hh."""
        o = self.order
        if self.reset_after:
            bih, bhh = to_pt_blocks(b[0], H, o), to_pt_blocks(b[1], H, o)
        else:
            bih, bhh = to_pt_blocks(b, H, o), np.zeros_like(b)
        return to_pt_blocks(kernel, H, o).T, to_pt_blocks(rk, H, o).T, bih, bhh

    def layer_from_pt(self, wih, whh, bih, bhh, H):
        """The inverse (arrays; bias_hh may be None when it is not trained)."""
        o = self.order
        b = from_pt_blocks(bih, H, o)
        if self.reset_after:
            b = np.stack([b, from_pt_blocks(bhh, H, o)])
        return from_pt_blocks(wih.T, H, o), from_pt_blocks(whh.T, H, o), b

    def cell_step(self, rnn, H, l, x, h, c, d=""):
        """One step of layer l (direction d: "" or "_reverse") of module `rnn` with torch ops, PyTorch layout and gate order."""
        wih = getattr(rnn, "weight_ih_l%d%s" % (l, d))
        whh = getattr(rnn, "weight_hh_l%d%s" % (l, d))
        bih = getattr(rnn, "bias_ih_l%d%s" % (l, d))
        bhh = getattr(rnn, "bias_hh_l%d%s" % (l, d))
        gi = x @ wih.t() + bih  # [B, G*H]
        if self.cell == "rnn":
            return self.act(gi + h @ whh.t() + bhh), None
        if self.cell == "lstm":
            g = gi + h @ whh.t() + bhh
            i, f, gg, o = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
            c2 = self.gate(f) * c + self.gate(i) * torch.tanh(gg)
            return self.gate(o) * torch.tanh(c2), c2
        if self.reset_after:
            gh = h @ whh.t() + bhh
            r = self.gate(gi[:, :H] + gh[:, :H])
            z = self.gate(gi[:, H:2 * H] + gh[:, H:2 * H])
            n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        else:  # reset-before (tfjs): the reset gate scales h before the recurrent product
            rz = gi[:, :2 * H] + h @ whh[:2 * H].t()
            r = self.gate(rz[:, :H])
            z = self.gate(rz[:, H:])
            n = torch.tanh(gi[:, 2 * H:] + (r * h) @ whh[2 * H:].t())
        return (1 - z) * n + z * h, None

    def setup_optimizer(self, optimizer):
        """Slots for self.trainable [(name, tensor)]."""
        self.opt = optimizer
        self.slots = {"sgd": [], "momentum": ["v"], "adam": ["m", "v"], "rmsprop": ["ms", "mom"], "adagrad": ["acc"]}[optimizer["name"]]
        self.state = {slot: {n: torch.full_like(p, optimizer["initialAccumulatorValue"] if slot == "acc" else 0.0) for n, p in self.trainable} for slot in self.slots}
        self.iterations = 0

    def clip_and_apply(self):
        """One optimizer step on the gradients of self.trainable: clipping (each value, then the global norm), then the update."""
        with torch.no_grad():
            grads = [p.grad for _, p in self.trainable]
            o = self.opt
            if o.get("clipValue") is not None:
                for g in grads:
                    g.clamp_(-o["clipValue"], o["clipValue"])
            if o.get("clipNorm") is not None:
                norm = torch.sqrt(sum((g * g).sum() for g in grads))
                if norm > o["clipNorm"]:
                    scale = o["clipNorm"] / norm
                    for g in grads:
                        g.mul_(scale)
            self.apply(grads)

    def apply(self, grads):
        """One update, tfjs's formulas in scratch/optim.ts's order of operations."""
        o = self.opt
        lr = o["lr"]
        self.iterations += 1
        for (n, p), g in zip(self.trainable, grads):
            name = o["name"]
            if name == "sgd":
                p.sub_(lr * g)
            elif name == "momentum":
                v = self.state["v"][n]
                v.copy_(o["momentum"] * v + g)
                p.sub_(lr * v)
            elif name == "adam":
                m, v = self.state["m"][n], self.state["v"][n]
                c1 = 1 - o["beta1"] ** self.iterations
                c2 = 1 - o["beta2"] ** self.iterations
                m.copy_(o["beta1"] * m + (1 - o["beta1"]) * g)
                v.copy_(o["beta2"] * v + (1 - o["beta2"]) * g * g)
                p.sub_((lr * (m / c1)) / (torch.sqrt(v / c2) + o["epsilon"]))
            elif name == "rmsprop":
                ms, mom = self.state["ms"][n], self.state["mom"][n]
                ms.copy_(o["rho"] * ms + (1 - o["rho"]) * g * g)
                mom.copy_(o["momentum"] * mom + (lr * g) / torch.sqrt(ms + o["epsilon"]))
                p.sub_(mom)
            elif name == "adagrad":
                acc = self.state["acc"][n]
                acc.add_(g * g)
                p.sub_((lr * g) / torch.sqrt(acc + o["epsilon"]))


class TorchEngine(TorchBase):
    def init(self, spec, dtype, optimizer, params, threads, seed):
        torch.set_num_threads(max(1, int(threads)))
        torch.manual_seed(seed)
        self.spec = s = spec
        self.dtype = torch.float64 if dtype == "float64" else torch.float32
        self.np_dtype = np.float64 if dtype == "float64" else np.float32
        self.setup_cell(s)
        self.H = s["hiddenSize"]
        self.L = s["layers"]
        # bidirectional layers (merged forward first) and a token embedding; absent in older specs
        self.bi = bool(s.get("bidirectional", False))
        self.merge = s.get("merge", "concat")
        self.E = int(s.get("embedding", 0) or 0)
        self.dirs = ["", "_reverse"] if self.bi else [""]
        if self.bi and self.merge != "concat" and self.L > 1:
            raise Unsupported("merge %s between stacked bidirectional layers (PyTorch's modules concatenate the directions between layers)" % self.merge)
        self.out_w = 2 * self.H if self.bi and self.merge == "concat" else self.H
        self.emb = torch.nn.Embedding(s["inputSize"], self.E, dtype=self.dtype) if self.E else None
        in0 = self.E if self.E else s["inputSize"]
        self.rnn = self.module(in0, self.H, self.L, self.bi)
        self.head = torch.nn.Linear(self.out_w, s["outputSize"], dtype=self.dtype)
        self.set_params(params)
        self.trainable = [(n, p) for n, p in self.named() if p.requires_grad]
        self.setup_optimizer(optimizer)
        fast = self.fast_ok(False, False)
        kind = {"rnn": "nn.RNN", "lstm": "nn.LSTM", "gru": "nn.GRU"}[self.cell] + (" (bidirectional, %s)" % self.merge if self.bi else "") + (", nn.Embedding" if self.E else "")
        how = kind if fast else "torch-ops %s" % self.cell.upper()
        if not fast and self.cell == "gru" and not self.reset_after:
            how += " (reset-before)"
        if not fast and s["recurrentActivation"] == "hardSigmoid":
            how += " (hardSigmoid gates)"
        if fast:
            how += " (torch-ops loop for masks and per-step gradients)"
        return "%s, %s, %d thread%s" % (how, dtype, torch.get_num_threads(), "s" if torch.get_num_threads() > 1 else "")

    # ---- parameters: canonical <-> PyTorch layout ----

    def named(self):
        """(pytorch name, tensor) of every stored tensor, bias_hh included."""
        out = [("embedding.weight", self.emb.weight)] if self.emb is not None else []
        for l in range(self.L):
            for d in self.dirs:
                for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    out.append(("%s_l%d%s" % (k, l, d), getattr(self.rnn, "%s_l%d%s" % (k, l, d))))
        out.append(("head.weight", self.head.weight))
        out.append(("head.bias", self.head.bias))
        return out

    def expected(self):
        s, H, G = self.spec, self.H, self.G
        out = {}
        if self.E:
            out["embedding"] = (s["inputSize"], self.E)
        for l in range(self.L):
            n_in = (self.E or s["inputSize"]) if l == 0 else self.out_w
            for c in self.canon_dirs():
                out["layers.%d.%skernel" % (l, c)] = (n_in, G * H)
                out["layers.%d.%srecurrentKernel" % (l, c)] = (H, G * H)
                out["layers.%d.%sbias" % (l, c)] = (2, G * H) if self.reset_after else (G * H,)
        out["head.kernel"] = (self.out_w, s["outputSize"])
        out["head.bias"] = (s["outputSize"],)
        return out

    def canonical_to_pt(self, p):
        """Canonical arrays -> {pytorch name: array}."""
        want = self.expected()
        check_names(p, want)
        H = self.H
        out = {}
        if self.E:
            out["embedding.weight"] = p["embedding"]
        for l in range(self.L):
            for c, d in zip(self.canon_dirs(), self.dirs):
                pre = "layers.%d.%s" % (l, c)
                pt = self.layer_to_pt(p[pre + "kernel"], p[pre + "recurrentKernel"], p[pre + "bias"], H)
                for k, v in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), pt):
                    out["%s_l%d%s" % (k, l, d)] = v
        out["head.weight"] = p["head.kernel"].T
        out["head.bias"] = p["head.bias"]
        return out

    def pt_to_canonical(self, t):
        """{pytorch name: tensor or None} -> canonical arrays in the engine dtype (None counts as zeros)."""
        H = self.H
        a = {n: (v.detach().cpu().numpy() if v is not None else None) for n, v in t.items()}
        out = {}
        if self.E:
            out["embedding"] = a["embedding.weight"]
        for l in range(self.L):
            for c, d in zip(self.canon_dirs(), self.dirs):
                pre = "layers.%d.%s" % (l, c)
                k, rk, b = self.layer_from_pt(*[a["%s_l%d%s" % (n, l, d)] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")], H)
                out[pre + "kernel"], out[pre + "recurrentKernel"], out[pre + "bias"] = k, rk, b
        out["head.kernel"] = a["head.weight"].T
        out["head.bias"] = a["head.bias"]
        return {n: np.ascontiguousarray(v, dtype=self.np_dtype) for n, v in out.items()}

    def canon_dirs(self):
        """The canonical infix of each direction: "" and "backward."."""
        return ["", "backward."] if self.bi else [""]

    def set_params(self, params):
        pt = self.canonical_to_pt(params)
        with torch.no_grad():
            for n, p in self.named():
                p.copy_(torch.from_numpy(np.ascontiguousarray(pt[n])).to(self.dtype))

    def get_params(self):
        return self.pt_to_canonical(dict(self.named()))

    # ---- the model ----

    def fast_ok(self, mask, per_step):
        # nn.RNN/LSTM/GRU(bidirectional=True) concatenates its directions; other merges are computed from its halves
        return not mask and not per_step and self.spec["recurrentActivation"] == "sigmoid" and (self.cell != "gru" or self.reset_after)

    def inputs(self, batch, input_grad):
        x = batch["x"]
        if self.emb is not None:
            return self.emb(torch.from_numpy(x.astype(np.int64)))
        if self.spec["input"] == "tokens":
            x = F.one_hot(torch.from_numpy(x.astype(np.int64)), self.spec["inputSize"]).to(self.dtype)
        else:
            x = torch.from_numpy(x).to(self.dtype)
        if input_grad:
            x.requires_grad_(True)
        return x

    def initial(self, batch, B, state_grads):
        st = batch.get("initial_state")
        if st and self.bi:
            raise ValueError("a bidirectional model starts both directions from a zero state; it cannot take a carried initial state")
        z = lambda: torch.zeros(B, self.H, dtype=self.dtype)  # noqa: E731
        h = [torch.from_numpy(a).to(self.dtype).clone() for a in st["h"]] if st else [z() for _ in range(self.L)]
        c = None
        if self.cell == "lstm":
            c = [torch.from_numpy(a).to(self.dtype).clone() for a in st["c"]] if st and "c" in st else [z() for _ in range(self.L)]
        if state_grads:
            for t in h + (c or []):
                t.requires_grad_(True)
        return h, c

    def step_cell(self, l, x, h, c, d=""):
        return self.cell_step(self.rnn, self.H, l, x, h, c, d)

    def run(self, batch, input_grad=False, state_grads=False):
        """Forward to the logits: (logits [N, O], final h list, final c list, per-step h list, x, h0, c0)."""
        x = self.inputs(batch, input_grad)
        B, T = x.shape[0], x.shape[1]
        h0, c0 = self.initial(batch, B, state_grads)
        mask = batch.get("mask")
        hs_all = None
        if self.fast_ok(mask is not None, state_grads):
            nd = len(self.dirs)
            hx = torch.stack([h for h in h0 for _ in range(nd)])
            if self.cell == "lstm":
                out, (hn, cn) = self.rnn(x, (hx, torch.stack([c for c in c0 for _ in range(nd)])))
                hf, cf = list(hn)[::nd], list(cn)[::nd]
            else:
                out, hn = self.rnn(x, hx)
                hf, cf = list(hn)[::nd], None
            if self.bi:
                H = self.H
                fwd, bwd = out[..., :H], out[..., H:]
                if not self.spec["returnSequences"]:
                    # many-to-one (as Keras): the forward direction's last output, the backward one's at the first step
                    logits = self.head(self.merged(fwd[:, -1], bwd[:, 0]))
                    return logits, hf, cf, hs_all, x, h0, c0
                top = self.merged(fwd, bwd)
            else:
                top = out  # [B, T, H]
        else:
            m = torch.from_numpy(mask.astype(np.float64)).to(self.dtype) if mask is not None else None
            seq = [x[:, t] for t in range(T)]
            hf, cf, hs_all = [], [] if self.cell == "lstm" else None, []
            last = None
            for l in range(self.L):
                h, c = h0[l], c0[l] if c0 else None
                outs = []
                for t in range(T):
                    h2, c2 = self.step_cell(l, seq[t], h, c)
                    if m is not None:
                        mt = m[:, t:t + 1]
                        h2 = mt * h2 + (1 - mt) * h
                        if c2 is not None:
                            c2 = mt * c2 + (1 - mt) * c
                    if state_grads:
                        h2.retain_grad()
                    h, c = h2, c2
                    outs.append(h)
                hs_all.append(outs)
                hf.append(h)
                if cf is not None:
                    cf.append(c)
                if self.bi:
                    # the backward direction: the steps in reverse order, the mask with them, from a zero state
                    hb = torch.zeros_like(h0[l])
                    cb = torch.zeros_like(h0[l]) if self.cell == "lstm" else None
                    back = [None] * T
                    for t in reversed(range(T)):
                        h2, c2 = self.step_cell(l, seq[t], hb, cb, "_reverse")
                        if m is not None:
                            mt = m[:, t:t + 1]
                            h2 = mt * h2 + (1 - mt) * hb
                            if c2 is not None:
                                c2 = mt * c2 + (1 - mt) * cb
                        hb, cb = h2, c2
                        back[t] = hb
                    if l == self.L - 1 and not self.spec["returnSequences"]:
                        last = self.merged(outs[-1], back[0])
                    seq = [self.merged(f, k) for f, k in zip(outs, back)]
                else:
                    seq = outs
            if last is not None:
                return self.head(last), hf, cf, hs_all, x, h0, c0
            top = torch.stack(seq, 1)
        if not self.spec["returnSequences"]:
            top = top[:, -1]
        logits = self.head(top)
        return logits, hf, cf, hs_all, x, h0, c0

    def merged(self, f, k):
        """The two directions' outputs merged as rnnlab and Keras merge them (forward first)."""
        if self.merge == "concat":
            return torch.cat([f, k], -1)
        if self.merge == "sum":
            return f + k
        if self.merge == "mul":
            return f * k
        return (f + k) / 2

    def loss_of(self, logits, batch):
        s = self.spec
        B = batch["x"].shape[0]
        O = s["outputSize"]
        z = logits.reshape(-1, O)
        N = z.shape[0]
        w = torch.ones(N, dtype=self.dtype)
        mask = batch.get("mask")
        if s["returnSequences"] and mask is not None:
            w = torch.from_numpy(mask.reshape(-1).astype(np.float64)).to(self.dtype)
        if s["loss"] == "softmaxCrossEntropy":
            y = torch.from_numpy(batch["y"].reshape(-1).astype(np.int64))
            per = -F.log_softmax(z, dim=-1).gather(1, y[:, None])[:, 0]
        else:
            y = torch.from_numpy(batch["y"]).to(self.dtype).reshape(N, O)
            per = ((z - y) ** 2).mean(-1)
        if s["lossReduction"] == "mean":
            count = w.sum()
            return (per * w).sum() / count if count > 0 else (per * w).sum() * 0
        return (per * w).sum() / B

    def state_out(self, hf, cf):
        out = {"h": [h.detach().numpy() for h in hf]}
        if cf is not None:
            out["c"] = [c.detach().numpy() for c in cf]
        return out

    def forward(self, batch):
        with torch.no_grad():
            logits, hf, cf, _, _, _, _ = self.run(batch)
        return {"output": logits.numpy(), "final_state": self.state_out(hf, cf)}

    def backward(self, batch, input_grad=False, state_grads=False):
        for _, p in self.trainable:
            p.grad = None
        logits, hf, cf, hs_all, x, h0, c0 = self.run(batch, input_grad, state_grads)
        loss = self.loss_of(logits, batch)
        loss.backward()
        return loss, hf, cf, hs_all, x, h0, c0

    def loss_and_grads(self, batch, input_grad, state_grads):
        if input_grad and self.spec["input"] == "tokens":
            raise Unsupported("input gradients for token input")
        loss, hf, cf, hs_all, x, h0, c0 = self.backward(batch, input_grad, state_grads)
        grads = self.pt_to_canonical({n: p.grad if p.requires_grad else None for n, p in self.named()})
        out = {"loss": float(loss.item()), "grads": grads, "final_state": self.state_out(hf, cf)}
        if input_grad:
            out["dx"] = x.grad.numpy()
        if state_grads:
            zero = lambda h: np.zeros(tuple(h.shape), dtype=self.np_dtype)  # noqa: E731
            out["dh"] = [np.stack([h.grad.numpy() if h.grad is not None else zero(h) for h in layer], 1) for layer in hs_all]
            d = {"h": [h.grad.numpy() if h.grad is not None else zero(h) for h in h0]}
            if c0 is not None:
                d["c"] = [c.grad.numpy() if c.grad is not None else zero(c) for c in c0]
            out["d_state"] = d
        return out

    def step(self, batch):
        loss, hf, cf, _, _, _, _ = self.backward(batch)
        self.clip_and_apply()
        return {"loss": float(loss.item()), "final_state": self.state_out(hf, cf)}

    # ---- optimizer state, canonical names ----

    def slot_tensors(self, slot):
        d = dict(self.state[slot])
        for n, p in self.named():
            if n not in d:
                d[n] = None
        return d

    def get_optimizer_state(self):
        out = {"iterations": np.array([self.iterations], dtype=np.float64)}
        for slot in self.slots:
            for n, a in self.pt_to_canonical(self.slot_tensors(slot)).items():
                out["%s.%s" % (slot, n)] = a
        return out

    def set_optimizer_state(self, state):
        if "iterations" not in state:
            raise ValueError('optimizer state: "iterations" is missing')
        self.iterations = int(state["iterations"].reshape(-1)[0])
        for slot in self.slots:
            canon = {n: state["%s.%s" % (slot, n)] for n in self.expected()} if all("%s.%s" % (slot, n) in state for n in self.expected()) else None
            if canon is None:
                raise ValueError("optimizer state: the %s slot is incomplete" % slot)
            pt = self.canonical_to_pt(canon)
            with torch.no_grad():
                for n in self.state[slot]:
                    self.state[slot][n].copy_(torch.from_numpy(np.ascontiguousarray(pt[n])).to(self.dtype))


class TorchSeq2Seq(TorchBase):
    """The encoder-decoder of rnnlab's src/seq2seq/spec.ts (docs/engines.md, "Encoder-decoder models").

    The encoder and the decoder are nn.RNN / nn.LSTM / nn.GRU modules (the encoder bidirectional
    when the spec says so: PyTorch concatenates the directions between layers, forward first, as
    rnnlab does). Where the module computes rnnlab's function (sigmoid gates, the reset-after GRU,
    no per-step gradients) it runs them: the encoder over the packed source
    (pack_padded_sequence: each row's forward direction ends at its last real token, and the
    backward one starts there from a zero state, which is rnnlab's masking of right padding), the
    decoder from the encoder's final states. Otherwise the same modules' parameters run in a torch-ops
    loop with the mask applied at every step (a padded step keeps the state, as rnnlab's masks do),
    and each h_t keeps its gradient (dLoss/dh_t). Attention, the combine layer, the head and the
    loss are torch ops. Embeddings, attention and head are held in the canonical layout.
    """

    def init(self, spec, dtype, optimizer, params, threads, seed):
        torch.set_num_threads(max(1, int(threads)))
        torch.manual_seed(seed)
        self.spec = s = spec
        self.dtype = torch.float64 if dtype == "float64" else torch.float32
        self.np_dtype = np.float64 if dtype == "float64" else np.float32
        self.setup_cell(s)
        self.H = s["hiddenSize"]
        self.L = s["layers"]
        self.bi = bool(s.get("bidirectional", False))
        self.D = 2 * self.H if self.bi else self.H
        self.E = s["embedding"]
        self.attention = s["attention"]
        self.A = s.get("attentionUnits", self.H)
        self.enc = self.module(self.E, self.H, self.L, self.bi)
        self.dec = self.module(self.E, self.D, self.L, False)
        self.extra = {n: torch.zeros(shape, dtype=self.dtype, requires_grad=True) for n, shape in self.extra_shapes().items()}
        self.kept = None  # the last encode's outputs (step-wise decoding)
        self.set_params(params)
        self.trainable = [(n, p) for n, p in self.named() if p.requires_grad]
        self.name_of = {id(p): n for n, p in self.named()}
        self.setup_optimizer(optimizer)
        fast = self.fast_ok(False)
        mod = {"rnn": "nn.RNN", "lstm": "nn.LSTM", "gru": "nn.GRU"}[self.cell]
        how = ("%s encoder%s (packed source) and decoder" % (mod, " (bidirectional)" if self.bi else "")) if fast else "torch-ops %s loop%s" % (self.cell.upper(), " (reset-before)" if self.cell == "gru" and not self.reset_after else " (hardSigmoid gates)" if s["recurrentActivation"] == "hardSigmoid" else "")
        if fast:
            how += " (torch-ops loop for per-step gradients)"
        return "seq2seq, %s, attention %s in torch ops, %s, %d thread%s" % (how, self.attention, dtype, torch.get_num_threads(), "s" if torch.get_num_threads() > 1 else "")

    # ---- parameters ----

    def extra_shapes(self):
        """The parameters outside the recurrent modules, canonical names and shapes."""
        s, D = self.spec, self.D
        out = {}
        if s["sharedEmbedding"]:
            out["embedding"] = (s["srcVocab"], self.E)
        else:
            out["encoder.embedding"] = (s["srcVocab"], self.E)
            out["decoder.embedding"] = (s["tgtVocab"], self.E)
        if self.attention == "general":
            out["attention.kernel"] = (D, D)
        if self.attention == "concat":
            out["attention.kernel"] = (2 * D, self.A)
            out["attention.v"] = (self.A,)
        if self.attention != "none":
            out["attention.combine.kernel"] = (2 * D, D)
        out["head.kernel"] = (D, s["tgtVocab"])
        out["head.bias"] = (s["tgtVocab"],)
        return out

    def sides(self):
        """(canonical prefix of a layer direction, module, its PyTorch suffix, layer, width)."""
        out = []
        for l in range(self.L):
            for c, d in ([("", ""), ("backward.", "_reverse")] if self.bi else [("", "")]):
                out.append(("encoder.layers.%d.%s" % (l, c), self.enc, d, l, self.H))
            out.append(("decoder.layers.%d." % l, self.dec, "", l, self.D))
        return out

    def named(self):
        """(name, tensor) of every stored tensor: the modules' by side and PyTorch name, the rest canonical."""
        out = [("enc." + n, p) for n, p in self.enc.named_parameters()] + [("dec." + n, p) for n, p in self.dec.named_parameters()]
        return out + list(self.extra.items())

    def expected(self):
        s, G = self.spec, self.G
        out = dict(self.extra_shapes())
        for pre, _, _, l, H in self.sides():
            n_in = self.E if l == 0 else self.D
            out[pre + "kernel"] = (n_in, G * H)
            out[pre + "recurrentKernel"] = (H, G * H)
            out[pre + "bias"] = (2, G * H) if self.reset_after else (G * H,)
        return out

    def set_params(self, params):
        self.load(params, lambda t: t)

    def load(self, params, into):
        """Canonical arrays into the tensors `into` picks for each parameter tensor (itself, or an optimizer slot's; None: skipped)."""
        want = self.expected()
        check_names(params, want)
        def put(t, a):
            t = into(t)
            if t is not None:
                t.copy_(torch.from_numpy(np.ascontiguousarray(a)).to(self.dtype))

        with torch.no_grad():
            for n, t in self.extra.items():
                put(t, params[n])
            for pre, mod, d, l, H in self.sides():
                pt = self.layer_to_pt(params[pre + "kernel"], params[pre + "recurrentKernel"], params[pre + "bias"], H)
                for k, a in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), pt):
                    put(getattr(mod, "%s_l%d%s" % (k, l, d)), a)

    def canonical(self, of):
        """Canonical arrays of the parameters (of = lambda t: t) or of their gradients (of = lambda t: t.grad)."""
        arr = lambda t: None if t is None else t.detach().cpu().numpy()  # noqa: E731
        out = {n: arr(of(t)) for n, t in self.extra.items()}
        for pre, mod, d, l, H in self.sides():
            pt = [arr(of(getattr(mod, "%s_l%d%s" % (k, l, d)))) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            out[pre + "kernel"], out[pre + "recurrentKernel"], out[pre + "bias"] = self.layer_from_pt(*pt, H)
        return {n: np.ascontiguousarray(out[n], dtype=self.np_dtype) for n in self.expected()}

    def get_params(self):
        return self.canonical(lambda t: t)

    # ---- the model ----

    def fast_ok(self, per_step):
        return not per_step and self.spec["recurrentActivation"] == "sigmoid" and (self.cell != "gru" or self.reset_after)

    def embed(self, side, ids):
        table = self.extra["embedding" if self.spec["sharedEmbedding"] else side + ".embedding"]
        return table[torch.from_numpy(ids.astype(np.int64))]

    def loop(self, mod, H, l, d, seq, m, order, h, c, per_step):
        """One direction of one layer over `seq` (a list of [B, in]) in `order`, from (h, c); masked steps keep the state."""
        outs = [None] * len(seq)
        for t in order:
            h2, c2 = self.cell_step(mod, H, l, seq[t], h, c, d)
            if m is not None:
                mt = m[:, t:t + 1]
                h2 = mt * h2 + (1 - mt) * h
                if c2 is not None:
                    c2 = mt * c2 + (1 - mt) * c
            if per_step:
                h2.retain_grad()
            h, c = h2, c2
            outs[t] = h
        return outs, h, c

    def encoder(self, batch, per_step):
        """The encoder: its top outputs O [B, S, D], the decoder's initial (h, c) per layer, and each layer's per-step h (loop only)."""
        x = self.embed("encoder", batch["src"])
        B, S = x.shape[0], x.shape[1]
        H, nd = self.H, 2 if self.bi else 1
        lstm = self.cell == "lstm"
        if self.fast_ok(per_step):
            lengths = torch.from_numpy(batch["src_mask"].sum(1).astype(np.int64))
            packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, hn = self.enc(packed)
            O, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=S)
            hn, cn = hn if lstm else (hn, None)
            fin = lambda t, l: torch.cat([t[l * nd + k] for k in range(nd)], -1)  # noqa: E731
            return O, [fin(hn, l) for l in range(self.L)], [fin(cn, l) for l in range(self.L)] if lstm else None, None
        m = torch.from_numpy(batch["src_mask"].astype(np.float64)).to(self.dtype)
        seq = [x[:, t] for t in range(S)]
        hs, cs, steps = [], [] if lstm else None, []
        zero = lambda: torch.zeros(B, H, dtype=self.dtype)  # noqa: E731
        for l in range(self.L):
            dirs = [self.loop(self.enc, H, l, "", seq, m, range(S), zero(), zero() if lstm else None, per_step)]
            if self.bi:
                dirs.append(self.loop(self.enc, H, l, "_reverse", seq, m, reversed(range(S)), zero(), zero() if lstm else None, per_step))
            seq = [torch.cat([o[t] for o, _, _ in dirs], -1) for t in range(S)]
            hs.append(torch.cat([h for _, h, _ in dirs], -1))
            if lstm:
                cs.append(torch.cat([c for _, _, c in dirs], -1))
            steps.append([o for o, _, _ in dirs])
        return torch.stack(seq, 1), hs, cs, steps

    def decoder(self, batch, hs, cs, per_step):
        """The decoder from the encoder's final states: its top outputs [B, T, D] and each layer's per-step h (loop only)."""
        y = self.embed("decoder", batch["tgt_in"])
        if self.fast_ok(per_step):
            h0 = torch.stack(hs)
            out, _ = self.dec(y, (h0, torch.stack(cs)) if cs is not None else h0)
            return out, None
        seq = [y[:, t] for t in range(y.shape[1])]
        steps = []
        for l in range(self.L):
            seq, _, _ = self.loop(self.dec, self.D, l, "", seq, None, range(len(seq)), hs[l], cs[l] if cs is not None else None, per_step)
            steps.append(seq)
        return torch.stack(seq, 1), steps

    def keys_of(self, O):
        """What the scores read of each o_s: o_s K_a (general), o_s times the last D rows of W_a (concat), o_s itself (dot)."""
        p, D = self.extra, self.D
        if self.attention == "concat":
            return O @ p["attention.kernel"][D:]
        return O @ p["attention.kernel"] if self.attention == "general" else O

    def attend(self, O, Hd, src_mask, keys=None):
        """Luong attention and the combine layer: z [B, T, D] and the weights [B, T, S] (`keys`: keys_of(O), when known)."""
        p, D = self.extra, self.D
        keys = self.keys_of(O) if keys is None else keys
        if self.attention == "concat":
            score = torch.tanh((Hd @ p["attention.kernel"][:D])[:, :, None, :] + keys[:, None, :, :]) @ p["attention.v"]
        else:
            score = Hd @ keys.transpose(1, 2)
        real = torch.from_numpy(src_mask.astype(bool))[:, None, :]
        a = torch.softmax(score.masked_fill(~real, float("-inf")), -1)
        z = torch.tanh(torch.cat([a @ O, Hd], -1) @ p["attention.combine.kernel"])
        return z, a

    def run(self, batch, per_step=False):
        O, hs, cs, enc_steps = self.encoder(batch, per_step)
        Hd, dec_steps = self.decoder(batch, hs, cs, per_step)
        a = None
        top = Hd
        if self.attention != "none":
            top, a = self.attend(O, Hd, batch["src_mask"])
        logits = top @ self.extra["head.kernel"] + self.extra["head.bias"]
        return logits, a, enc_steps, dec_steps

    def loss_of(self, logits, batch):
        """Cross-entropy from logits, the mean over the real target steps."""
        V = self.spec["tgtVocab"]
        y = torch.from_numpy(batch["tgt_out"].reshape(-1).astype(np.int64))
        w = torch.from_numpy(batch["tgt_mask"].reshape(-1).astype(np.float64)).to(self.dtype)
        per = -F.log_softmax(logits.reshape(-1, V), dim=-1).gather(1, y[:, None])[:, 0]
        return (per * w).sum() / w.sum()

    def forward(self, batch):
        with torch.no_grad():
            logits, a, _, _ = self.run(batch)
        out = {"output": logits.numpy()}
        if a is not None:
            out["attention"] = a.numpy()
        return out

    # ---- step-wise decoding (docs/engines.md, "Step-wise decoding"; src/seq2seq/state.ts) ----

    def tensor(self, a):
        return torch.from_numpy(np.ascontiguousarray(a)).to(self.dtype)

    def encode(self, batch):
        """The encoder once: the decoder's initial h.{l} (and c.{l}); the encoder's outputs, their keys
        and the mask are kept here for the decode_step requests that follow (until the next encode)."""
        with torch.no_grad():
            O, hs, cs, _ = self.encoder(batch, False)
            keys = self.keys_of(O) if self.attention != "none" else None
        self.kept = (O, keys, batch["src_mask"])
        out = {"h.%d" % l: h.numpy() for l, h in enumerate(hs)}
        if cs is not None:
            out.update({"c.%d" % l: c.numpy() for l, c in enumerate(cs)})
        return {"state": out}

    def decode_step(self, rows, state, tokens):
        """One decoder step fed `tokens` [B], row b continuing row rows[b] of the last encode: the
        logits [B, V], the attention [B, S] and the next h (and c). The same modules and ops as `run`
        on a prefix one token long (nn.RNN/LSTM/GRU where the whole-prefix decoder runs them, else the
        torch-ops step), so stepping equals rerunning the prefix."""
        if getattr(self, "kept", None) is None:
            raise ValueError("decode_step before encode")
        lstm = self.cell == "lstm"
        with torch.no_grad():
            x = self.embed("decoder", tokens)  # [B, E]
            hs = [self.tensor(state["h.%d" % l]) for l in range(self.L)]
            cs = [self.tensor(state["c.%d" % l]) for l in range(self.L)] if lstm else None
            if self.fast_ok(False):
                h0 = torch.stack(hs)
                out, hn = self.dec(x[:, None], (h0, torch.stack(cs)) if lstm else h0)
                hn, cn = hn if lstm else (hn, None)
                top, hs = out[:, 0], list(hn)
                cs = list(cn) if lstm else None
            else:
                for l in range(self.L):
                    hs[l], c = self.cell_step(self.dec, self.D, l, x if l == 0 else hs[l - 1], hs[l], cs[l] if lstm else None)
                    if lstm:
                        cs[l] = c
                top = hs[-1]
            out = {}
            if self.attention != "none":
                O, keys, mask = self.kept
                idx = torch.from_numpy(rows.astype(np.int64))
                z, a = self.attend(O[idx], top[:, None], mask[rows], keys[idx])
                top = z[:, 0]
                out["attention"] = a[:, 0].numpy()
            out["logits"] = (top @ self.extra["head.kernel"] + self.extra["head.bias"]).numpy()
        nxt = {"h.%d" % l: h.numpy() for l, h in enumerate(hs)}
        if lstm:
            nxt.update({"c.%d" % l: c.numpy() for l, c in enumerate(cs)})
        out["state"] = nxt
        return out

    def backward(self, batch, per_step=False):
        for _, p in self.trainable:
            p.grad = None
        logits, _, enc_steps, dec_steps = self.run(batch, per_step)
        loss = self.loss_of(logits, batch)
        loss.backward()
        return loss, enc_steps, dec_steps

    def loss_and_grads(self, batch, input_grad, state_grads):
        loss, enc_steps, dec_steps = self.backward(batch, state_grads)
        out = {"loss": float(loss.item()), "grads": self.canonical(lambda t: t.grad if t.requires_grad else None)}
        if state_grads:
            g = lambda h: h.grad if h.grad is not None else torch.zeros_like(h)  # noqa: E731
            # a bidirectional layer's step: the forward direction's dh then the backward one's, at the same source position
            out["dh_encoder"] = [torch.stack([torch.cat([g(o[t]) for o in dirs], -1) for t in range(len(dirs[0]))], 1).numpy() for dirs in enc_steps]
            out["dh_decoder"] = [torch.stack([g(h) for h in layer], 1).numpy() for layer in dec_steps]
        return out

    def step(self, batch):
        loss, _, _ = self.backward(batch)
        if math.isfinite(loss.item()):
            self.clip_and_apply()
        return {"loss": float(loss.item())}

    def get_optimizer_state(self):
        out = {"iterations": np.array([self.iterations], dtype=np.float64)}
        for slot in self.slots:
            st = self.state[slot]
            for n, a in self.canonical(lambda t: st.get(self.name_of[id(t)])).items():
                out["%s.%s" % (slot, n)] = a
        return out

    def set_optimizer_state(self, state):
        if "iterations" not in state:
            raise ValueError('optimizer state: "iterations" is missing')
        self.iterations = int(state["iterations"].reshape(-1)[0])
        for slot in self.slots:
            prefix = slot + "."
            st = self.state[slot]
            self.load({n[len(prefix):]: a for n, a in state.items() if n.startswith(prefix)}, lambda t: st.get(self.name_of[id(t)]))


class TorchAdapter:
    """The protocol's engine: a sequence model (TorchEngine) or an encoder-decoder (TorchSeq2Seq), whichever `init` asked for last."""

    def __init__(self):
        self.model = None

    def init(self, spec, dtype, optimizer, params, threads, seed):
        self.model = TorchEngine()
        return self.model.init(spec, dtype, optimizer, params, threads, seed)

    def init_seq2seq(self, spec, dtype, optimizer, params, threads, seed):
        self.model = TorchSeq2Seq()
        return self.model.init(spec, dtype, optimizer, params, threads, seed)

    def __getattr__(self, name):
        if name == "model":
            raise AttributeError(name)
        if self.model is None:
            raise ValueError("no model yet: init comes first")
        return getattr(self.model, name)


SUPPORTS = {
    "cells": ["rnn", "lstm", "gru"],
    "activations": ["tanh", "relu"],
    "recurrentActivations": ["sigmoid", "hardSigmoid"],
    "gruResetAfter": [True, False],
    "input": ["dense", "tokens"],
    "returnSequences": [True, False],
    "losses": ["softmaxCrossEntropy", "mse"],
    "lossReductions": ["mean", "sumOverTime"],
    "bidirectional": True,
    "embedding": True,
    "mask": True,
    "carriedState": True,
    "dtypes": ["float32", "float64"],
    "optimizers": ["sgd", "momentum", "adam", "rmsprop", "adagrad"],
    "clipping": True,
    "inputGrad": True,
    "stateGrads": True,
    "optimizerState": True,
    "models": ["sequence", "seq2seq"],
    "attentions": ["none", "dot", "general", "concat"],
    "stepDecoding": True,
}

if __name__ == "__main__":
    runtime = "python %s, torch %s, numpy %s, %s" % (platform.python_version(), torch.__version__, np.__version__, blas_name())
    serve(TorchAdapter(), engine="pytorch", version=torch.__version__, runtime=runtime, supports=SUPPORTS)
