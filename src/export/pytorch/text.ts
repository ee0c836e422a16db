/**
 * The text recipe's own files (recur train's character models): README.md, data.py (windows or TBPTT streams cut
 * as src/text/corpus.ts cuts them) and train.py.
 * Python kept as written (String.raw): no backquote, no dollar-brace.
 */

export const TEXT_README = `# A recur model, trained with PyTorch

Written by \`recur export pytorch\`. \`start/\` is the recur model this project starts from (its weights, vocabulary and
recipe); the Python files are small and self-contained (PyTorch and numpy only):

| file          | what it holds                                                                                      |
| ------------- | -------------------------------------------------------------------------------------------------- |
| \`model.py\`    | the model as an \`nn.Module\`, and the mapping of recur's (Keras) weight layout to PyTorch's and back |
| \`data.py\`     | the recipe's data: the vocabulary, the validation split, windows (keras) or streams (char-rnn)     |
| \`recur_io.py\` | reading and writing recur model directories (model.json + weights) with numpy                      |
| \`optim.py\`    | recur's optimizers (RMSprop and Adagrad with ε where Keras puts it) and ReduceLROnPlateau          |
| \`run.py\`      | what every train.py shares: flags, torchrun processes, checkpoints and --resume, log.csv           |
| \`train.py\`    | training: the recipe's optimizer, clipping, ReduceLROnPlateau and save-best; checkpoints, resume   |

## Train

\`\`\`sh
python train.py --text book.txt --epochs 10 --out run            # one CPU
python train.py --text book.txt --epochs 10 --out run --device cuda
torchrun --nproc_per_node 4 train.py --text book.txt --epochs 10 --out run             # 4 processes, one machine
torchrun --nnodes 2 --node_rank 0 --nproc_per_node 8 --master_addr HOST --master_port 29500 \\
  train.py --text book.txt --epochs 10 --out run --device cuda                         # and node_rank 1 on the other
python train.py --text book.txt --epochs 10 --out run --resume   # continue from run/'s checkpoints
python train.py --text book.txt --epochs 10 --out run --overwrite   # start run/ over (a run there is kept otherwise)
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
`;

export const TEXT_DATA = String.raw`"""The recipe's data, as recur cuts it (src/text/corpus.ts): the text encoded with the model's vocabulary, the last
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
`;

