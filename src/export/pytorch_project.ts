/**
 * The Python project 'recur export pytorch' writes: the model as a PyTorch nn.Module (model.py), the recipe's data
 * (data.py), recur model directories read and written with numpy (recur_io.py) and the training script with
 * DistributedDataParallel (train.py). The files are generic: they read the model's layers, weights and recipe from the
 * recur model directory beside them (start/), so one project text serves every exportable model. Kept here as text so
 * the library can hand it to any writer (the CLI writes it with atomic writes). The Python is kept as it is written
 * (String.raw), so it uses no backquote and no dollar-brace.
 */

/** File name → contents of the exported project (start/, the model, is written beside them). */
export function pytorchProjectFiles(): Record<string, string> {
  return { ...FILES };
}

const FILES: Record<string, string> = {
  'README.md': `# A recur model, trained with PyTorch

Written by \`recur export pytorch\`. \`start/\` is the recur model this project starts from (its weights, vocabulary and
recipe); the Python files are small and self-contained (PyTorch and numpy only):

| file          | what it holds                                                                                      |
| ------------- | -------------------------------------------------------------------------------------------------- |
| \`model.py\`    | the model as an \`nn.Module\`, and the mapping of recur's (Keras) weight layout to PyTorch's and back |
| \`data.py\`     | the recipe's data: the vocabulary, the validation split, windows (keras) or streams (char-rnn)     |
| \`recur_io.py\` | reading and writing recur model directories (model.json + weights) with numpy                      |
| \`train.py\`    | training: the recipe's optimizer, clipping, ReduceLROnPlateau and save-best; checkpoints, resume   |

## Train

\`\`\`sh
python train.py --text book.txt --epochs 10 --out run            # one CPU
python train.py --text book.txt --epochs 10 --out run --device cuda
torchrun --nproc_per_node 4 train.py --text book.txt --epochs 10 --out run             # 4 processes, one machine
torchrun --nnodes 2 --node_rank 0 --nproc_per_node 8 --master_addr HOST --master_port 29500 \\
  train.py --text book.txt --epochs 10 --out run --device cuda                         # and node_rank 1 on the other
python train.py --text book.txt --epochs 10 --out run --resume   # continue from run/'s checkpoints
python train.py --text book.txt --max-steps 100 --out run        # stop after 100 optimizer steps
\`\`\`

Several processes share the work (DistributedDataParallel: gloo on CPUs, nccl on GPUs); the keras recipe's windows
are divided by a DistributedSampler, the char-rnn recipe's text is cut into batch-size × processes streams, each
process carrying its own streams' states.

After every epoch whose monitored loss improves, process 0 writes the model to \`--out\` as a recur model directory
(atomically), so recur uses it directly:

\`\`\`sh
recur generate run --length 400 --temperature 0.5
recur evaluate run book.txt
\`\`\`

With Debian's PyTorch 1.13 on Python 3.11, torchrun's default output settings fail (\`'NoneType' object has no
attribute 'get'\`); add \`--redirects 1 --tee 1\` to its options.
`,
  'model.py': String.raw`"""The recur model as a PyTorch nn.Module, and the mapping between recur's (Keras) weight layout and PyTorch's.

recur's character models are a Keras Sequential: one-hot character inputs, a stack of LSTM / GRU / SimpleRNN layers
(with Dropout layers between them), and a Dense softmax over the vocabulary. PyTorch's recurrent layers compute the
same functions with their weights laid out differently:

  Keras kernel [D, G·H] and recurrent_kernel [H, G·H]   →  PyTorch weight_ih [G·H, D] and weight_hh [G·H, H] (transposed)
  LSTM gates i, f, c, o                                  →  i, f, g, o (the same order)
  GRU gates z, r, h (reset_after: bias [2, 3H], input    →  r, z, n (reordered); bias_ih = the input bias, bias_hh = the
    bias then recurrent bias)                                 recurrent bias — PyTorch's GRU is Keras's reset_after=True
  LSTM / SimpleRNN bias [G·H]                            →  bias_ih = bias, bias_hh = 0 (written back as their sum)
  Dense kernel [D, U]                                    →  Linear weight [U, D]

The last Dense layer's softmax is left out of forward (it returns logits; the loss applies log-softmax).
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

RECURRENT = ("LSTM", "GRU", "SimpleRNN")


class UnsupportedModel(ValueError):
    pass


def _gru_to_torch(m, H):
    """Keras GRU columns [z | r | h] → PyTorch rows [r | z | n] (on the last axis)."""
    return np.concatenate([m[..., H : 2 * H], m[..., 0:H], m[..., 2 * H : 3 * H]], axis=-1)


def _gru_from_torch(m, H):
    """PyTorch [r | z | n] → Keras [z | r | h] (on the last axis)."""
    return np.concatenate([m[..., H : 2 * H], m[..., 0:H], m[..., 2 * H : 3 * H]], axis=-1)


def to_torch_params(class_name, config, weights):
    """A recur layer's weights (short names: kernel, recurrent_kernel, bias) as PyTorch parameters (by name)."""
    if class_name == "Dense":
        out = {"weight": weights["kernel"].T}
        if "bias" in weights:
            out["bias"] = weights["bias"]
        return out
    H = config["units"]
    W, U = weights["kernel"], weights["recurrent_kernel"]
    b = weights.get("bias")
    if class_name == "GRU":
        W, U = _gru_to_torch(W, H), _gru_to_torch(U, H)
        out = {"weight_ih_l0": W.T, "weight_hh_l0": U.T}
        if b is not None:
            out["bias_ih_l0"] = _gru_to_torch(b[0], H)
            out["bias_hh_l0"] = _gru_to_torch(b[1], H)
        return out
    out = {"weight_ih_l0": W.T, "weight_hh_l0": U.T}
    if b is not None:
        out["bias_ih_l0"] = b
        out["bias_hh_l0"] = np.zeros_like(b)
    return out


def from_torch_params(class_name, config, params):
    """The inverse of to_torch_params: PyTorch parameters → recur's weights (short names)."""
    if class_name == "Dense":
        out = {"kernel": params["weight"].T}
        if "bias" in params:
            out["bias"] = params["bias"]
        return out
    H = config["units"]
    W, U = params["weight_ih_l0"].T, params["weight_hh_l0"].T
    has_bias = "bias_ih_l0" in params
    if class_name == "GRU":
        out = {"kernel": _gru_from_torch(W, H), "recurrent_kernel": _gru_from_torch(U, H)}
        if has_bias:
            out["bias"] = np.stack(
                [_gru_from_torch(params["bias_ih_l0"], H), _gru_from_torch(params["bias_hh_l0"], H)]
            )
        return out
    out = {"kernel": W, "recurrent_kernel": U}
    if has_bias:
        out["bias"] = params["bias_ih_l0"] + params["bias_hh_l0"]
    return out


def _check_recurrent(c, cls):
    name = c.get("name")
    if c.get("go_backwards") or c.get("return_state"):
        raise UnsupportedModel(f"layer '{name}': go_backwards and return_state are not exported")
    if c.get("dropout", 0) or c.get("recurrent_dropout", 0):
        raise UnsupportedModel(f"layer '{name}': dropout inside a recurrent layer is not exported (use Dropout layers)")
    act = c.get("activation", "tanh")
    if cls == "SimpleRNN":
        if act not in ("tanh", "relu"):
            raise UnsupportedModel(f"layer '{name}': activation {act} (PyTorch's RNN has tanh or relu)")
        return
    if act != "tanh" or c.get("recurrent_activation", "sigmoid") != "sigmoid":
        raise UnsupportedModel(f"layer '{name}': PyTorch's {cls} needs activation tanh and recurrent_activation sigmoid")
    if cls == "GRU" and c.get("reset_after", True) is not True:
        raise UnsupportedModel(f"layer '{name}': a GRU with reset_after=false has no PyTorch equal (train with --gru-reset-after true)")


class RecurModel(nn.Module):
    """recur's Sequential character model: token ids [N, T] → logits [N, T, V] (return_sequences) or [N, V]."""

    def __init__(self, topology):
        super().__init__()
        if topology.get("class_name") != "Sequential":
            raise UnsupportedModel("only Sequential models are exported")
        self.specs = []
        self.blocks = nn.ModuleList()
        width = None
        self.softmax_out = False
        for i, lj in enumerate(topology["config"]["layers"]):
            cls, c = lj["class_name"], lj["config"]
            if i == 0:
                shape = c.get("batch_input_shape")
                if not shape or len(shape) != 3:
                    raise UnsupportedModel("the first layer must take [batch, time, vocabulary] inputs")
                width = shape[-1]
                self.vocab_size = width
                self.stateful_batch = shape[0] if c.get("stateful") else None
            if cls in RECURRENT:
                _check_recurrent(c, cls)
                if cls == "LSTM":
                    m = nn.LSTM(width, c["units"], batch_first=True, bias=c.get("use_bias", True))
                elif cls == "GRU":
                    m = nn.GRU(width, c["units"], batch_first=True, bias=c.get("use_bias", True))
                else:
                    m = nn.RNN(width, c["units"], nonlinearity=c.get("activation", "tanh"), batch_first=True,
                               bias=c.get("use_bias", True))
                width = c["units"]
            elif cls == "Dropout":
                m = nn.Dropout(c["rate"])
            elif cls == "Dense":
                act = c.get("activation", "linear")
                last = i == len(topology["config"]["layers"]) - 1
                if not (act == "linear" or (act == "softmax" and last)):
                    raise UnsupportedModel(f"layer '{c['name']}': Dense activation {act} is not exported")
                self.softmax_out = act == "softmax"
                m = nn.Linear(width, c["units"], bias=c.get("use_bias", True))
                width = c["units"]
            else:
                raise UnsupportedModel(f"layer '{c.get('name')}': {cls} is not exported yet")
            self.specs.append((cls, c))
            self.blocks.append(m)

    def forward(self, x, states=None):
        """Logits for token ids x [N, T], and the recurrent layers' final states (one entry per recurrent layer),
        starting from 'states' (None: zeros)."""
        h = F.one_hot(x, self.vocab_size).to(torch.float32)
        finals = []
        k = 0
        for (cls, c), m in zip(self.specs, self.blocks):
            if cls in RECURRENT:
                h, st = m(h, None if states is None else states[k])
                finals.append(st)
                k += 1
                if not c.get("return_sequences", False):
                    h = h[:, -1]
            else:
                h = m(h)
        return h, finals

    def predict(self, x, states=None):
        """recur's predict: the output after the last layer's activation (softmax probabilities)."""
        logits, finals = self.forward(x, states)
        return (torch.softmax(logits, dim=-1) if self.softmax_out else logits), finals

    def load_recur_weights(self, arrays):
        """Sets the parameters from recur's weights ({'layer/kernel': array, ...})."""
        for (cls, c), m in zip(self.specs, self.blocks):
            if cls == "Dropout":
                continue
            prefix = c["name"] + "/"
            mine = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            params = to_torch_params(cls, c, mine)
            own = dict(m.named_parameters())
            if set(params) != set(own):
                raise UnsupportedModel(f"layer '{c['name']}': weights {sorted(mine)} do not fit {sorted(own)}")
            with torch.no_grad():
                for k, v in params.items():
                    own[k].copy_(torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)))

    def recur_weights(self):
        """The parameters as recur's weights ({'layer/kernel': float32 array, ...})."""
        out = {}
        for (cls, c), m in zip(self.specs, self.blocks):
            if cls == "Dropout":
                continue
            params = {k: p.detach().cpu().numpy().astype(np.float32) for k, p in m.named_parameters()}
            for k, v in from_torch_params(cls, c, params).items():
                out[f"{c['name']}/{k}"] = np.ascontiguousarray(v, dtype=np.float32)
        return out


def detach_states(states):
    """Carried states cut from the graph (truncated backpropagation through time)."""
    return [tuple(s.detach() for s in st) if isinstance(st, tuple) else st.detach() for st in states]
`,
  'data.py': String.raw`"""The recipe's data, as recur cuts it (src/text/corpus.ts): the text encoded with the model's vocabulary, the last
'validationSplit' of it held out, then either windows of 'maxlen' characters every 'step' (keras recipe), each
predicting the next character, or 'batchSize' contiguous streams read 'seqLength' characters at a time (char-rnn
recipe), every position predicting the next character."""
import math

import numpy as np
import torch


def encode(text, vocabulary, lowercase):
    """Token ids of the text's characters; characters outside the vocabulary are skipped (and counted)."""
    if lowercase:
        text = text.lower()
    index = {c: i for i, c in enumerate(vocabulary)}
    ids = [index.get(c, -1) for c in text]
    skipped = sum(1 for i in ids if i < 0)
    return np.array([i for i in ids if i >= 0], dtype=np.int64), skipped


def split(data, fraction):
    """(train, validation or None): the validation set is the end of the text, as recur holds it out."""
    if fraction <= 0:
        return data, None
    cut = math.floor(len(data) * (1 - fraction))
    return data[:cut], data[cut:]


class Windows(torch.utils.data.Dataset):
    """Window i: characters [i·step, i·step + maxlen) → the next one."""

    def __init__(self, data, maxlen, step):
        self.data, self.maxlen, self.step = torch.from_numpy(data), maxlen, step
        self.count = max(0, math.ceil((len(data) - maxlen) / step))

    def __len__(self):
        return self.count

    def __getitem__(self, i):
        off = i * self.step
        return self.data[off : off + self.maxlen], self.data[off + self.maxlen]


def streams(data, batch_size, seq_length, rank=0, world=1):
    """char-rnn batches for this process: the text split into batch_size × world streams, this process reading
    streams [rank·batch_size, (rank + 1)·batch_size); a list of (x, y) [batch_size, seq_length] pairs."""
    n = batch_size * world
    stream_len = (len(data) - 1) // n
    batches = stream_len // seq_length
    if batches < 1:
        raise ValueError(f"the text has {len(data)} characters; {n} streams of {seq_length} need {n * seq_length + 1}")
    out = []
    for k in range(batches):
        x = np.empty((batch_size, seq_length), dtype=np.int64)
        y = np.empty((batch_size, seq_length), dtype=np.int64)
        for b in range(batch_size):
            off = (rank * batch_size + b) * stream_len + k * seq_length
            x[b] = data[off : off + seq_length]
            y[b] = data[off + 1 : off + seq_length + 1]
        out.append((torch.from_numpy(x), torch.from_numpy(y)))
    return out
`,
  'recur_io.py': String.raw`"""Reading and writing recur model directories (model.json + one weights file) with numpy only.

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
`,
  'train.py': String.raw`"""Trains the exported recur model with PyTorch: on one CPU ('python train.py --text book.txt'), or on several processes
or machines with DistributedDataParallel ('torchrun --nproc_per_node N train.py …': gloo on CPUs, nccl on GPUs).

The recipe is the one recur trained with (the settings in start/model.json): the same vocabulary, windows or streams
and validation split; the same optimizer (Adam, RMSprop with ε where recur puts it, or SGD) and global-norm clipping;
recur's ReduceLROnPlateau (factor 0.2, patience 1, min lr 0.001) and save-best on the monitored loss. After every
epoch in which it improves, process 0 writes the model to --out as a recur model directory (atomically), which every
recur command reads ('recur generate OUT'). --out also gets log.csv and this script's checkpoints (--resume).
"""
import argparse
import csv
import math
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import data as textdata  # noqa: E402
import recur_io  # noqa: E402
from model import RecurModel, detach_states  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--text", help="the text to train on (default: the one named in start/model.json, if it exists)")
    p.add_argument("--start", default=os.path.join(HERE, "start"), help="the recur model to start from")
    p.add_argument("--epochs", type=int, default=1, help="epochs to train (counting those of a resumed run)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many optimizer steps (0: no limit)")
    p.add_argument("--out", default="pytorch-run", help="where the recur-format model, log.csv and checkpoints go")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the recipe's)")
    a = p.parse_args()
    if a.epochs < 1 or a.max_steps < 0:
        p.error("--epochs must be at least 1 and --max-steps at least 0")
    return a


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


def make_optimizer(settings, params):
    name, lr = settings["optimizer"], settings["learningRate"]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-7)
    if name == "rmsprop":
        if settings.get("rmspropEpsilon", "inside") == "outside":
            # PyTorch's RMSprop adds ε outside the square root, as recur's 'outside'.
            return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7)
        return RMSpropInside(params, lr=lr)
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


def main():
    a = parse_args()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("nccl" if a.device == "cuda" else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    if a.device == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    say = print if rank == 0 else (lambda *_, **__: None)

    template, arrays = recur_io.read_model_dir(a.start)
    meta = template["userDefinedMetadata"]
    s, vocabulary = meta["settings"], meta["vocabulary"]
    text_path = a.text or s.get("source")
    if not text_path or not os.path.isfile(text_path):
        raise SystemExit(f"train.py: give the text with --text (the recipe names '{s.get('source')}', not a file here)")
    with open(text_path, encoding="utf-8") as f:
        ids, skipped = textdata.encode(f.read(), vocabulary, s["lowercase"])
    if skipped:
        say(f"Note: {skipped} characters outside the model's vocabulary were skipped")
    train_ids, val_ids = textdata.split(ids, s["validationSplit"])
    seed = s["seed"] if a.seed is None else a.seed
    torch.manual_seed(seed * 1000 + rank)

    model = RecurModel(template["modelTopology"]).to(device)
    model.load_recur_weights(arrays)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    opt = make_optimizer(s, model.parameters())
    plateau = ReduceLROnPlateau()
    stateful = s["recipe"] == "char-rnn"
    monitor = "val_loss" if val_ids is not None else "loss"
    os.makedirs(a.out, exist_ok=True)
    ckpt_path = os.path.join(a.out, f"pytorch-checkpoint.rank{rank}.pt")

    # Training state, or the checkpoint's.
    st = {"epoch": 0, "batch": 0, "step": 0, "best": math.inf, "states": None}
    if a.resume:
        if not os.path.exists(ckpt_path):
            raise SystemExit(f"train.py: --resume: {ckpt_path} does not exist")
        ck = torch.load(ckpt_path, map_location=device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        plateau.wait, plateau.best = ck["plateau"]
        st = ck["train"]
        torch.set_rng_state(ck["rng"])
        say(f"Resuming at epoch {st['epoch'] + 1}, batch {st['batch'] + 1}")

    def save_checkpoint():
        tmp = f"{ckpt_path}.{os.getpid()}.tmp"
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "plateau": (plateau.wait, plateau.best),
                    "train": st, "rng": torch.get_rng_state()}, tmp)
        os.replace(tmp, ckpt_path)

    def batches(epoch, ids_, shuffle, batch_size):
        if stateful:
            return textdata.streams(ids_, s["batchSize"], s["seqLength"], rank if shuffle else 0, world if shuffle else 1)
        ds = textdata.Windows(ids_, s["maxlen"], s["step"])
        sampler = torch.utils.data.DistributedSampler(ds, num_replicas=world if shuffle else 1,
                                                      rank=rank if shuffle else 0, shuffle=shuffle, seed=seed)
        sampler.set_epoch(epoch)
        return torch.utils.data.DataLoader(ds, batch_size=batch_size, sampler=sampler)

    def loss_of(logits, y):
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    def validate():
        model.eval()
        total, n, states = 0.0, 0, None
        with torch.no_grad():
            for x, y in batches(0, val_ids, False, 512):
                x, y = x.to(device), y.to(device)
                logits, finals = model(x, states)
                if stateful:
                    states = finals
                total += loss_of(logits, y).item() * x.shape[0]
                n += x.shape[0]
        return total / max(n, 1)

    stopped = False
    while st["epoch"] < a.epochs and not stopped:
        epoch = st["epoch"]
        model.train()
        start = time.time()
        sums = torch.zeros(2, dtype=torch.float64)
        if st["batch"] == 0:
            st["sums"], st["states"] = [0.0, 0.0], None
        sums += torch.tensor(st["sums"], dtype=torch.float64)
        seen_before = sums[1].item()
        states = st["states"]
        for b, (x, y) in enumerate(batches(epoch, train_ids, True, s["batchSize"])):
            if b < st["batch"]:
                continue
            x, y = x.to(device), y.to(device)
            logits, finals = net(x, states)
            loss = loss_of(logits, y)
            opt.zero_grad()
            loss.backward()
            if s.get("clipnorm"):
                torch.nn.utils.clip_grad_norm_(model.parameters(), s["clipnorm"])
            opt.step()
            if stateful:
                states = detach_states(finals)
            sums += torch.tensor([loss.item() * x.shape[0], x.shape[0]], dtype=torch.float64)
            st["step"] += 1
            st["batch"] = b + 1
            if a.max_steps and st["step"] >= a.max_steps:
                stopped = True
                break
        if stopped and st["batch"] < len(batches(epoch, train_ids, True, s["batchSize"])):
            # Mid-epoch: the checkpoint keeps the epoch's sums and the streams' states for --resume.
            st["sums"], st["states"] = sums.tolist(), states
            save_checkpoint()
            if rank == 0 and not os.path.exists(os.path.join(a.out, "model.json")):
                recur_io.write_model_dir(a.out, template, model.recur_weights())
            mean = sums[0].item() / max(sums[1].item(), 1)
            say(f"Stopped after {st['step']} steps (--max-steps) at epoch {epoch + 1}, batch {st['batch']}: "
                f"loss {mean:.4f} so far this epoch on process 0 ({(sums[1].item() - seen_before) / (time.time() - start):.0f} "
                f"samples/s); continue with --resume")
            break
        if world > 1:
            total = sums.to(device)
            dist.all_reduce(total)
            sums = total.cpu()
        logs = {"loss": sums[0].item() / max(sums[1].item(), 1)}
        if not math.isfinite(logs["loss"]):
            raise SystemExit(f"train.py: the loss became non-finite at epoch {epoch + 1}; nothing of it was saved")
        if val_ids is not None:
            logs["val_loss"] = validate()
        logs["lr"] = opt.param_groups[0]["lr"]
        seconds = time.time() - start
        say(f"Epoch {epoch + 1}/{a.epochs}: " + ", ".join(f"{k} {v:.4f}" for k, v in logs.items())
            + f" ({(sums[1].item() - seen_before * world) / seconds:.0f} samples/s)")
        if rank == 0:
            if logs[monitor] < st["best"]:
                st["best"] = logs[monitor]
                recur_io.write_model_dir(a.out, template, model.recur_weights())
                say(f"Epoch {epoch + 1}: {monitor} improved to {logs[monitor]:.4f}, saved {a.out}")
            log = os.path.join(a.out, "log.csv")
            new = not os.path.exists(log) or epoch == 0
            with open(log, "w" if new else "a", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                if new:
                    w.writerow(["epoch", *sorted(logs)])
                w.writerow([epoch, *(logs[k] for k in sorted(logs))])
        plateau.step(logs[monitor], opt)
        st["epoch"], st["batch"], st["states"] = epoch + 1, 0, None
        save_checkpoint()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
`,
};
