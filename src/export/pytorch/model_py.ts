/**
 * model.py, shared by every kind: the recur model as a PyTorch nn.Module and the mapping of recur's (Keras) weight
 * layout to PyTorch's and back.
 * Python kept as written (String.raw): no backquote, no dollar-brace.
 */

export const MODEL = String.raw`"""The recur model as a PyTorch nn.Module, and the mapping between recur's (Keras) weight layout and PyTorch's.

recur's character models and classifiers are Keras Sequentials (RecurModel). The character models: one-hot character
inputs, a stack of LSTM / GRU / SimpleRNN layers (with Dropout layers between them), and a Dense softmax over the
vocabulary. The classifiers: an Embedding whose id 0 is padding (mask_zero), Bidirectional or plain LSTM / GRU
layers, optionally a GlobalMax/AveragePooling1D, Dropout, and a Dense softmax or sigmoid. The encoder–decoders are
Keras functional graphs (RecurGraph): source and target Embeddings, a (Bidirectional) encoder whose final states start
the decoder, Luong (Attention) or Bahdanau (AdditiveAttention) attention over the encoder's outputs, Concatenate and
Dense layers. PyTorch's layers compute the same functions with their weights laid out differently:

  Keras kernel [D, G·H] and recurrent_kernel [H, G·H]   →  PyTorch weight_ih [G·H, D] and weight_hh [G·H, H] (transposed)
  LSTM gates i, f, c, o                                  →  i, f, g, o (the same order)
  GRU gates z, r, h (reset_after: bias [2, 3H], input    →  r, z, n (reordered); bias_ih = the input bias, bias_hh = the
    bias then recurrent bias)                                 recurrent bias — PyTorch's GRU is Keras's reset_after=True
  GRU with reset_after=false (bias [3H])                 →  GRUResetBefore below (Keras's layout kept as it is)
  LSTM / SimpleRNN bias [G·H]                            →  bias_ih = bias, bias_hh = 0 (written back as their sum)
  Dense kernel [D, U]                                    →  Linear weight [U, D]
  Embedding embeddings [V, E]                            →  Embedding weight [V, E] (the same)
  Bidirectional(layer)                                   →  two such layers, 'forward_<name>' and 'backward_<name>'
  Attention / AdditiveAttention scale                    →  DotAttention.scale (the same)
  PReLU alpha (the input's shape, 1 on shared axes)      →  ActivationLayer.alpha (the same)

Keras's activation layers (Activation, ReLU, LeakyReLU, ThresholdedReLU, ELU, Softmax, PReLU) compute recur's
formulas with recur's defaults (ActivationLayer); a Softmax layer gives masked steps zero probability, as Keras 3's.

Masking (Keras's, as recur does it): with mask_zero, the steps whose id is 0 are masked. A masked step leaves the
recurrent state as it was and repeats the previous output; the backward direction of a Bidirectional layer reads the
whole sequence reversed (so trailing padding comes first and leaves its zero state alone); pooling skips masked steps.
Right-padded batches (all recur makes) run on PyTorch's packed sequences; other masks step by step.

The output layer's softmax or sigmoid (a Dense's, an Activation's or a Softmax layer's) is left out of forward (it
returns logits; the loss applies it); predict applies it, as recur's predict.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

RECURRENT = ("LSTM", "GRU", "SimpleRNN")
POOLING = ("GlobalMaxPooling1D", "GlobalAveragePooling1D")
MERGE_MODES = ("concat", "sum", "mul", "ave")
ACTIVATION_LAYERS = ("Activation", "ReLU", "LeakyReLU", "ThresholdedReLU", "ELU", "Softmax", "PReLU")
# What train.py's losses take logits of: the output layer's activation is linear, softmax or sigmoid.
LAST_ACTIVATIONS = ("linear", "softmax", "sigmoid")


class UnsupportedModel(ValueError):
    pass


def _gru_to_torch(m, H):
    """Keras GRU columns [z | r | h] → PyTorch rows [r | z | n] (on the last axis)."""
    return np.concatenate([m[..., H : 2 * H], m[..., 0:H], m[..., 2 * H : 3 * H]], axis=-1)


def _gru_from_torch(m, H):
    """PyTorch [r | z | n] → Keras [z | r | h] (on the last axis)."""
    return np.concatenate([m[..., H : 2 * H], m[..., 0:H], m[..., 2 * H : 3 * H]], axis=-1)


def to_torch_params(class_name, config, weights):
    """A recur layer's weights (short names: kernel, recurrent_kernel, bias, embeddings) as PyTorch parameters."""
    if class_name == "Embedding":
        return {"weight": weights["embeddings"]}
    if class_name in ("Attention", "AdditiveAttention", "PReLU"):
        return dict(weights)
    if class_name == "Dense":
        out = {"weight": weights["kernel"].T}
        if "bias" in weights:
            out["bias"] = weights["bias"]
        return out
    H = config["units"]
    W, U = weights["kernel"], weights["recurrent_kernel"]
    b = weights.get("bias")
    if class_name == "GRU" and not _reset_after(config):
        # GRUResetBefore keeps Keras's layout.
        return {k: v for k, v in weights.items()}
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
    if class_name == "Embedding":
        return {"embeddings": params["weight"]}
    if class_name in ("Attention", "AdditiveAttention", "PReLU"):
        return dict(params)
    if class_name == "Dense":
        out = {"kernel": params["weight"].T}
        if "bias" in params:
            out["bias"] = params["bias"]
        return out
    if class_name == "GRU" and not _reset_after(config):
        return dict(params)
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


def _reset_after(c):
    # Keras files without reset_after come from versions whose GRU reset before the product (recur reads them so).
    return c.get("reset_after", False) is True


def _check_recurrent(c, cls, in_bidirectional=False):
    name = c.get("name")
    if c.get("return_state") or (c.get("go_backwards") and not in_bidirectional):
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


class GRUResetBefore(nn.Module):
    """Keras's GRU with reset_after=false, which PyTorch does not have: the reset gate multiplies h before the
    recurrent product. Keras's layout (kernel [D, 3H], recurrent_kernel [H, 3H], bias [3H]; gates z, r, h):

      z = σ(x·Wz + h·Uz + bz)   r = σ(x·Wr + h·Ur + br)   ĥ = tanh(x·Wh + (r ⊙ h)·Uh + bh)   h' = z ⊙ h + (1 − z) ⊙ ĥ

    Called as nn.GRU (batch_first): (x [N, T, D], h0 [1, N, H] or None) → (outputs [N, T, H], h_n [1, N, H])."""

    def __init__(self, input_size, units, bias=True):
        super().__init__()
        self.units = units
        self.kernel = nn.Parameter(torch.zeros(input_size, 3 * units))
        self.recurrent_kernel = nn.Parameter(torch.zeros(units, 3 * units))
        self.bias = nn.Parameter(torch.zeros(3 * units)) if bias else None

    def forward(self, x, h0=None):
        H = self.units
        xp = x @ self.kernel
        if self.bias is not None:
            xp = xp + self.bias
        h = x.new_zeros(x.shape[0], H) if h0 is None else h0[0]
        Uzr, Uh = self.recurrent_kernel[:, : 2 * H], self.recurrent_kernel[:, 2 * H :]
        outputs = []
        for t in range(x.shape[1]):
            zr = torch.sigmoid(xp[:, t, : 2 * H] + h @ Uzr)
            z, r = zr[:, :H], zr[:, H:]
            hh = torch.tanh(xp[:, t, 2 * H :] + (r * h) @ Uh)
            h = z * h + (1 - z) * hh
            outputs.append(h)
        return torch.stack(outputs, 1), h.unsqueeze(0)


def _torch_recurrent(cls, c, input_size):
    bias = c.get("use_bias", True)
    if cls == "LSTM":
        return nn.LSTM(input_size, c["units"], batch_first=True, bias=bias)
    if cls == "GRU":
        if not _reset_after(c):
            return GRUResetBefore(input_size, c["units"], bias=bias)
        return nn.GRU(input_size, c["units"], batch_first=True, bias=bias)
    return nn.RNN(input_size, c["units"], nonlinearity=c.get("activation", "tanh"), batch_first=True, bias=bias)


def _h_of(state):
    """The output h [N, H] of a final state (LSTM: (h, c)), each [1, N, H]."""
    return (state[0] if isinstance(state, tuple) else state)[0]


def _where(keep, new, old):
    """Per row: 'new' where keep [N] is true, 'old' elsewhere (for states: tuples of [1, N, H])."""
    if isinstance(new, tuple):
        return tuple(_where(keep, a, b) for a, b in zip(new, old))
    return torch.where(keep.view(1, -1, 1), new, old)


def _zero_state(rnn, N, H, like):
    z = like.new_zeros(1, N, H)
    return (z, z.clone()) if isinstance(rnn, nn.LSTM) else z


def right_padded_lengths(mask):
    """The rows' lengths when mask [N, T] is true on each row's first steps only (right padding), else None."""
    lengths = mask.sum(1)
    steps = torch.arange(mask.shape[1], device=mask.device)
    if bool(torch.equal(mask, steps.unsqueeze(0) < lengths.unsqueeze(1))):
        return lengths
    return None


def _prefix_reversal(lengths, T):
    """Indices [N, T] that reverse each row's first 'length' steps and leave the rest in place."""
    steps = torch.arange(T, device=lengths.device).unsqueeze(0)
    L = lengths.unsqueeze(1)
    return torch.where(steps < L, L - 1 - steps, steps)


def _gather_steps(y, idx):
    return y.gather(1, idx.unsqueeze(-1).expand(-1, -1, y.shape[-1]))


class Recurrent(nn.Module):
    """One Keras recurrent layer over [N, T, D] → outputs [N, T, H], with Keras's masking. reverse=True is the backward
    half of a Bidirectional layer: it reads the sequence reversed and its outputs are put back in time order."""

    def __init__(self, cls, config, input_size, reverse=False):
        super().__init__()
        self.rnn = _torch_recurrent(cls, config, input_size)
        self.units = config["units"]
        self.reverse = reverse

    def forward(self, x, mask=None, state=None):
        """(outputs [N, T, H], final state) from the initial 'state' (None: zeros)."""
        if mask is not None and bool(mask.all()):
            mask = None
        if mask is None:
            xs = x.flip(1) if self.reverse else x
            y, final = self.rnn(xs, state)
            return (y.flip(1) if self.reverse else y), final
        lengths = right_padded_lengths(mask)
        if lengths is not None and not isinstance(self.rnn, GRUResetBefore):
            return self._packed(x, lengths, state)
        return self._stepwise(x, mask, state)

    def _packed(self, x, lengths, state):
        """Right-padded rows on PyTorch's packed sequences: each row runs over its own steps only."""
        N, T, _ = x.shape
        if state is None:
            state = _zero_state(self.rnn, N, self.units, x)
        idx = _prefix_reversal(lengths, T) if self.reverse else None
        xs = _gather_steps(x, idx) if self.reverse else x
        # A row of padding only (an empty text) runs one step, whose results are then dropped.
        packed = pack_padded_sequence(xs, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        y, final = self.rnn(packed, state)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=T)
        real = lengths > 0
        final = _where(real, final, state)
        h0 = _h_of(state)
        steps = torch.arange(T, device=x.device).unsqueeze(0)
        if self.reverse:
            # Back in time order; the trailing padding, read first in reverse, kept the initial state.
            y = torch.where((steps < lengths.unsqueeze(1)).unsqueeze(-1), _gather_steps(y, idx), h0.unsqueeze(1))
        else:
            # A masked step repeats the previous output: the trailing padding repeats the last real one.
            last = torch.minimum(steps, (lengths - 1).clamp(min=0).unsqueeze(1))
            y = torch.where(real.view(-1, 1, 1), _gather_steps(y, last), h0.unsqueeze(1))
        return y, final

    def _stepwise(self, x, mask, state):
        """Any mask: one step at a time, masked rows keeping their state (Keras's where(mask, new, old))."""
        N, T, _ = x.shape
        if state is None:
            state = _zero_state(self.rnn, N, self.units, x)
        order = range(T - 1, -1, -1) if self.reverse else range(T)
        outputs = [None] * T
        for t in order:
            _, new = self.rnn(x[:, t : t + 1], state)
            state = _where(mask[:, t], new, state)
            outputs[t] = _h_of(state)
        return torch.stack(outputs, 1), state


class Bidirectional(nn.Module):
    """Keras's Bidirectional: a forward and a backward copy of the layer, their outputs merged."""

    def __init__(self, cls, config, inner, input_size):
        super().__init__()
        self.merge_mode = config.get("merge_mode", "concat")
        if self.merge_mode not in MERGE_MODES:
            raise UnsupportedModel(f"layer '{config['name']}': merge_mode {self.merge_mode} is not exported")
        self.forward_layer = Recurrent(cls, inner, input_size)
        self.backward_layer = Recurrent(cls, inner, input_size, reverse=True)

    def forward(self, x, mask=None, state=None):
        yf, sf = self.forward_layer(x, mask, None if state is None else state[0])
        yb, sb = self.backward_layer(x, mask, None if state is None else state[1])
        return merge(self.merge_mode, yf, yb), (sf, sb)


def merge(mode, a, b):
    """A Bidirectional layer's two halves merged: concatenated, summed, multiplied or averaged."""
    if mode == "concat":
        return torch.cat([a, b], -1)
    if mode == "sum":
        return a + b
    if mode == "mul":
        return a * b
    return (a + b) / 2


def pool(kind, x, mask):
    """GlobalMax/AveragePooling1D over [N, T, D] → [N, D], over the unmasked steps (a row without any gives 0)."""
    if mask is None:
        return x.max(1).values if kind == "GlobalMaxPooling1D" else x.mean(1)
    m = mask.unsqueeze(-1)
    if kind == "GlobalMaxPooling1D":
        y = x.masked_fill(~m, float("-inf")).max(1).values
        return torch.where(mask.any(1, keepdim=True), y, torch.zeros_like(y))
    return (x * m).sum(1) / m.sum(1).clamp(min=1)


class RecurModel(nn.Module):
    """recur's Sequential models: token ids [N, T] → logits [N, T, V] or [N, classes] (or whatever the last layer
    gives). The first layer is an Embedding (ids → vectors, id 0 masked with mask_zero) or a recurrent layer over
    one-hot ids (recur's character models)."""

    def __init__(self, topology):
        super().__init__()
        if topology.get("class_name") != "Sequential":
            raise UnsupportedModel("only Sequential models are exported")
        layers = topology["config"]["layers"]
        if not layers:
            raise UnsupportedModel("the model has no layers")
        self.specs = []
        self.blocks = nn.ModuleList()
        self.acts = []  # per layer: the Dense activation applied after it, or None
        self.out_activation = "linear"
        self.vocab_size, self.mask_zero, self.stateful_batch = None, False, None
        first, c0 = layers[0]["class_name"], layers[0]["config"]
        shape = c0.get("batch_input_shape")
        if first == "Embedding":
            self.mask_zero = bool(c0.get("mask_zero", False))
        elif first in RECURRENT and shape and len(shape) == 3:
            self.vocab_size = shape[-1]
            self.stateful_batch = shape[0] if c0.get("stateful") else None
        else:
            raise UnsupportedModel("the first layer must be an Embedding, or a recurrent layer over one-hot ids")
        width = self.vocab_size
        for i, lj in enumerate(layers):
            cls, c = lj["class_name"], lj["config"]
            name = c.get("name")
            last = i == len(layers) - 1
            after = None  # a Dense's activation, applied to its output
            if cls == "Embedding":
                if i != 0:
                    raise UnsupportedModel(f"layer '{name}': an Embedding must be the first layer")
                m = nn.Embedding(c["input_dim"], c["output_dim"])
                width = c["output_dim"]
            elif cls in RECURRENT:
                _check_recurrent(c, cls)
                m = Recurrent(cls, c, width)
                width = c["units"]
            elif cls == "Bidirectional":
                inner = c["layer"]
                if inner["class_name"] not in RECURRENT:
                    raise UnsupportedModel(f"layer '{name}': Bidirectional({inner['class_name']}) is not exported")
                _check_recurrent(inner["config"], inner["class_name"], in_bidirectional=True)
                m = Bidirectional(inner["class_name"], c, inner["config"], width)
                width = inner["config"]["units"] * (2 if m.merge_mode == "concat" else 1)
            elif cls in POOLING:
                m = None
            elif cls == "Dropout":
                m = nn.Dropout(c["rate"])
            elif cls == "Dense":
                act = c.get("activation", "linear")
                if act not in ACTIVATIONS or (last and act not in LAST_ACTIVATIONS):
                    raise UnsupportedModel(f"layer '{name}': Dense activation {act} is not exported")
                after = ACTIVATIONS[act]
                m = nn.Linear(width, c["units"], bias=c.get("use_bias", True))
                width = c["units"]
            elif cls in ACTIVATION_LAYERS:
                m = ActivationLayer(cls, c)
                if last and m.activation not in LAST_ACTIVATIONS:
                    raise UnsupportedModel(f"layer '{name}' ({cls}): not exported as the last layer (its activation is not linear, softmax or sigmoid)")
            else:
                raise UnsupportedModel(f"layer '{name}': {cls} is not exported yet")
            if last and cls in ("Dense", *ACTIVATION_LAYERS):
                self.out_activation = m.activation if cls in ACTIVATION_LAYERS else c.get("activation", "linear")
            self.acts.append(after)
            self.specs.append((cls, c))
            self.blocks.append(m if m is not None else nn.Identity())

    @property
    def softmax_out(self):
        return self.out_activation == "softmax"

    def forward(self, x, states=None):
        """Logits for token ids x [N, T], and the recurrent layers' final states (one entry per recurrent layer),
        starting from 'states' (None: zeros)."""
        return self._run(x, states, logits=True)

    def predict(self, x, states=None):
        """recur's predict: the output after the last layer's activation (softmax or sigmoid probabilities)."""
        return self._run(x, states, logits=False)

    def _run(self, x, states, logits):
        # With logits, the output layer's softmax or sigmoid is left out (the training loss applies it).
        logits_at = len(self.specs) - 1 if logits and self.out_activation in ("softmax", "sigmoid") else None
        if self.vocab_size is not None:
            h, mask = F.one_hot(x, self.vocab_size).to(torch.float32), None
        else:
            h, mask = None, (x != 0) if self.mask_zero else None
        finals = []
        k = 0
        for i, ((cls, c), m, act) in enumerate(zip(self.specs, self.blocks, self.acts)):
            if cls == "Embedding":
                h = m(x)
            elif cls in RECURRENT or cls == "Bidirectional":
                h, st = m(h, mask, None if states is None else states[k])
                finals.append(st)
                k += 1
                inner = c["layer"]["config"] if cls == "Bidirectional" else c
                if not inner.get("return_sequences", False):
                    # The final state's output; a Bidirectional merges both halves' (the backward one read x_0 last).
                    h = merge(m.merge_mode, _h_of(st[0]), _h_of(st[1])) if cls == "Bidirectional" else _h_of(st)
                    mask = None
            elif cls in POOLING:
                h, mask = pool(cls, h, mask), None
            elif cls in ACTIVATION_LAYERS:
                if i != logits_at:
                    h = m(h, mask)
            else:
                h = m(h)
                if act is not None and i != logits_at:
                    h = act(h)
        return h, finals

    def _weight_layers(self):
        """(class name, config, recur weight-name prefix, module) of every layer with weights."""
        for (cls, c), m in zip(self.specs, self.blocks):
            if cls == "Bidirectional":
                inner = c["layer"]
                ic, iname = inner["class_name"], inner["config"]["name"]
                yield ic, inner["config"], f"{c['name']}/forward_{iname}/", m.forward_layer.rnn
                yield ic, inner["config"], f"{c['name']}/backward_{iname}/", m.backward_layer.rnn
            elif cls in RECURRENT:
                yield cls, c, c["name"] + "/", m.rnn
            elif cls in ("Embedding", "Dense", "PReLU"):
                yield cls, c, c["name"] + "/", m

    def load_recur_weights(self, arrays):
        """Sets the parameters from recur's weights ({'layer/kernel': array, ...})."""
        for cls, c, prefix, m in self._weight_layers():
            mine = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            params = to_torch_params(cls, c, mine)
            own = dict(m.named_parameters())
            if set(params) != set(own):
                raise UnsupportedModel(f"layer '{prefix[:-1]}': weights {sorted(mine)} do not fit {sorted(own)}")
            with torch.no_grad():
                for k, v in params.items():
                    if tuple(own[k].shape) != tuple(np.shape(v)):
                        raise UnsupportedModel(
                            f"layer '{prefix[:-1]}': weight {k} has shape {list(np.shape(v))}, the layer needs {list(own[k].shape)}"
                        )
                    own[k].copy_(torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)))

    def recur_weights(self):
        """The parameters as recur's weights ({'layer/kernel': float32 array, ...})."""
        out = {}
        for cls, c, prefix, m in self._weight_layers():
            params = {k: p.detach().cpu().numpy().astype(np.float32) for k, p in m.named_parameters()}
            for k, v in from_torch_params(cls, c, params).items():
                out[prefix + k] = np.ascontiguousarray(v, dtype=np.float32)
        return out


def _squareplus(x):
    # (x + sqrt(x^2 + 4)) / 2, which cancels for x << 0: there it is 2 / (sqrt(x^2 + 4) - x), as recur computes it.
    h = torch.hypot(x, torch.full_like(x, 2.0))
    return torch.where(x >= 0, 0.5 * (x + h), 2 / (h + x.abs()))


def _sparse_plus(x):
    return torch.where(x <= -1, torch.zeros_like(x), torch.where(x >= 1, x, 0.25 * (x + 1) ** 2))


# recur's activations by their model-file (Keras) names, with the constants of their string forms: PyTorch's function
# where it computes the same (hardswish is Keras 3's hard_silu, x * relu6(x + 3) / 6, and hardsigmoid Keras 3's
# hard_sigmoid; celu's alpha 1 makes it elu), the formula where PyTorch has none or another (Keras 1/2's hard_sigmoid,
# clip(0.2x + 0.5, 0, 1), sparse_sigmoid, sparse_plus, squareplus).
ACTIVATIONS = {
    "linear": lambda x: x,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "hard_sigmoid": lambda x: torch.clamp(0.2 * x + 0.5, 0, 1),
    "hard_sigmoid_keras3": F.hardsigmoid,
    "softmax": lambda x: torch.softmax(x, -1),
    "log_softmax": lambda x: F.log_softmax(x, -1),
    "elu": F.elu,
    "celu": F.elu,
    "selu": F.selu,
    "softplus": F.softplus,
    "softsign": F.softsign,
    "relu6": F.relu6,
    "exponential": torch.exp,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "swish": F.silu,
    "silu": F.silu,
    "mish": F.mish,
    "hard_silu": F.hardswish,
    "hard_swish": F.hardswish,
    "hard_tanh": F.hardtanh,
    "sparse_sigmoid": lambda x: torch.clamp((x + 1) / 2, 0, 1),
    "soft_shrink": lambda x: F.softshrink(x, 0.5),
    "hard_shrink": lambda x: F.hardshrink(x, 0.5),
    "log_sigmoid": F.logsigmoid,
    "tanh_shrink": F.tanhshrink,
    "sparse_plus": _sparse_plus,
    "squareplus": _squareplus,
}


def keras_relu(x, negative_slope=0.0, threshold=0.0, max_value=None):
    """Keras's relu with options, as recur computes it (its ReLU, LeakyReLU and ThresholdedReLU layers): x where
    x > threshold (x ≥ 0 for threshold 0), else 0; clipped to [0, max_value]; minus negative_slope·(threshold − x)
    below the threshold."""
    p = torch.relu(x) if threshold == 0 else torch.where(x > threshold, x, torch.zeros_like(x))
    if max_value is not None:
        p = p.clamp(0, max_value)
    return p - negative_slope * torch.relu(threshold - x) if negative_slope else p


def _prelu_shape(c):
    """PReLU's alpha shape: the layer's input shape without the batch axis, 1 on the shared axes (the batch axis 0)."""
    shape, name = c.get("batch_input_shape"), c.get("name")
    if not shape:
        raise UnsupportedModel(f"layer '{name}' (PReLU): model.json does not give its input shape, which alpha's follows")
    shared = c.get("shared_axes") or []
    shared = [shared] if isinstance(shared, int) else shared
    dims = [1 if axis in shared else d for axis, d in enumerate(shape[1:], 1)]
    if None in dims:
        raise UnsupportedModel(f"layer '{name}' (PReLU): an input axis without a fixed size must be shared (shared_axes)")
    return dims


class ActivationLayer(nn.Module):
    """Keras's activation layers, with recur's formulas and defaults, on any [N, …, D] (masks pass through):

      Activation(activation)                                        ACTIVATIONS[activation]
      ReLU(max_value, negative_slope, threshold), LeakyReLU(alpha 0.3), ThresholdedReLU(theta 1)      keras_relu
      ELU(alpha 1)                                                  x > 0 ? x : alpha·(exp(x) − 1)
      Softmax(axis −1)                                              masked steps: −1e9 before, 0 after (Keras 3's)
      PReLU                                                         relu(x) + alpha ⊙ min(x, 0), alpha learnt

    'activation' names what it computes as model files do ('softmax' for Softmax, the class name for the rest)."""

    def __init__(self, cls, c):
        super().__init__()
        self.cls = cls
        self.activation = "softmax" if cls == "Softmax" else cls
        self.relu = None  # keras_relu's options
        if cls == "Activation":
            self.activation = c.get("activation") or "linear"
            if self.activation not in ACTIVATIONS:
                raise UnsupportedModel(f"layer '{c.get('name')}': activation {self.activation} is not exported")
        elif cls == "ReLU":
            self.relu = (c.get("negative_slope", 0.0), c.get("threshold", 0.0), c.get("max_value"))
        elif cls == "LeakyReLU":
            self.relu = (c.get("alpha", 0.3), 0.0, None)
        elif cls == "ThresholdedReLU":
            self.relu = (0.0, c.get("theta", 1.0), None)
        elif cls == "ELU":
            self.elu_alpha = c.get("alpha", 1.0)
        elif cls == "Softmax":
            axis = c.get("axis", -1)
            self.axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
        elif cls == "PReLU":
            self.alpha = nn.Parameter(torch.zeros(_prelu_shape(c)))
        else:
            raise UnsupportedModel(f"layer '{c.get('name')}': {cls} is not an activation layer")

    def forward(self, x, mask=None):
        if self.cls == "Activation":
            return ACTIVATIONS[self.activation](x)
        if self.relu is not None:
            return keras_relu(x, *self.relu)
        if self.cls == "ELU":
            return F.elu(x, self.elu_alpha)
        if self.cls == "PReLU":
            return torch.relu(x) + self.alpha * torch.clamp(x, max=0)
        if mask is None:
            return torch.softmax(x, self.axis)
        masked = ~mask.view(*mask.shape, *([1] * (x.dim() - 2)))
        return torch.softmax(x.masked_fill(masked, -1e9), self.axis).masked_fill(masked, 0.0)


class DotAttention(nn.Module):
    """Keras's Attention (Luong, dot scores: S = s·Q·Kᵀ, s a learnt scalar with use_scale) and AdditiveAttention
    (Bahdanau: S_ij = Σ_d w_d·tanh(Q_id + K_jd), w learnt with use_scale). Padded value steps get no weight (Keras's
    −1e9, so a row of padding only weighs every step alike); the output is zero at padded query steps."""

    def __init__(self, cls, config, dim):
        super().__init__()
        self.additive = cls == "AdditiveAttention"
        self.causal = bool(config.get("use_causal_mask", False))
        if config.get("dropout", 0) or config.get("score_mode", "dot") != "dot":
            raise UnsupportedModel(f"layer '{config['name']}': attention dropout and score_mode concat are not exported")
        shape = (dim,) if self.additive else ()
        self.scale = nn.Parameter(torch.ones(shape)) if config.get("use_scale", self.additive) else None

    def forward(self, q, v, k=None, q_mask=None, v_mask=None):
        k = v if k is None else k
        if self.additive:
            e = torch.tanh(q.unsqueeze(2) + k.unsqueeze(1))
            scores = (e * self.scale).sum(-1) if self.scale is not None else e.sum(-1)
        else:
            scores = q @ k.transpose(1, 2)
            if self.scale is not None:
                scores = scores * self.scale
        if v_mask is not None:
            scores = scores.masked_fill(~v_mask.unsqueeze(1), -1e9)
        if self.causal:
            Tq, Tv = scores.shape[1], scores.shape[2]
            future = torch.ones(Tq, Tv, dtype=torch.bool, device=q.device).triu(1)
            scores = scores.masked_fill(future, -1e9)
        out = torch.softmax(scores, -1) @ v
        return out if q_mask is None else out * q_mask.unsqueeze(-1)


def _states_in(cls, tensors):
    """Keras's initial-state tensors ([N, H] each: h, then c for an LSTM) as a PyTorch state ([1, N, H])."""
    if not tensors:
        return None
    st = tuple(t.unsqueeze(0).contiguous() for t in tensors)
    return st if cls == "LSTM" else st[0]


def _states_out(state):
    """A PyTorch state as Keras's returned states: [h] or [h, c], each [N, H]."""
    return [s[0] for s in state] if isinstance(state, tuple) else [state[0]]


class RecurGraph(nn.Module):
    """recur's functional models (the seq2seq encoder–decoders): the Keras graph of model.json run layer by layer,
    masks flowing as in Keras (an Embedding's to the layers after it; the recurrent layers' sequence outputs keep
    it; Concatenate ANDs its inputs' masks; attention reads the query's and the value's). forward takes the model's
    inputs (token ids, in model.json's input order) and returns the output layer's logits."""

    def __init__(self, topology):
        super().__init__()
        if topology.get("class_name") not in ("Functional", "Model"):
            raise UnsupportedModel("not a functional model")
        cfg = topology["config"]
        self.inputs = [name for name, _, _ in cfg["input_layers"]]
        outputs = cfg["output_layers"]
        if len(outputs) != 1:
            raise UnsupportedModel("only models with one output are exported")
        self.output = (outputs[0][0], outputs[0][2])
        self.specs = {}
        self.order = []
        self.layers = nn.ModuleDict()
        self.out_activation = "linear"
        widths = {}
        pending = list(cfg["layers"])
        while pending:
            ready = [lj for lj in pending if all(n[0] in widths for node in lj["inbound_nodes"] for n in node)]
            if not ready:
                raise UnsupportedModel("the model's graph has a cycle or names a missing layer")
            for lj in ready:
                pending.remove(lj)
                widths[lj["name"]] = self._add(lj, widths)

    def _add(self, lj, widths):
        """Builds one layer; returns the widths of its outputs."""
        cls, c, name = lj["class_name"], lj["config"], lj["name"]
        if len(lj["inbound_nodes"]) > 1:
            raise UnsupportedModel(f"layer '{name}': a layer used more than once is not exported")
        inbound = lj["inbound_nodes"][0] if lj["inbound_nodes"] else []
        ins = [widths[n[0]][n[2]] for n in inbound]
        m = None
        if cls == "InputLayer":
            out = [None]
        elif cls == "Embedding":
            m = nn.Embedding(c["input_dim"], c["output_dim"])
            out = [c["output_dim"]]
        elif cls in RECURRENT:
            _check_recurrent({**c, "return_state": False}, cls)
            m = Recurrent(cls, c, ins[0])
            out = [c["units"]] * (1 + (2 if cls == "LSTM" else 1) * bool(c.get("return_state")))
        elif cls == "Bidirectional":
            inner = c["layer"]
            ic = inner["config"]
            if inner["class_name"] not in RECURRENT or len(ins) > 1:
                raise UnsupportedModel(f"layer '{name}': only a Bidirectional LSTM, GRU or SimpleRNN without initial states is exported")
            _check_recurrent({**ic, "return_state": False}, inner["class_name"], in_bidirectional=True)
            m = Bidirectional(inner["class_name"], c, ic, ins[0])
            H = ic["units"]
            n_states = (2 if inner["class_name"] == "LSTM" else 1) * bool(ic.get("return_state"))
            out = [H * (2 if m.merge_mode == "concat" else 1)] + [H] * (2 * n_states)
        elif cls == "Concatenate":
            if c.get("axis", -1) != -1:
                raise UnsupportedModel(f"layer '{name}': Concatenate on an axis other than the last is not exported")
            out = [sum(ins)]
        elif cls in ("Attention", "AdditiveAttention"):
            m = DotAttention(cls, c, ins[0])
            out = [ins[1]]
        elif cls == "Dense":
            act = c.get("activation", "linear")
            last = name == self.output[0]
            if act not in ACTIVATIONS:
                raise UnsupportedModel(f"layer '{name}': Dense activation {act} is not exported")
            m = nn.Linear(ins[0], c["units"], bias=c.get("use_bias", True))
            if last:
                self.out_activation = act
            out = [c["units"]]
        elif cls in ACTIVATION_LAYERS:
            m = ActivationLayer(cls, c)
            if name == self.output[0]:
                self.out_activation = m.activation
            out = [ins[0]]
        elif cls == "Dropout":
            m = nn.Dropout(c["rate"])
            out = [ins[0]]
        elif cls in POOLING:
            out = [ins[0]]
        else:
            raise UnsupportedModel(f"layer '{name}': {cls} is not exported yet")
        self.specs[name] = (cls, c, [(n[0], n[2]) for n in inbound])
        self.order.append(name)
        if m is not None:
            self.layers[name] = m
        return out

    def forward(self, *inputs):
        return self._run(inputs, logits=True)

    def predict(self, *inputs):
        """recur's predict: the output after the output layer's activation."""
        return self._run(inputs, logits=False)

    def _run(self, inputs, logits):
        if len(inputs) != len(self.inputs):
            raise ValueError(f"the model takes {len(self.inputs)} inputs ({', '.join(self.inputs)}), got {len(inputs)}")
        values = {}  # layer name → [(tensor, mask or None)] per output
        for name in self.order:
            cls, c, inbound = self.specs[name]
            xs = [values[n][i] for n, i in inbound]
            m = self.layers[name] if name in self.layers else None
            if cls == "InputLayer":
                values[name] = [(inputs[self.inputs.index(name)], None)]
            elif cls == "Embedding":
                x = xs[0][0]
                values[name] = [(m(x), (x != 0) if c.get("mask_zero") else None)]
            elif cls in RECURRENT:
                (x, mask), states = xs[0], [t for t, _ in xs[1:]]
                y, final = m(x, mask, _states_in(cls, states))
                seq = c.get("return_sequences", False)
                outs = [(y, mask) if seq else (_h_of(final), None)]
                if c.get("return_state"):
                    outs += [(t, None) for t in _states_out(final)]
                values[name] = outs
            elif cls == "Bidirectional":
                (x, mask) = xs[0]
                ic = c["layer"]["config"]
                y, (sf, sb) = m(x, mask)
                if ic.get("return_sequences", False):
                    outs = [(y, mask)]
                else:
                    outs = [(merge(m.merge_mode, _h_of(sf), _h_of(sb)), None)]
                if ic.get("return_state"):
                    outs += [(t, None) for t in _states_out(sf) + _states_out(sb)]
                values[name] = outs
            elif cls == "Concatenate":
                masks = [mk for _, mk in xs if mk is not None]
                mask = None
                for mk in masks:
                    mask = mk if mask is None else mask & mk
                values[name] = [(torch.cat([t for t, _ in xs], -1), mask)]
            elif cls in ("Attention", "AdditiveAttention"):
                (q, q_mask), (v, v_mask) = xs[0], xs[1]
                k = xs[2][0] if len(xs) > 2 else None
                values[name] = [(m(q, v, k, q_mask, v_mask), q_mask)]
            elif cls == "Dense":
                x, mask = xs[0]
                y = m(x)
                act = c.get("activation", "linear")
                # The output's softmax is left out for logits (the loss applies it).
                skip = logits and act == "softmax" and name == self.output[0]
                values[name] = [(y if skip else ACTIVATIONS[act](y), mask)]
            elif cls in ACTIVATION_LAYERS:
                x, mask = xs[0]
                skip = logits and m.activation == "softmax" and name == self.output[0]
                values[name] = [(x if skip else m(x, mask), mask)]
            elif cls in POOLING:
                x, mask = xs[0]
                values[name] = [(pool(cls, x, mask), None)]
            else:
                x, mask = xs[0]
                values[name] = [(m(x), mask)]
        name, i = self.output
        return values[name][i][0]

    def _weight_layers(self):
        for name in self.order:
            cls, c, _ = self.specs[name]
            if cls == "Bidirectional":
                inner = c["layer"]
                ic, iname = inner["class_name"], inner["config"]["name"]
                m = self.layers[name]
                yield ic, inner["config"], f"{name}/forward_{iname}/", m.forward_layer.rnn
                yield ic, inner["config"], f"{name}/backward_{iname}/", m.backward_layer.rnn
            elif cls in RECURRENT:
                yield cls, c, name + "/", self.layers[name].rnn
            elif cls in ("Embedding", "Dense", "Attention", "AdditiveAttention", "PReLU"):
                yield cls, c, name + "/", self.layers[name]

    load_recur_weights = RecurModel.load_recur_weights
    recur_weights = RecurModel.recur_weights


def recur_model(topology):
    """The nn.Module of a recur model's topology: RecurModel (Sequential) or RecurGraph (functional)."""
    return RecurModel(topology) if topology.get("class_name") == "Sequential" else RecurGraph(topology)


def detach_states(states):
    """Carried states cut from the graph (truncated backpropagation through time)."""
    return [tuple(s.detach() for s in st) if isinstance(st, tuple) else st.detach() for st in states]
`;