export const TEXT_TRAIN = String.raw`"""Trains the exported recur model with PyTorch: on one CPU ('python train.py --text book.txt'), or on several processes
or machines with DistributedDataParallel ('torchrun --nproc_per_node N train.py …': gloo on CPUs, nccl on GPUs).

The recipe is the one recur trained with (the settings in start/model.json): the same vocabulary, windows or streams
and validation split; the same optimizer (Adam, RMSprop with ε where recur puts it, or SGD) and global-norm clipping;
recur's ReduceLROnPlateau (factor 0.2, patience 1, min lr 0.001) and save-best on the monitored loss. After every
epoch in which it improves, process 0 writes the model to --out as a recur model directory (atomically), which every
recur command reads ('recur generate OUT'). --out also gets log.csv and this script's checkpoints (--resume).
"""
import hashlib
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import data as textdata  # noqa: E402
import recur_io  # noqa: E402
from model import RecurModel, detach_states  # noqa: E402
from optim import ReduceLROnPlateau, make_optimizer  # noqa: E402
from run import Run, arguments  # noqa: E402


def parse_args():
    p = arguments(__doc__, HERE)
    p.add_argument("--text", help="the text to train on (default: the one named in start/model.json, if it exists)")
    p.add_argument("--epochs", type=int, default=1, help="epochs to train (counting those of a resumed run)")
    a = p.parse_args()
    if a.epochs < 1 or a.max_steps < 0:
        p.error("--epochs must be at least 1 and --max-steps at least 0")
    return a


def main():
    a = parse_args()
    run = Run(a)
    device, rank, world = run.device, run.rank, run.world

    template, arrays = recur_io.read_model_dir(a.start)
    meta = template["userDefinedMetadata"]
    s, vocabulary = meta["settings"], meta["vocabulary"]
    text_path = a.text or s.get("source")
    if not text_path or not os.path.isfile(text_path):
        raise SystemExit(f"train.py: give the text with --text (the recipe names '{s.get('source')}', not a file here)")
    with open(text_path, encoding="utf-8") as f:
        ids, skipped = textdata.encode(f.read(), vocabulary, s["lowercase"])
    if skipped:
        run.say(f"Note: {skipped} characters outside the model's vocabulary were skipped")
    train_ids, val_ids = textdata.split(ids, s["validationSplit"])
    # As recur train refuses them: a text too short for one window (or one batch of streams) would train on nothing
    # and save the start model as an improvement with loss 0.
    # The training part named as recur train names it: with a split, the file holds more than it trains on.
    per_process = s["seqLength"] * s["batchSize"] if s["recipe"] == "char-rnn" else s["maxlen"]
    training = (f"the training part of the text (all but its last {s['validationSplit'] * 100:.3g}%, the recipe's "
                "validationSplit)" if s["validationSplit"] > 0 else "the training text")
    for part, part_ids, need in ((training, train_ids, per_process * (world if s["recipe"] == "char-rnn" else 1) + 1),
                                 ("the validation text", val_ids, per_process + 1)):
        if part_ids is not None and len(part_ids) < need:
            raise SystemExit(f"train.py: {text_path}: {part} has {len(part_ids):,} characters (of the model's "
                             f"vocabulary); this recipe needs at least {need:,}")
    seed = s["seed"] if a.seed is None else a.seed
    torch.manual_seed(seed * 1000 + rank)

    model = RecurModel(template["modelTopology"]).to(device)
    model.load_recur_weights(arrays)
    net = run.wrap(model)
    opt = make_optimizer(s, model.parameters())
    plateau = ReduceLROnPlateau()
    stateful = s["recipe"] == "char-rnn"
    monitor = "val_loss" if val_ids is not None else "loss"

    # Training state, or the checkpoint's.
    # The text's fingerprint: a resumed run must read the text it was stopped on (as recur train --resume checks), or
    # its epoch and batch would point into other windows.
    text_sha256 = hashlib.sha256(ids.tobytes()).hexdigest()
    fresh = {"epoch": 0, "batch": 0, "step": 0, "best": math.inf, "states": None, "text_sha256": text_sha256}
    st = run.resume(model, opt, fresh, plateau)
    if st.get("text_sha256", text_sha256) != text_sha256:
        raise SystemExit(f"train.py: --resume: {text_path} is not the text the run in {a.out} was trained on (its "
                         "characters differ); give the same text")

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
            # The checkpoint keeps the streams' states too.
            st["sums"], st["states"] = sums.tolist(), states
            run.save_checkpoint(model, opt, st, plateau)
            run.save_model(template, model, only_if_missing=True)
            run.stopped_mid_epoch(st, epoch, sums, seen_before, start, "samples")
            break
        loss, sums = run.epoch_loss(sums, epoch)
        logs = {"loss": loss}
        if val_ids is not None:
            logs["val_loss"] = validate()
        logs["lr"] = opt.param_groups[0]["lr"]
        run.epoch_line(epoch, a.epochs, logs, sums[1].item() - seen_before * world, time.time() - start, "samples")
        if rank == 0 and logs[monitor] < st["best"]:
            st["best"] = logs[monitor]
            run.save_model(template, model)
            run.say(f"Epoch {epoch + 1}: {monitor} improved to {logs[monitor]:.4f}, saved {a.out}")
        run.log(epoch, logs)
        plateau.step(logs[monitor], opt)
        st["epoch"], st["batch"], st["states"] = epoch + 1, 0, None
        run.save_checkpoint(model, opt, st, plateau)
    run.finish()


if __name__ == "__main__":
    main()
`;
