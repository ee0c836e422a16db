/**
 * recur_io.py, shared by every kind: recur model directories read and written with numpy only.
 * Python kept as written (String.raw): no backquote, no dollar-brace.
 */

export const RECUR_IO = String.raw`"""Reading and writing recur model directories (model.json + one weights file) with numpy only.

A recur model directory holds model.json (the TensorFlow.js layers format: topology, weights manifest, metadata) and
one weights file of little-endian float32 values. recur records the sha256 of the weights file, the topology and the
manifest under userDefinedMetadata.recur.sha256 and checks them when it loads a model, so writing a directory here
records them the same way. Writes are atomic: the weights go to a new file, then model.json (which names it) replaces
the old one, and only then are older weights files removed.
"""
import hashlib
import json
import os
import re
import secrets
import time

import numpy as np

WEIGHTS_RE = re.compile(r"^weights(-[0-9a-f]+)?\.bin$")


def _inside(base, name):
    """The path of 'name' inside 'base'; anything that leads outside it is an error."""
    path = os.path.realpath(os.path.join(base, name))
    root = os.path.realpath(base)
    if os.path.commonpath([root, path]) != root or path == root:
        raise ValueError(f"{base}/model.json names '{name}', outside the model directory")
    return path


def canonical_json(v):
    """JSON with sorted keys and no spaces, as recur hashes it (src/models/serialization.ts, canonicalJson)."""
    if isinstance(v, list):
        return "[" + ",".join(canonical_json(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical_json(v[k]) for k in sorted(v)) + "}"
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return json.dumps(v)


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def model_weight_specs(model_json):
    """The model's own weights (name, shape) in file order: optimizer slots left out."""
    return [
        (w["name"], list(w["shape"]))
        for group in model_json["weightsManifest"]
        for w in group["weights"]
        if w.get("group") != "optimizer"
    ]


def read_model_dir(path):
    """(model.json as a dict, {weight name: float32 array}) of a recur model directory; checks recur's sha256."""
    with open(os.path.join(path, "model.json"), encoding="utf-8") as f:
        model_json = json.load(f)
    recorded = ((model_json.get("userDefinedMetadata") or {}).get("recur") or {}).get("sha256") or {}
    arrays = {}
    for group in model_json["weightsManifest"]:
        chunks = []
        for p in group["paths"]:
            with open(_inside(path, p), "rb") as f:
                data = f.read()
            want = (recorded.get("weights") or {}).get(p)
            if want is not None and sha256_hex(data) != want:
                raise ValueError(f"{path}/{p}: its sha256 differs from the one recur recorded; the file is damaged")
            chunks.append(data)
        data = b"".join(chunks)
        off = 0
        for w in group["weights"]:
            if w.get("dtype", "float32") != "float32":
                raise ValueError(f"{path}/model.json: weight '{w['name']}' is {w['dtype']}, expected float32")
            n = int(np.prod(w["shape"], dtype=np.int64))
            if off + 4 * n > len(data):
                raise ValueError(f"{path}: the weights files are shorter than the manifest says")
            arrays[w["name"]] = np.frombuffer(data, dtype="<f4", count=n, offset=off).reshape(w["shape"]).copy()
            off += 4 * n
        if off != len(data):
            raise ValueError(f"{path}: the weights files are longer than the manifest says")
    return model_json, arrays


def _write_atomic(path, data):
    d, name = os.path.split(path)
    tmp = os.path.join(d, f".{name}.{os.getpid()}.{int(time.time() * 1000)}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_model_dir(path, template_json, arrays, metadata=None):
    """Writes a recur model directory: 'template_json''s topology and metadata (training state dropped), the weights
    'arrays' (by recur weight name, every model weight of the template), recur's sha256 records. Atomic."""
    os.makedirs(path, exist_ok=True)
    specs = model_weight_specs(template_json)
    parts = []
    for name, shape in specs:
        a = np.asarray(arrays[name], dtype="<f4")
        if list(a.shape) != shape:
            raise ValueError(f"weight '{name}' has shape {list(a.shape)}, the model needs {shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"weight '{name}' holds non-finite values; recur does not save them")
        parts.append(a.tobytes())
    data = b"".join(parts)
    weights_file = f"weights-{secrets.token_hex(4)}.bin"
    manifest = [{"paths": [weights_file], "weights": [{"name": n, "shape": s, "dtype": "float32"} for n, s in specs]}]
    meta = dict(template_json.get("userDefinedMetadata") or {})
    meta.pop("state", None)
    if metadata:
        meta.update(metadata)
    recur = dict(meta.get("recur") or {})
    old = recur.get("sha256") or {}
    if old.get("modelTopology"):
        # The topology is the template's, unchanged: its recorded hash still holds.
        recur["sha256"] = {
            "weights": {weights_file: sha256_hex(data)},
            "modelTopology": old["modelTopology"],
            "weightsManifest": sha256_hex(canonical_json(manifest).encode("utf-8")),
        }
    else:
        recur.pop("sha256", None)
    meta["recur"] = recur
    out = {k: v for k, v in template_json.items() if k not in ("weightsManifest", "userDefinedMetadata")}
    out["userDefinedMetadata"] = meta
    out["weightsManifest"] = manifest
    _write_atomic(os.path.join(path, weights_file), data)
    _write_atomic(os.path.join(path, "model.json"), (json.dumps(out, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    for f in os.listdir(path):
        if WEIGHTS_RE.match(f) and f != weights_file:
            try:
                os.unlink(os.path.join(path, f))
            except OSError:
                pass
`;
