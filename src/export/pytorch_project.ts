/**
 * The Python project 'recur export pytorch' writes: the model as a PyTorch nn.Module (model.py), recur model
 * directories read and written with numpy (recur_io.py), recur's optimizers (optim.py), and per kind of model the
 * recipe's data (data.py) and the training script with DistributedDataParallel (train.py):
 *
 *   text      recur's character models (recur train): windows or TBPTT streams cut from the text, as recur cuts them
 *   classify  recur's text classifiers (recur classify train): the texts encoded and split by recur at export time
 *             (classify_data.json, written by the CLI), the recipe's loss, early stopping and save-best
 *   seq2seq   recur's encoder–decoders (recur seq2seq train): the pairs encoded and split by recur at export time
 *             (seq2seq_data.json), teacher forcing, the masked next-token loss, ReduceLROnPlateau, save-best
 *
 * The files are generic: they read the model's layers, weights and recipe from the recur model directory beside them
 * (start/), so one project text serves every exportable model of a kind. Kept here as text so the library can hand it
 * to any writer (the CLI writes it with atomic writes). The Python is kept as it is written (String.raw), so it uses no
 * backquote and no dollar-brace.
 */

/** The kinds of recur model the PyTorch export knows. */
export type PytorchProjectKind = 'text' | 'classify' | 'seq2seq';

/** File name → contents of the exported project for a kind of model (start/, the model, is written beside them). */
export function pytorchProjectFiles(kind: PytorchProjectKind = 'text'): Record<string, string> {
  const own = {
    text: { 'README.md': TEXT_README, 'data.py': TEXT_DATA, 'train.py': TEXT_TRAIN },
    classify: { 'README.md': CLASSIFY_README, 'data.py': CLASSIFY_DATA, 'train.py': CLASSIFY_TRAIN },
    seq2seq: { 'README.md': SEQ2SEQ_README, 'data.py': SEQ2SEQ_DATA, 'train.py': SEQ2SEQ_TRAIN },
  }[kind];
  return { ...own, 'model.py': MODEL, 'recur_io.py': RECUR_IO, 'optim.py': OPTIM };
}

const TEXT_README = `# A recur model, trained with PyTorch

Written by \`recur export pytorch\`. \`start/\` is the recur model this project starts from (its weights, vocabulary and
recipe); the Python files are small and self-contained (PyTorch and numpy only):

| file          | what it holds                                                                                      |
| ------------- | -------------------------------------------------------------------------------------------------- |
| \`model.py\`    | the model as an \`nn.Module\`, and the mapping of recur's (Keras) weight layout to PyTorch's and back |
| \`data.py\`     | the recipe's data: the vocabulary, the validation split, windows (keras) or streams (char-rnn)     |
| \`recur_io.py\` | reading and writing recur model directories (model.json + weights) with numpy                      |
| \`optim.py\`    | recur's optimizers (RMSprop and Adagrad with ε where Keras puts it) and ReduceLROnPlateau          |
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
`;

