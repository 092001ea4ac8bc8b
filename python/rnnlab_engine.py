"""
The rnnlab engine protocol (version 1, docs/engines.md) for Python engines: one JSON request per
line on stdin, one JSON answer per line on stdout. This module does the plumbing so that an
adapter is only the mapping to its model:

    from rnnlab_engine import serve, Unsupported

    class MyEngine:
        def init(self, spec, dtype, optimizer, params, threads, seed): ...   # may return a detail string
        def init_seq2seq(self, spec, dtype, optimizer, params, threads, seed): ...   # optional: encoder-decoders
        def set_params(self, params): ...
        def get_params(self): ...                                # {name: ndarray}
        def forward(self, batch): ...                            # {"output": ndarray, "final_state": {"h": [...], "c": [...]}}
        def loss_and_grads(self, batch, input_grad, state_grads): ...
        def step(self, batch): ...                               # {"loss": float, "final_state": ...}
        def encode(self, batch): ...                             # optional (encoder-decoders, supports.stepDecoding):
        def decode_step(self, rows, state, tokens): ...          #   step-wise decoding, docs/engines.md
        def get_optimizer_state(self): ...                       # optional
        def set_optimizer_state(self, state): ...                # optional

    serve(MyEngine(), engine="my-lstm", version="1.0", runtime="numpy 1.24", supports={...})

Tensors arrive as NumPy arrays (their dtype kept); a batch is a dict with "x", optional "y",
"mask" and "initial_state" ({"h": [...], "c": [...]}). Answers may hold NumPy arrays anywhere
(they are encoded), or torch tensors converted with .numpy() first. print() goes to stderr while
serving, so a stray print cannot break the protocol. Raise Unsupported("what") for what the engine
cannot do (at init: a limit finer than the handshake's supports); any other exception becomes an error answer (its message, one line) and the run stops.
"""
import base64
import json
import math
import signal
import sys
import time

import numpy as np

PROTOCOL = 1

_DTYPES = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "U8": "u1"}
_NAMES = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int32"): "I32", np.dtype("uint8"): "U8"}


class Unsupported(Exception):
    """A model this engine cannot run, found at init: Unsupported("hidden sizes above 512"), a short
    noun phrase that completes "it does not support ..."; rnnlab quotes it (docs/engines.md)."""


def decode(t):
    """A protocol tensor -> a NumPy array (F32, F64, I32, U8 keep their dtype)."""
    if not isinstance(t, dict) or "dtype" not in t or "shape" not in t or "data" not in t:
        raise ValueError("not a tensor: %r" % (str(t)[:80],))
    raw = base64.b64decode(t["data"])
    a = np.frombuffer(raw, dtype=_DTYPES[t["dtype"]])
    return a.reshape(t["shape"]).astype(a.dtype.newbyteorder("="), copy=True)


def encode(a):
    """A NumPy array (or a number) -> a protocol tensor."""
    a = np.asarray(a)
    if a.dtype not in _NAMES:
        a = a.astype(np.float64 if a.dtype.kind == "f" else np.int32)
    name = _NAMES[a.dtype]
    data = np.ascontiguousarray(a, dtype=_DTYPES[name]).tobytes()
    return {"dtype": name, "shape": list(a.shape), "data": base64.b64encode(data).decode("ascii")}


def _decode_tree(v):
    if isinstance(v, dict):
        if set(v.keys()) == {"dtype", "shape", "data"}:
            return decode(v)
        return {k: _decode_tree(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_decode_tree(x) for x in v]
    return v


def _encode_tree(v):
    if isinstance(v, np.ndarray):
        return encode(v)
    if hasattr(v, "detach") and hasattr(v, "numpy"):  # a torch tensor
        return encode(v.detach().cpu().numpy())
    if isinstance(v, dict):
        return {k: _encode_tree(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_encode_tree(x) for x in v]
    if isinstance(v, (np.floating, np.integer)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None  # JSON has no NaN or infinity; rnnlab reads null as NaN
    return v


_TIMED = {"forward", "loss_and_grads", "step"}


def _call(engine, op, req):
    if op == "init":
        args = (req["spec"], req["dtype"], req["optimizer"], req["params"], req.get("threads", 1), req.get("seed", 0))
        model = req.get("model", "sequence")
        if model == "sequence":
            return {"detail": engine.init(*args)}
        if model == "seq2seq" and hasattr(engine, "init_seq2seq"):
            return {"detail": engine.init_seq2seq(*args)}
        raise Unsupported("%s models" % model)
    if op == "set_params":
        engine.set_params(req["params"])
        return {}
    if op == "get_params":
        return {"params": engine.get_params()}
    if op == "forward":
        return engine.forward(req["batch"])
    if op == "loss_and_grads":
        return engine.loss_and_grads(req["batch"], bool(req.get("input_grad")), bool(req.get("state_grads")))
    if op == "step":
        return engine.step(req["batch"])
    if op in ("encode", "decode_step"):
        if not hasattr(engine, "decode_step"):
            raise Unsupported("step-wise decoding")
        return engine.encode(req["batch"]) if op == "encode" else engine.decode_step(req["rows"], req["state"], req["tokens"])
    if op == "get_optimizer_state":
        if not hasattr(engine, "get_optimizer_state"):
            raise Unsupported("optimizer state")
        return {"state": engine.get_optimizer_state()}
    if op == "set_optimizer_state":
        if not hasattr(engine, "set_optimizer_state"):
            raise Unsupported("optimizer state")
        engine.set_optimizer_state(req["state"])
        return {}
    raise Unsupported("op %r" % op)


def serve(impl, engine="python", version="", runtime="", supports=None):
    """Answers requests with `impl` until stdin closes or a shutdown request; `engine` names it."""
    name = engine
    # rnnlab ends this process (stdin closes, or it is killed); Ctrl-C in the terminal reaches the
    # whole process group, and rnnlab may still need this engine to finish a step and checkpoint
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout
    sys.stdout = sys.stderr  # prints from the model go to stderr
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        rid = None
        try:
            req = json.loads(line)
            rid = req.get("id")
            op = req.get("op")
            if op == "hello":
                answer = {"protocol": PROTOCOL, "engine": name, "version": version, "runtime": runtime, "supports": supports or {}}
            elif op == "shutdown":
                out.write(json.dumps({"id": rid, "ok": True}) + "\n")
                out.flush()
                return
            else:
                req = _decode_tree(req)
                t0 = time.perf_counter()
                answer = _call(impl, op, req) or {}
                if op in _TIMED:
                    answer.setdefault("ms", (time.perf_counter() - t0) * 1000.0)
            reply = {"id": rid, "ok": True}
            reply.update(_encode_tree(answer))
        except Unsupported as e:
            reply = {"id": rid, "ok": False, "unsupported": str(e)}
        except Exception as e:  # noqa: BLE001 - every failure becomes one error answer
            msg = ("%s: %s" % (type(e).__name__, e)).splitlines()[0] if str(e) else type(e).__name__
            reply = {"id": rid, "ok": False, "error": msg}
            import traceback

            traceback.print_exc(file=sys.stderr)
        out.write(json.dumps(reply) + "\n")
        out.flush()
