/**
 * The seq2seq recipe's own files (recur seq2seq train): README.md, data.py (the pairs recur encoded and split at
 * export time) and train.py (teacher forcing, the masked next-token loss, ReduceLROnPlateau, save-best).
 * Python kept as written (String.raw): no backquote, no dollar-brace.
 */

export const SEQ2SEQ_README = `# A recur encoder–decoder, trained with PyTorch

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
| \`run.py\`      | what every train.py shares: flags, torchrun processes, checkpoints and --resume, log.csv           |
| \`train.py\`    | training: masked next-token cross-entropy, clipping, ReduceLROnPlateau or cosine, save-best on val_loss |

## Train

\`\`\`sh
python train.py --epochs 20 --out run                     # one CPU
torchrun --nproc_per_node 4 train.py --epochs 20 --out run  # 4 processes, one machine
python train.py --epochs 30 --out run --resume            # continue from run/'s checkpoints
python train.py --epochs 30 --out run --overwrite         # start run/ over (a run there is kept otherwise)
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

export const SEQ2SEQ_DATA = String.raw`"""The seq2seq recipe's pairs, as recur made them: 'recur export pytorch' encoded the training and validation pairs with
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

export const SEQ2SEQ_TRAIN = String.raw`"""Trains the exported recur encoder–decoder with PyTorch: on one CPU ('python train.py --epochs 20'), or on several
processes or machines with DistributedDataParallel ('torchrun --nproc_per_node N train.py …': gloo on CPUs, nccl on
GPUs).

The recipe is the one recur seq2seq train used (the settings in start/model.json, the pairs encoded and split in
seq2seq_data.json): teacher forcing, the cross-entropy of the next token over the real (unpadded) target steps, the
same optimizer, learning rate and clipping of each gradient's norm, batch size (per process), and recur's
ReduceLROnPlateau on val_loss (the run's lrFactor and lrPatience, 0.5 and 1 by default; min lr 1e-5; a run that cut on
val_wer, which needs greedy decoding this script does not do, cuts on val_loss here), or, for a run with lrSchedule
'cosine', recur's cosine annealing from the learning rate to 0 over lrDecayEpochs, set before every step from the step
count (so --resume continues it exactly). A run's weight average (ema) is not exported: this script trains, validates
and saves the raw weights. After every epoch in which val_loss improves,
process 0 writes the model to --out as a recur seq2seq directory (atomically), which 'recur seq2seq eval/predict OUT'
read. (recur itself keeps the epoch with the best val_wer of greedy decodes; this script keeps the best val_loss.)
--out also gets log.csv and this script's checkpoints (--resume).
"""
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import data as pairdata  # noqa: E402
import recur_io  # noqa: E402
from model import RecurGraph  # noqa: E402
from optim import ReduceLROnPlateau, make_optimizer  # noqa: E402
from run import Run, arguments  # noqa: E402


def parse_args():
    p = arguments(__doc__, HERE)
    p.add_argument("--data", default=os.path.join(HERE, "seq2seq_data.json"), help="the encoded, split pairs")
    p.add_argument("--epochs", type=int, default=1, help="epochs to train, counting those of a resumed run")
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
    run = Run(a)
    device = run.device

    template, arrays = recur_io.read_model_dir(a.start)
    s = template["userDefinedMetadata"]["settings"]
    pairs = pairdata.load(a.data)
    train_set, val_set = pairdata.Pairs(pairs["train"]), pairdata.Pairs(pairs["validation"])
    validating = len(val_set) > 0
    seed = s["seed"] if a.seed is None else a.seed
    torch.manual_seed(seed * 1000 + run.rank)

    model = RecurGraph(template["modelTopology"]).to(device)
    model.load_recur_weights(arrays)
    net = run.wrap(model)
    opt = make_optimizer(s, model.parameters())
    plateau = ReduceLROnPlateau(factor=s.get("lrFactor", 0.5), patience=s.get("lrPatience", 1), min_lr=1e-5)
    cosine = s.get("lrSchedule", "plateau") == "cosine"

    def cosine_lr(step, steps_per_epoch):
        """recur's cosineDecay: lr0 · ½(1 + cos(π·min(1, step / (lrDecayEpochs · steps per epoch))))."""
        p = min(1.0, step / (s["lrDecayEpochs"] * steps_per_epoch))
        return s["learningRate"] * 0.5 * (1 + math.cos(math.pi * p))

    # Training state, or the checkpoint's.
    st = run.resume(model, opt, {"epoch": 0, "batch": 0, "step": 0, "best": float("inf"), "sums": [0.0, 0.0]},
                    plateau)

    def train_batches(epoch):
        sampler = torch.utils.data.DistributedSampler(train_set, num_replicas=run.world, rank=run.rank, shuffle=True,
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
            if cosine:
                for g in opt.param_groups:
                    g["lr"] = cosine_lr(st["step"], len(batches))
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
            st["sums"] = sums.tolist()
            run.save_checkpoint(model, opt, st, plateau)
            run.save_model(template, model, only_if_missing=True)
            run.stopped_mid_epoch(st, epoch, sums, seen_before, start, "target tokens")
            break
        loss, sums = run.epoch_loss(sums, epoch)
        logs = {"loss": loss}
        if validating:
            logs.update(validate())
        logs["lr"] = opt.param_groups[0]["lr"]
        run.epoch_line(epoch, a.epochs, logs, sums[1].item() - seen_before * run.world, time.time() - start,
                       "target tokens")
        if not validating:
            # recur's --train-on-validation: no validation split, so the last epoch is the model.
            run.save_model(template, model)
            run.say(f"Epoch {epoch + 1}: saved {a.out} (no validation: the last epoch is the model)")
        elif logs["val_loss"] < st["best"]:
            st["best"] = logs["val_loss"]
            run.save_model(template, model)
            run.say(f"Epoch {epoch + 1}: val_loss improved to {logs['val_loss']:.4f}, saved {a.out}")
        run.log(epoch, logs)
        if not cosine:
            plateau.step(logs["val_loss"], opt)
        st["epoch"], st["batch"] = epoch + 1, 0
        run.save_checkpoint(model, opt, st, plateau)
    run.finish()


if __name__ == "__main__":
    main()
`;