const TEXT_DATA = String.raw`"""The recipe's data, as recur cuts it (src/text/corpus.ts): the text encoded with the model's vocabulary, the last
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

const TEXT_TRAIN = String.raw`"""Trains the exported recur model with PyTorch: on one CPU ('python train.py --text book.txt'), or on several processes
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

import torch
import torch.distributed as dist
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import data as textdata  # noqa: E402
import recur_io  # noqa: E402
from model import RecurModel, detach_states  # noqa: E402
from optim import ReduceLROnPlateau, make_optimizer  # noqa: E402


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
`;

const CLASSIFY_README = `# A recur text classifier, trained with PyTorch

Written by \`recur export pytorch\`. \`start/\` is the recur classifier this project starts from (its weights, tokenizer,
classes and recipe); \`classify_data.json\` holds its training and validation texts, encoded with the saved tokenizer
and split as \`recur classify train\` split them. The Python files are small and self-contained (PyTorch and numpy only):

| file          | what it holds                                                                                      |
| ------------- | -------------------------------------------------------------------------------------------------- |
| \`model.py\`    | the model as an \`nn.Module\` (Embedding with padding masked, (Bidirectional) LSTM/GRU, pooling, Dense) |
| \`data.py\`     | the encoded texts and labels, batches right-padded with id 0                                        |
| \`recur_io.py\` | reading and writing recur model directories (model.json + weights) with numpy                      |
| \`optim.py\`    | recur's optimizers (RMSprop and Adagrad with ε where Keras puts it)                                 |
| \`train.py\`    | training: the recipe's loss (class weights, multi-label), early stopping, save-best; checkpoints    |

## Train

\`\`\`sh
python train.py --out run                       # one CPU, the recipe's epochs
python train.py --epochs 20 --out run --device cuda
torchrun --nproc_per_node 4 train.py --out run  # 4 processes, one machine (each takes batches of the recipe's size)
torchrun --nnodes 2 --node_rank 0 --nproc_per_node 8 --master_addr HOST --master_port 29500 \\
  train.py --out run --device cuda              # and node_rank 1 on the other
python train.py --out run --resume              # continue from run/'s checkpoints
python train.py --max-steps 100 --out run       # stop after 100 optimizer steps
\`\`\`

After every epoch whose monitored validation metric improves, process 0 writes the model to \`--out\` as a recur
classifier directory (atomically), so recur uses it directly:

\`\`\`sh
recur classify eval run          # the test split of the recipe's data, as recur made it
recur classify predict run "a text to label"
\`\`\`

With Debian's PyTorch 1.13 on Python 3.11, torchrun's default output settings fail (\`'NoneType' object has no
attribute 'get'\`); add \`--redirects 1 --tee 1\` to its options.
`;

const CLASSIFY_DATA = String.raw`"""The classify recipe's data, as recur made it: 'recur export pytorch' encoded the training and validation texts
with the model's saved tokenizer (its vocabulary, level, case and punctuation rules, the recipe's maxLength and
truncating end) and split them as recur classify train did (stratified, by the recipe's seed), into
classify_data.json beside this file. Its class weights are the recipe's too ('balanced' computed on the training
split). Batches are right-padded with id 0, which the model's Embedding masks."""
import json

import torch


def load(path):
    """classify_data.json: {'classes', 'multiLabel', 'classWeights', 'train': {'ids', 'labels'}, 'validation': …}."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class Texts(torch.utils.data.Dataset):
    """Text i: its token ids and its label (a class index, or a 0/1 list over the labels for multi-label data)."""

    def __init__(self, split):
        self.ids, self.labels = split["ids"], split["labels"]
        if len(self.ids) != len(self.labels):
            raise ValueError(f"{len(self.ids)} texts but {len(self.labels)} labels")

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return self.ids[i], self.labels[i]


def collate(items):
    """A batch: ids [N, T] right-padded with 0 to its longest text (at least one step), labels [N] or [N, L]."""
    T = max(1, max(len(ids) for ids, _ in items))
    x = torch.zeros(len(items), T, dtype=torch.long)
    for n, (ids, _) in enumerate(items):
        x[n, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    labels = [label for _, label in items]
    y = torch.tensor(labels, dtype=torch.float32 if isinstance(labels[0], list) else torch.long)
    return x, y
`;

const CLASSIFY_TRAIN = String.raw`"""Trains the exported recur text classifier with PyTorch: on one CPU ('python train.py'), or on several processes or
machines with DistributedDataParallel ('torchrun --nproc_per_node N train.py …': gloo on CPUs, nccl on GPUs).

The recipe is the one recur classify train used (the settings in start/model.json, the texts encoded and split in
classify_data.json): the same loss (binary cross-entropy for a sigmoid output or multi-label data, cross-entropy for
softmax, weighted per class when the recipe weighs classes), optimizer, learning rate and global-norm clipping, batch
size (per process), early stopping on the monitored validation metric (val_macro_f1, val_micro_f1 or val_loss) with
the recipe's patience, and save-best. After every epoch in which the monitored metric improves, process 0 writes the
model to --out as a recur classifier directory (atomically), which 'recur classify eval/predict OUT' read. --out also
gets log.csv and this script's checkpoints (--resume).
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

