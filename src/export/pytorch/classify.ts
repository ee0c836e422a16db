/**
 * The classify recipe's own files (recur classify train): README.md, data.py (the texts recur encoded and split at
 * export time) and train.py (the recipe's loss, early stopping, save-best).
 * Python kept as written (String.raw): no backquote, no dollar-brace.
 */

export const CLASSIFY_README = `# A recur text classifier, trained with PyTorch

Written by \`recur export pytorch\`. \`start/\` is the recur classifier this project starts from (its weights, tokenizer,
classes and recipe); \`classify_data.json\` holds its training and validation texts, encoded with the saved tokenizer
and split as \`recur classify train\` split them. The Python files are small and self-contained (PyTorch and numpy only):

| file          | what it holds                                                                                      |
| ------------- | -------------------------------------------------------------------------------------------------- |
| \`model.py\`    | the model as an \`nn.Module\` (Embedding with padding masked, (Bidirectional) LSTM/GRU, pooling, Dense) |
| \`data.py\`     | the encoded texts and labels, batches right-padded with id 0                                        |
| \`recur_io.py\` | reading and writing recur model directories (model.json + weights) with numpy                      |
| \`optim.py\`    | recur's optimizers (RMSprop and Adagrad with ε where Keras puts it)                                 |
| \`run.py\`      | what every train.py shares: flags, torchrun processes, checkpoints and --resume, log.csv           |
| \`train.py\`    | training: the recipe's loss (class weights, multi-label), early stopping, save-best; checkpoints    |

## Train

\`\`\`sh
python train.py --out run                       # one CPU, the recipe's epochs
python train.py --epochs 20 --out run --device cuda
torchrun --nproc_per_node 4 train.py --out run  # 4 processes, one machine (each takes batches of the recipe's size)
torchrun --nnodes 2 --node_rank 0 --nproc_per_node 8 --master_addr HOST --master_port 29500 \\
  train.py --out run --device cuda              # and node_rank 1 on the other
python train.py --out run --resume              # continue from run/'s checkpoints
python train.py --out run --overwrite           # start run/ over (a run there is kept otherwise)
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

export const CLASSIFY_DATA = String.raw`"""The classify recipe's data, as recur made it: 'recur export pytorch' encoded the training and validation texts
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

export const CLASSIFY_TRAIN = String.raw`"""Trains the exported recur text classifier with PyTorch: on one CPU ('python train.py'), or on several processes or
machines with DistributedDataParallel ('torchrun --nproc_per_node N train.py …': gloo on CPUs, nccl on GPUs).

The recipe is the one recur classify train used (the settings in start/model.json, the texts encoded and split in
classify_data.json): the same loss (binary cross-entropy for a sigmoid output or multi-label data, cross-entropy for
softmax, weighted per class when the recipe weighs classes), optimizer, learning rate and global-norm clipping, batch
size (per process), early stopping on the monitored validation metric (val_macro_f1, val_micro_f1 or val_loss) with
the recipe's patience, and save-best. After every epoch in which the monitored metric improves, process 0 writes the
model to --out as a recur classifier directory (atomically), which 'recur classify eval/predict OUT' read. --out also
gets log.csv and this script's checkpoints (--resume).
"""
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import data as classifydata  # noqa: E402
import recur_io  # noqa: E402
from model import RecurModel  # noqa: E402
from optim import make_optimizer  # noqa: E402
from run import Run, arguments  # noqa: E402


def parse_args():
    p = arguments(__doc__, HERE)
    p.add_argument("--data", default=os.path.join(HERE, "classify_data.json"), help="the encoded, split texts")
    p.add_argument("--epochs", type=int, default=0, help="epochs to train, counting a resumed run's (default: the recipe's)")
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
    run = Run(a)
    device = run.device

    template, arrays = recur_io.read_model_dir(a.start)
    s = template["userDefinedMetadata"]["settings"]
    texts = classifydata.load(a.data)
    classes, multi_label = texts["classes"], texts["multiLabel"]
    train_set, val_set = classifydata.Texts(texts["train"]), classifydata.Texts(texts["validation"])
    epochs = a.epochs or s["epochs"]
    seed = s["seed"] if a.seed is None else a.seed
    torch.manual_seed(seed * 1000 + run.rank)

    model = RecurModel(template["modelTopology"]).to(device)
    model.load_recur_weights(arrays)
    net = run.wrap(model)
    opt = make_optimizer(s, model.parameters())
    loss_of = Loss(s, texts["classWeights"], device)
    monitor = s["monitor"]
    better = (lambda v, best: v < best) if monitor == "val_loss" else (lambda v, best: v > best)
    worst = math.inf if monitor == "val_loss" else -math.inf

    # Training state, or the checkpoint's.
    st = run.resume(model, opt, {"epoch": 0, "batch": 0, "step": 0, "best": worst, "wait": 0, "sums": [0.0, 0.0]})

    def train_batches(epoch):
        sampler = torch.utils.data.DistributedSampler(train_set, num_replicas=run.world, rank=run.rank, shuffle=True,
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
            st["sums"] = sums.tolist()
            run.save_checkpoint(model, opt, st)
            run.save_model(template, model, only_if_missing=True)
            run.stopped_mid_epoch(st, epoch, sums, seen_before, start, "samples")
            break
        loss, sums = run.epoch_loss(sums, epoch)
        logs = {"loss": loss}
        logs.update(validate())
        run.epoch_line(epoch, epochs, logs, sums[1].item() - seen_before * run.world, time.time() - start, "samples")
        if better(logs[monitor], st["best"]):
            st["best"], st["wait"] = logs[monitor], 0
            run.save_model(template, model)
            run.say(f"Epoch {epoch + 1}: {monitor} improved to {logs[monitor]:.4f}, saved {a.out}")
        else:
            st["wait"] += 1
        run.log(epoch, logs)
        st["epoch"], st["batch"] = epoch + 1, 0
        run.save_checkpoint(model, opt, st)
        if s["patience"] > 0 and st["wait"] >= s["patience"]:
            run.say(f"Early stopping: {monitor} has not improved for {s['patience']} epochs")
            break
    run.finish()


if __name__ == "__main__":
    main()
`;
