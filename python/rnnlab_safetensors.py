"""
Reads safetensors files with NumPy alone (no `safetensors` package needed): rnnlab's --dump files,
weights, data and checkpoints.

    import sys; sys.path.insert(0, "python")            # this folder of rnnlab
    from rnnlab_safetensors import load_file, load_metadata
    ours = load_file("out/scratch-f64.safetensors")     # {name: numpy array}
    print(load_metadata("out/scratch-f64.safetensors")) # the file's __metadata__ (engine, spec, ...)

The format (huggingface/safetensors): 8 bytes, the header's length N as a little-endian unsigned
64-bit integer; N bytes of JSON, {name: {"dtype", "shape", "data_offsets": [begin, end]}} and an
optional "__metadata__" of strings; then the data, each tensor little-endian and row-major at
its offsets (relative to the end of the header).
"""
import json
import struct

import numpy as np

DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}


def _read(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: not a safetensors file (shorter than its 8-byte header length)" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError("%s: the header claims %d bytes, but the file has %d" % (path, n, len(data) - 8))
    header = json.loads(data[8:8 + n].decode("utf-8"))
    return header, memoryview(data)[8 + n:]


def load_file(path):
    """Every tensor of the file as a NumPy array (a copy, so the file can be written again)."""
    header, body = _read(path)
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] not in DTYPES:
            raise ValueError("%s: tensor %s is %s, which this reader does not know" % (path, name, t["dtype"]))
        begin, end = t["data_offsets"]
        dtype = np.dtype(DTYPES[t["dtype"]])
        shape = tuple(t["shape"])
        if end - begin != dtype.itemsize * int(np.prod(shape, dtype=np.int64)) or end > len(body):
            raise ValueError("%s: tensor %s has %d bytes for shape %s %s" % (path, name, end - begin, list(shape), t["dtype"]))
        out[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(shape).copy()
    return out


def load_metadata(path):
    """The file's __metadata__ (a dict of strings; empty when it has none)."""
    header, _ = _read(path)
    return dict(header.get("__metadata__", {}))