import data as classifydata  # noqa: E402
import recur_io  # noqa: E402
from model import RecurModel  # noqa: E402
from optim import make_optimizer  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.path.join(HERE, "classify_data.json"), help="the encoded, split texts")
    p.add_argument("--start", default=os.path.join(HERE, "start"), help="the recur model to start from")
    p.add_argument("--epochs", type=int, default=0, help="epochs to train, counting a resumed run's (default: the recipe's)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many optimizer steps (0: no limit)")
    p.add_argument("--out", default="pytorch-run", help="where the recur-format model, log.csv and checkpoints go")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the recipe's)")
    a = p.parse_args()
    if a.epochs < 0 or a.max_steps < 0:
        p.error("--epochs and --max-steps must be at least 0")
    return a


def macro_f1(truth, predicted, classes):
    """Mean over the classes of F1 (a class never predicted or never present scores 0), as recur computes it."""
    f1s = []
    for k in range(classes):
        tp = np.sum((predicted == k) & (truth == k))
        p, s = np.sum(predicted == k), np.sum(truth == k)
        precision, recall = (tp / p if p else 0.0), (tp / s if s else 0.0)
        f1s.append(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(f1s))


def micro_f1(truth, predicted):
    """F1 over every (text, label) decision of a multi-label set."""
    tp = np.sum(truth * predicted)
    denominator = np.sum(truth) + np.sum(predicted)
    return float(2 * tp / denominator) if denominator else 0.0


