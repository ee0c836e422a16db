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
