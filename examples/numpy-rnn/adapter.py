"""
The adapter that puts numpy_rnn.py on rnnlab's table (docs/engines.md): it maps rnnlab's canonical
(Keras) weights to the course layout and back, and python/rnnlab_engine.py does the protocol.

    npx rnnlab check --engines "cmd:python3 examples/numpy-rnn/adapter.py" --cell lstm --per-step
"""
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

import numpy as np  # noqa: E402
import numpy_rnn  # noqa: E402
from rnnlab_engine import Unsupported, serve  # noqa: E402

# canonical name -> course name (the canonical kernel is the course matrix transposed)
NAMES = {
    "rnn": {"layers.0.kernel": "Wxh", "layers.0.recurrentKernel": "Whh", "layers.0.bias": "bh"},
    "lstm": {"layers.0.kernel": "Wx", "layers.0.recurrentKernel": "Wh", "layers.0.bias": "b"},
}
HEAD = {"head.kernel": "Why", "head.bias": "by"}


class Adapter:
    def init(self, spec, dtype, optimizer, params, threads, seed):
        if spec["cell"] not in NAMES:
            raise Unsupported("%s cells (numpy_rnn.py has an RNN and an LSTM)" % spec["cell"])
        self.spec = spec
        self.model = numpy_rnn.RNN() if spec["cell"] == "rnn" else numpy_rnn.LSTM()
        self.names = {**NAMES[spec["cell"]], **HEAD}
        self.set_params(params)
        o = optimizer
        self.opt = numpy_rnn.SGD(o["lr"]) if o["name"] == "sgd" else numpy_rnn.Adam(o["lr"], o["beta1"], o["beta2"], o["epsilon"])
        return "numpy_rnn.%s, float64" % type(self.model).__name__

    def to_course(self, canonical):
        return {self.names[k]: (v.T.copy() if v.ndim == 2 else v.copy()).astype(np.float64) for k, v in canonical.items()}

    def to_canonical(self, course):
        back = {v: k for k, v in self.names.items()}
        return {back[k]: (v.T.copy() if v.ndim == 2 else v.copy()) for k, v in course.items()}

    def set_params(self, params):
        self.p = self.to_course(params)

    def get_params(self):
        return self.to_canonical(self.p)

    def run(self, batch):
        x = batch["x"].astype(np.float64)
        B, H = x.shape[0], self.spec["hiddenSize"]
        st = batch.get("initial_state")
        h0 = st["h"][0].astype(np.float64) if st else np.zeros((B, H))
        if self.spec["cell"] == "lstm":
            c0 = st["c"][0].astype(np.float64) if st else np.zeros((B, H))
            hs, cache = self.model.forward(self.p, x, h0, c0)
        else:
            hs, cache = self.model.forward(self.p, x, h0)
        return hs, cache

    def final_state(self, cache):
        T = len(cache["hs"]) - 1
        out = {"h": [cache["hs"][T - 1]]}
        if "cs" in cache:
            out["c"] = [cache["cs"][T - 1]]
        return out

    def forward(self, batch):
        hs, cache = self.run(batch)
        z, _, _ = numpy_rnn.head(self.p, hs, self.spec["returnSequences"])
        return {"output": z if self.spec["returnSequences"] else z[:, 0], "final_state": self.final_state(cache)}

    def grads(self, batch):
        hs, cache = self.run(batch)
        _, loss, g_head, dh_out = numpy_rnn.head_and_loss(self.p, hs, batch["y"], self.spec["returnSequences"], self.spec["loss"])
        g, dhs, d0 = self.model.backward(self.p, cache, dh_out)
        return loss, {**g, **g_head}, dhs, d0, cache

    def loss_and_grads(self, batch, input_grad, state_grads):
        if input_grad:
            raise Unsupported("input gradients")
        loss, g, dhs, d0, cache = self.grads(batch)
        out = {"loss": loss, "grads": self.to_canonical(g), "final_state": self.final_state(cache)}
        if state_grads:
            out["dh"] = [np.stack(dhs, 1)]  # [B, T, H]
            out["d_state"] = {k: [v] for k, v in d0.items()}
        return out

    def step(self, batch):
        loss, g, _, _, cache = self.grads(batch)
        self.opt.update(self.p, g)
        return {"loss": loss, "final_state": self.final_state(cache)}

    def get_optimizer_state(self):
        out = {"iterations": np.array([getattr(self.opt, "t", 0)], dtype=np.float64)}
        for slot, d in self.opt.slots.items():
            for n, v in self.to_canonical({k: d.get(k, np.zeros_like(self.p[k])) for k in self.p}).items():
                out["%s.%s" % (slot, n)] = v
        return out

    def set_optimizer_state(self, state):
        if hasattr(self.opt, "t"):
            self.opt.t = int(state["iterations"][0])
        for slot in self.opt.slots:
            canon = {n: state["%s.%s" % (slot, n)] for n in self.names}
            self.opt.slots[slot] = self.to_course(canon)


SUPPORTS = {
    "cells": ["rnn", "lstm"],
    "activations": ["tanh"],
    "recurrentActivations": ["sigmoid"],
    "input": ["dense"],
    "returnSequences": [True, False],
    "losses": ["softmaxCrossEntropy", "mse"],
    "lossReductions": ["mean"],
    "maxLayers": 1,
    "mask": False,
    "carriedState": True,
    "dtypes": ["float64"],
    "optimizers": ["sgd", "adam"],
    "clipping": False,
    "inputGrad": False,
    "stateGrads": True,
    "optimizerState": True,
}

if __name__ == "__main__":
    if "--bug" in sys.argv:
        # --bug NAME plants one of numpy_rnn.BUGS (--bug alone: the classic one)
        i = sys.argv.index("--bug")
        name = sys.argv[i + 1] if i + 1 < len(sys.argv) and not sys.argv[i + 1].startswith("-") else "classic"
        if name not in numpy_rnn.BUGS:
            sys.exit("adapter.py: unknown bug %r (choose %s)" % (name, ", ".join(numpy_rnn.BUGS)))
        numpy_rnn.BUG = name
    runtime = "python %s, numpy %s%s" % (platform.python_version(), np.__version__, ", bug planted: %s" % numpy_rnn.BUG if numpy_rnn.BUG else "")
    serve(Adapter(), engine="numpy-rnn", version="1.0", runtime=runtime, supports=SUPPORTS)