class Loss:
    """The recipe's loss over the model's logits: sigmoid binary cross-entropy (one unit, or one per label, averaged
    over labels and texts) or softmax cross-entropy, each text weighed by its class's weight (Keras's class_weight:
    still divided by the number of texts)."""

    def __init__(self, settings, class_weights, device):
        self.sigmoid = settings["output"] == "sigmoid"
        self.weights = None if class_weights is None else torch.tensor(class_weights, device=device)

    def __call__(self, logits, y, weighted=True):
        if self.sigmoid:
            target = y if y.dim() == 2 else y.to(torch.float32).unsqueeze(1)
            return F.binary_cross_entropy_with_logits(logits, target)
        per_text = F.cross_entropy(logits, y, reduction="none")
        if weighted and self.weights is not None:
            per_text = per_text * self.weights[y]
        return per_text.mean()


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
    s = template["userDefinedMetadata"]["settings"]
    texts = classifydata.load(a.data)
    classes, multi_label = texts["classes"], texts["multiLabel"]
    train_set, val_set = classifydata.Texts(texts["train"]), classifydata.Texts(texts["validation"])
    epochs = a.epochs or s["epochs"]
    seed = s["seed"] if a.seed is None else a.seed
    torch.manual_seed(seed * 1000 + rank)

    model = RecurModel(template["modelTopology"]).to(device)
    model.load_recur_weights(arrays)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    opt = make_optimizer(s, model.parameters())
    loss_of = Loss(s, texts["classWeights"], device)
    monitor = s["monitor"]
    better = (lambda v, best: v < best) if monitor == "val_loss" else (lambda v, best: v > best)
    worst = math.inf if monitor == "val_loss" else -math.inf
    os.makedirs(a.out, exist_ok=True)
    ckpt_path = os.path.join(a.out, f"pytorch-checkpoint.rank{rank}.pt")

    # Training state, or the checkpoint's.
    st = {"epoch": 0, "batch": 0, "step": 0, "best": worst, "wait": 0, "sums": [0.0, 0.0]}
    if a.resume:
        if not os.path.exists(ckpt_path):
            raise SystemExit(f"train.py: --resume: {ckpt_path} does not exist")
        ck = torch.load(ckpt_path, map_location=device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        st = ck["train"]
        torch.set_rng_state(ck["rng"])
        say(f"Resuming at epoch {st['epoch'] + 1}, batch {st['batch'] + 1}")

    def save_checkpoint():
        tmp = f"{ckpt_path}.{os.getpid()}.tmp"
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "train": st,
                    "rng": torch.get_rng_state()}, tmp)
        os.replace(tmp, ckpt_path)

    def train_batches(epoch):
        sampler = torch.utils.data.DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True,
                                                      seed=seed)
        sampler.set_epoch(epoch)
        return torch.utils.data.DataLoader(train_set, batch_size=s["batchSize"], sampler=sampler,
                                           collate_fn=classifydata.collate)

    def validate():
        """val_loss and the F1 the recipe monitors, over the whole validation split (every process the same)."""
        model.eval()
        total, n, probabilities, truth = 0.0, 0, [], []
        with torch.no_grad():
            for x, y in torch.utils.data.DataLoader(val_set, batch_size=256, collate_fn=classifydata.collate):
                logits, _ = model(x.to(device))
                total += loss_of(logits, y.to(device), weighted=False).item() * x.shape[0]
                n += x.shape[0]
                p = torch.sigmoid(logits) if loss_of.sigmoid else torch.softmax(logits, -1)
                probabilities.append(p.cpu().numpy())
                truth.append(y.numpy())
        p, t = np.concatenate(probabilities), np.concatenate(truth)
        logs = {"val_loss": total / max(n, 1)}
        if multi_label:
            logs["val_micro_f1"] = micro_f1(t, (p >= 0.5).astype(t.dtype))
        else:
            predicted = (p[:, 0] > 0.5).astype(np.int64) if p.shape[1] == 1 else p.argmax(1)
            logs["val_macro_f1"] = macro_f1(t, predicted, len(classes))
        return logs

    stopped = False
    while st["epoch"] < epochs and not stopped:
        epoch = st["epoch"]
        model.train()
        start = time.time()
        if st["batch"] == 0:
            st["sums"] = [0.0, 0.0]
        sums = torch.tensor(st["sums"], dtype=torch.float64)
        seen_before = sums[1].item()
        batches = train_batches(epoch)
        for b, (x, y) in enumerate(batches):
            if b < st["batch"]:
                continue
            x, y = x.to(device), y.to(device)
            logits, _ = net(x)
            loss = loss_of(logits, y)
            opt.zero_grad()
            loss.backward()
            if s.get("clipnorm"):
                torch.nn.utils.clip_grad_norm_(model.parameters(), s["clipnorm"])
            opt.step()
            sums += torch.tensor([loss.item() * x.shape[0], x.shape[0]], dtype=torch.float64)
            st["step"] += 1
            st["batch"] = b + 1
            if a.max_steps and st["step"] >= a.max_steps:
                stopped = True
                break
        if stopped and st["batch"] < len(batches):
            # Mid-epoch: the checkpoint keeps the epoch's sums for --resume.
            st["sums"] = sums.tolist()
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
        logs.update(validate())
        seconds = time.time() - start
        say(f"Epoch {epoch + 1}/{epochs}: " + ", ".join(f"{k} {v:.4f}" for k, v in logs.items())
            + f" ({(sums[1].item() - seen_before * world) / seconds:.0f} samples/s)")
        if better(logs[monitor], st["best"]):
            st["best"], st["wait"] = logs[monitor], 0
            if rank == 0:
                recur_io.write_model_dir(a.out, template, model.recur_weights())
            say(f"Epoch {epoch + 1}: {monitor} improved to {logs[monitor]:.4f}, saved {a.out}")
        else:
            st["wait"] += 1
        if rank == 0:
            log = os.path.join(a.out, "log.csv")
            new = not os.path.exists(log) or epoch == 0
            with open(log, "w" if new else "a", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                if new:
                    w.writerow(["epoch", *sorted(logs)])
                w.writerow([epoch, *(logs[k] for k in sorted(logs))])
        st["epoch"], st["batch"] = epoch + 1, 0
        save_checkpoint()
        if s["patience"] > 0 and st["wait"] >= s["patience"]:
            say(f"Early stopping: {monitor} has not improved for {s['patience']} epochs")
            break
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
`;

const SEQ2SEQ_README = `# A recur encoder–decoder, trained with PyTorch

Written by \`recur export pytorch\`. \`start/\` is the recur seq2seq model this project starts from (its weights, source
and target vocabularies and recipe); \`seq2seq_data.json\` holds its training and validation pairs, encoded with the
saved vocabularies and split as \`recur seq2seq train\` split them. The Python files are small and self-contained
(PyTorch and numpy only):

| file          | what it holds                                                                                       |
| ------------- | --------------------------------------------------------------------------------------------------- |
| \`model.py\`    | the model as an \`nn.Module\`: recur's functional graph (Embeddings with padding masked, a (Bidirectional) LSTM/GRU encoder, the decoder started from its states, Luong or Bahdanau attention, Dense) |
| \`data.py\`     | the encoded pairs, teacher-forced batches right-padded with 0                                        |
| \`recur_io.py\` | reading and writing recur model directories (model.json + weights) with numpy                       |
| \`optim.py\`    | recur's optimizers (RMSprop and Adagrad with ε where Keras puts it) and ReduceLROnPlateau            |
| \`train.py\`    | training: masked next-token cross-entropy, clipping, ReduceLROnPlateau, save-best on val_loss         |

## Train

\`\`\`sh
python train.py --epochs 20 --out run                     # one CPU
torchrun --nproc_per_node 4 train.py --epochs 20 --out run  # 4 processes, one machine
python train.py --epochs 30 --out run --resume            # continue from run/'s checkpoints
python train.py --max-steps 100 --out run                 # stop after 100 optimizer steps
\`\`\`

After every epoch whose val_loss improves, process 0 writes the model to \`--out\` as a recur seq2seq directory
(atomically), so recur uses it directly:

\`\`\`sh
recur seq2seq eval run
recur seq2seq predict run "the cat and the dog"
\`\`\`

With Debian's PyTorch 1.13 on Python 3.11, torchrun's default output settings fail (\`'NoneType' object has no
attribute 'get'\`); add \`--redirects 1 --tee 1\` to its options.
`;

const SEQ2SEQ_DATA = String.raw`"""The seq2seq recipe's pairs, as recur made them: 'recur export pytorch' encoded the training and validation pairs with
the model's saved source and target vocabularies and split them as recur seq2seq train did (by source, with the
recipe's seed; validation tokens the training data never had read as <unk>), into seq2seq_data.json beside this file.
A batch is teacher-forced as in recur: the encoder reads the source, the decoder reads <start> + target and learns
target + <end>; everything is right-padded with 0 (<pad>), which the Embeddings mask and the loss leaves out."""
import json

import torch

START, END = 1, 2


def load(path):
    """seq2seq_data.json: {'train': {'sources', 'targets'}, 'validation': {'sources', 'targets'}} (token ids)."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class Pairs(torch.utils.data.Dataset):
    def __init__(self, split):
        self.sources, self.targets = split["sources"], split["targets"]
        if len(self.sources) != len(self.targets):
            raise ValueError(f"{len(self.sources)} sources but {len(self.targets)} targets")

    def __len__(self):
        return len(self.sources)

    def __getitem__(self, i):
        return self.sources[i], self.targets[i]


def collate(items):
    """(source [N, S], previous [N, T]) → next [N, T]: previous = <start> + target, next = target + <end>, 0-padded."""
    S = max(1, max(len(s) for s, _ in items))
    T = max(len(t) for _, t in items) + 1
    source = torch.zeros(len(items), S, dtype=torch.long)
    previous = torch.zeros(len(items), T, dtype=torch.long)
    following = torch.zeros(len(items), T, dtype=torch.long)
    for n, (s, t) in enumerate(items):
        source[n, : len(s)] = torch.tensor(s, dtype=torch.long)
        previous[n, 0] = START
        previous[n, 1 : len(t) + 1] = torch.tensor(t, dtype=torch.long)
        following[n, : len(t)] = torch.tensor(t, dtype=torch.long)
        following[n, len(t)] = END
    return source, previous, following
`;

const SEQ2SEQ_TRAIN = String.raw`"""Trains the exported recur encoder–decoder with PyTorch: on one CPU ('python train.py --epochs 20'), or on several
processes or machines with DistributedDataParallel ('torchrun --nproc_per_node N train.py …': gloo on CPUs, nccl on
GPUs).

The recipe is the one recur seq2seq train used (the settings in start/model.json, the pairs encoded and split in
seq2seq_data.json): teacher forcing, the cross-entropy of the next token over the real (unpadded) target steps, the
same optimizer, learning rate and clipping of each gradient's norm, batch size (per process), and recur's
ReduceLROnPlateau on val_loss (factor 0.5, patience 1, min lr 1e-5). After every epoch in which val_loss improves,
process 0 writes the model to --out as a recur seq2seq directory (atomically), which 'recur seq2seq eval/predict OUT'
read. (recur itself keeps the epoch with the best val_wer of greedy decodes; this script keeps the best val_loss.)
--out also gets log.csv and this script's checkpoints (--resume).
"""
import argparse
import csv
import math
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import data as pairdata  # noqa: E402
import recur_io  # noqa: E402
from model import RecurGraph  # noqa: E402
from optim import ReduceLROnPlateau, make_optimizer  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.path.join(HERE, "seq2seq_data.json"), help="the encoded, split pairs")
    p.add_argument("--start", default=os.path.join(HERE, "start"), help="the recur model to start from")
    p.add_argument("--epochs", type=int, default=1, help="epochs to train, counting those of a resumed run")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many optimizer steps (0: no limit)")
    p.add_argument("--out", default="pytorch-run", help="where the recur-format model, log.csv and checkpoints go")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the recipe's)")
    a = p.parse_args()
    if a.epochs < 1 or a.max_steps < 0:
        p.error("--epochs must be at least 1 and --max-steps at least 0")
    return a


def masked_loss(logits, following):
    """Mean cross-entropy of the next token over the real steps (next ≠ <pad>), as recur's masked loss."""
    real = following != 0
    return F.cross_entropy(logits[real], following[real])


def clip_each(params, clipnorm):
    """recur's (Keras's) clipnorm: each gradient tensor's norm clipped on its own."""
    for p in params:
        if p.grad is not None:
            torch.nn.utils.clip_grad_norm_([p], clipnorm)


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
    s = template["userDefinedMetadata"]["settings"]
    pairs = pairdata.load(a.data)
    train_set, val_set = pairdata.Pairs(pairs["train"]), pairdata.Pairs(pairs["validation"])
    seed = s["seed"] if a.seed is None else a.seed
    torch.manual_seed(seed * 1000 + rank)

    model = RecurGraph(template["modelTopology"]).to(device)
    model.load_recur_weights(arrays)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    opt = make_optimizer(s, model.parameters())
    plateau = ReduceLROnPlateau(factor=0.5, patience=1, min_lr=1e-5)
    os.makedirs(a.out, exist_ok=True)
    ckpt_path = os.path.join(a.out, f"pytorch-checkpoint.rank{rank}.pt")

    # Training state, or the checkpoint's.
    st = {"epoch": 0, "batch": 0, "step": 0, "best": math.inf, "sums": [0.0, 0.0]}
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

    def train_batches(epoch):
        sampler = torch.utils.data.DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True,
                                                      seed=seed)
        sampler.set_epoch(epoch)
        return torch.utils.data.DataLoader(train_set, batch_size=s["batchSize"], sampler=sampler,
                                           collate_fn=pairdata.collate)

    def validate():
        """val_loss and val_accuracy over the real target steps of the whole validation split."""
        model.eval()
        total, right, tokens = 0.0, 0, 0
        with torch.no_grad():
            for src, prev, following in torch.utils.data.DataLoader(val_set, batch_size=256, collate_fn=pairdata.collate):
                src, prev, following = src.to(device), prev.to(device), following.to(device)
                logits = model(src, prev)
                real = following != 0
                n = int(real.sum())
                total += masked_loss(logits, following).item() * n
                right += int((logits.argmax(-1)[real] == following[real]).sum())
                tokens += n
        return {"val_loss": total / max(tokens, 1), "val_accuracy": right / max(tokens, 1)}

    stopped = False
    while st["epoch"] < a.epochs and not stopped:
        epoch = st["epoch"]
        model.train()
        start = time.time()
        if st["batch"] == 0:
            st["sums"] = [0.0, 0.0]
        sums = torch.tensor(st["sums"], dtype=torch.float64)
        seen_before = sums[1].item()
        batches = train_batches(epoch)
        for b, (src, prev, following) in enumerate(batches):
            if b < st["batch"]:
                continue
            src, prev, following = src.to(device), prev.to(device), following.to(device)
            loss = masked_loss(net(src, prev), following)
            opt.zero_grad()
            loss.backward()
            if s.get("clipnorm"):
                clip_each(model.parameters(), s["clipnorm"])
            opt.step()
            tokens = int((following != 0).sum())
            sums += torch.tensor([loss.item() * tokens, tokens], dtype=torch.float64)
            st["step"] += 1
            st["batch"] = b + 1
            if a.max_steps and st["step"] >= a.max_steps:
                stopped = True
                break
        if stopped and st["batch"] < len(batches):
            # Mid-epoch: the checkpoint keeps the epoch's sums for --resume.
            st["sums"] = sums.tolist()
            save_checkpoint()
            if rank == 0 and not os.path.exists(os.path.join(a.out, "model.json")):
                recur_io.write_model_dir(a.out, template, model.recur_weights())
            mean = sums[0].item() / max(sums[1].item(), 1)
            say(f"Stopped after {st['step']} steps (--max-steps) at epoch {epoch + 1}, batch {st['batch']}: "
                f"loss {mean:.4f} so far this epoch on process 0 ({(sums[1].item() - seen_before) / (time.time() - start):.0f} "
                f"target tokens/s); continue with --resume")
            break
        if world > 1:
            total = sums.to(device)
            dist.all_reduce(total)
            sums = total.cpu()
        logs = {"loss": sums[0].item() / max(sums[1].item(), 1)}
        if not math.isfinite(logs["loss"]):
            raise SystemExit(f"train.py: the loss became non-finite at epoch {epoch + 1}; nothing of it was saved")
        logs.update(validate())
        logs["lr"] = opt.param_groups[0]["lr"]
        seconds = time.time() - start
        say(f"Epoch {epoch + 1}/{a.epochs}: " + ", ".join(f"{k} {v:.4f}" for k, v in logs.items())
            + f" ({(sums[1].item() - seen_before * world) / seconds:.0f} target tokens/s)")
        if logs["val_loss"] < st["best"]:
            st["best"] = logs["val_loss"]
            if rank == 0:
                recur_io.write_model_dir(a.out, template, model.recur_weights())
            say(f"Epoch {epoch + 1}: val_loss improved to {logs['val_loss']:.4f}, saved {a.out}")
        if rank == 0:
            log = os.path.join(a.out, "log.csv")
            new = not os.path.exists(log) or epoch == 0
            with open(log, "w" if new else "a", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                if new:
                    w.writerow(["epoch", *sorted(logs)])
                w.writerow([epoch, *(logs[k] for k in sorted(logs))])
        plateau.step(logs["val_loss"], opt)
        st["epoch"], st["batch"] = epoch + 1, 0
        save_checkpoint()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
`;

const MODEL = String.raw`"""The recur model as a PyTorch nn.Module, and the mapping between recur's (Keras) weight layout and PyTorch's.

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

Masking (Keras's, as recur does it): with mask_zero, the steps whose id is 0 are masked. A masked step leaves the
recurrent state as it was and repeats the previous output; the backward direction of a Bidirectional layer reads the
whole sequence reversed (so trailing padding comes first and leaves its zero state alone); pooling skips masked steps.
Right-padded batches (all recur makes) run on PyTorch's packed sequences; other masks step by step.

The output layer's softmax or sigmoid is left out of forward (it returns logits; the loss applies it); predict
applies it, as recur's predict.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

RECURRENT = ("LSTM", "GRU", "SimpleRNN")
POOLING = ("GlobalMaxPooling1D", "GlobalAveragePooling1D")
MERGE_MODES = ("concat", "sum", "mul", "ave")


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
    if class_name in ("Attention", "AdditiveAttention"):
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
    if class_name in ("Attention", "AdditiveAttention"):
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
                last = i == len(layers) - 1
                if not (act == "linear" or (act in ("softmax", "sigmoid") and last)):
                    raise UnsupportedModel(f"layer '{name}': Dense activation {act} is not exported")
                self.out_activation = act
                m = nn.Linear(width, c["units"], bias=c.get("use_bias", True))
                width = c["units"]
            else:
                raise UnsupportedModel(f"layer '{name}': {cls} is not exported yet")
            self.specs.append((cls, c))
            self.blocks.append(m if m is not None else nn.Identity())

    @property
    def softmax_out(self):
        return self.out_activation == "softmax"

    def forward(self, x, states=None):
        """Logits for token ids x [N, T], and the recurrent layers' final states (one entry per recurrent layer),
        starting from 'states' (None: zeros)."""
        if self.vocab_size is not None:
            h, mask = F.one_hot(x, self.vocab_size).to(torch.float32), None
        else:
            h, mask = None, (x != 0) if self.mask_zero else None
        finals = []
        k = 0
        for (cls, c), m in zip(self.specs, self.blocks):
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
            else:
                h = m(h)
        return h, finals

    def predict(self, x, states=None):
        """recur's predict: the output after the last layer's activation (softmax or sigmoid probabilities)."""
        logits, finals = self.forward(x, states)
        if self.out_activation == "softmax":
            return torch.softmax(logits, dim=-1), finals
        if self.out_activation == "sigmoid":
            return torch.sigmoid(logits), finals
        return logits, finals

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
            elif cls in ("Embedding", "Dense"):
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
                    own[k].copy_(torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)))

    def recur_weights(self):
        """The parameters as recur's weights ({'layer/kernel': float32 array, ...})."""
        out = {}
        for cls, c, prefix, m in self._weight_layers():
            params = {k: p.detach().cpu().numpy().astype(np.float32) for k, p in m.named_parameters()}
            for k, v in from_torch_params(cls, c, params).items():
                out[prefix + k] = np.ascontiguousarray(v, dtype=np.float32)
        return out


ACTIVATIONS = {"linear": lambda x: x, "tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}


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
            if not (act in ACTIVATIONS or (act == "softmax" and last)):
                raise UnsupportedModel(f"layer '{name}': Dense activation {act} is not exported")
            m = nn.Linear(ins[0], c["units"], bias=c.get("use_bias", True))
            if last:
                self.out_activation = act
            out = [c["units"]]
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
                values[name] = [(y if act == "softmax" else ACTIVATIONS[act](y), mask)]
            elif cls in POOLING:
                x, mask = xs[0]
                values[name] = [(pool(cls, x, mask), None)]
            else:
                x, mask = xs[0]
                values[name] = [(m(x), mask)]
        name, i = self.output
        return values[name][i][0]

    def predict(self, *inputs):
        """recur's predict: the output after the output layer's activation."""
        y = self.forward(*inputs)
        if self.out_activation == "softmax":
            return torch.softmax(y, -1)
        return y if self.out_activation == "linear" else ACTIVATIONS[self.out_activation](y)

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
            elif cls in ("Embedding", "Dense", "Attention", "AdditiveAttention"):
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

const RECUR_IO = String.raw`"""Reading and writing recur model directories (model.json + one weights file) with numpy only.

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

const OPTIM = String.raw`"""recur's optimizers and learning-rate callback in PyTorch: Adam, RMSprop (with ε inside the square root, as Keras
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
