"""The text classifier of `npm run bench:classify`'s throughput measurement, in PyTorch (torch + numpy only).

Embedding(vocab, 64, padding 0) -> BiLSTM(64) over the real tokens only (packed sequences: recur's mask) -> the
final states of both directions -> Linear(128, 1), binary cross-entropy on the logit, Adam(lr 0.003) with the
gradient's global norm clipped at 5: recur's `classifierSettings(2, {embeddingDim: 64, units: 64, dropout: 0})`.

Usage (run with /usr/bin/python3, the Python that has torch):
  OPENBLAS_NUM_THREADS=<n> python3 classify_torch.py --batches FILE [--threads N] [--train-batches B] [--passes P]
  OPENBLAS_NUM_THREADS=<n> python3 classify_torch.py --tsv train.tsv [--threads N] [--train-batches B] [--passes P]

--batches FILE is the JSON bench/classify.ts writes: {"vocab": V, "batches": [{"rows": R, "steps": T, "ids": [...R*T
token ids, right-padded with 0...], "labels": [...R...]}, ...]} — the very padded, length-bucketed batches recur
trains on in the same run. --tsv tokenizes a `sentence<TAB>label` file itself (lowercased words and punctuation
marks, first 8,192 rows, at most 64 tokens) and buckets it the same way, for a standalone run.

Prints one JSON line: torch's version and threads, training sequences/s (the median of P timed passes over B batches, after one untimed pass),
prediction sequences/s over every batch (no gradients), each also per CPU-second of the process (all threads: the
cost whatever else runs on the machine), and the sequences counted.
"""
import argparse
import json
import random
import re
import statistics
import time

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

EMBEDDING, UNITS = 64, 64


class BiLSTMClassifier(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embedding = nn.Embedding(vocab, EMBEDDING, padding_idx=0)
        self.lstm = nn.LSTM(EMBEDDING, UNITS, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * UNITS, 1)

    def forward(self, ids, lengths):
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        # h: [2 directions, N, UNITS]; the forward state after each text's last real token, the backward after its first.
        return self.out(torch.cat([h[0], h[1]], dim=1)).squeeze(1)


def batches_from_json(path):
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    out = []
    for b in spec["batches"]:
        ids = torch.tensor(np.asarray(b["ids"], dtype=np.int64).reshape(b["rows"], b["steps"]))
        out.append((ids, torch.tensor(b["labels"], dtype=torch.float32)))
    return spec["vocab"], out


TOKEN = re.compile(r"\w+|[^\w\s]")


def batches_from_tsv(path, texts=8192, max_length=64, batch_size=64):
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1 : texts + 1]
    tokens = [TOKEN.findall(r[0].lower())[:max_length] or ["<oov>"] for r in rows]
    vocab = {"<pad>": 0, "<oov>": 1}
    for t in tokens:
        for w in t:
            vocab.setdefault(w, len(vocab))
    seqs = [[vocab[w] for w in t] for t in tokens]
    labels = [float(r[1]) for r in rows]
    order = list(range(len(seqs)))
    random.Random(1).shuffle(order)
    out = []
    chunk = batch_size * 20
    for c in range(0, len(order), chunk):
        part = sorted(order[c : c + chunk], key=lambda i: len(seqs[i]))
        for s in range(0, len(part), batch_size):
            rows_ = part[s : s + batch_size]
            steps = max(len(seqs[i]) for i in rows_)
            ids = torch.zeros((len(rows_), steps), dtype=torch.int64)
            for k, i in enumerate(rows_):
                ids[k, : len(seqs[i])] = torch.tensor(seqs[i])
            out.append((ids, torch.tensor([labels[i] for i in rows_])))
    random.Random(2).shuffle(out)
    return len(vocab), out


def main():
    ap = argparse.ArgumentParser()
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--batches")
    src.add_argument("--tsv")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-batches", type=int, default=60)
    ap.add_argument("--passes", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    vocab, batches = batches_from_json(a.batches) if a.batches else batches_from_tsv(a.tsv)
    # Lengths are counted outside the timed loops: recur derives its mask from the ids as part of its step, but
    # counting non-zero ids is a negligible share of either side's work.
    batches = [(ids, (ids != 0).sum(1).clamp(min=1), y) for ids, y in batches]
    model = BiLSTMClassifier(vocab)
    opt = torch.optim.Adam(model.parameters(), lr=0.003)
    loss_fn = nn.BCEWithLogitsLoss()

    def step(b):
        ids, lengths, y = b
        opt.zero_grad()
        loss = loss_fn(model(ids, lengths), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()

    train = batches[: min(a.train_batches, len(batches))]
    for b in train:
        step(b)  # warm-up: one untimed pass, as recur gets
    per_pass = sum(b[0].shape[0] for b in train)
    rates, cpu_rates = [], []
    for _ in range(a.passes):
        t0, c0 = time.perf_counter(), time.process_time()
        for b in train:
            step(b)
        rates.append(per_pass / (time.perf_counter() - t0))
        cpu_rates.append(per_pass / (time.process_time() - c0))
    trained = a.passes * per_pass

    model.eval()
    t0, c0 = time.perf_counter(), time.process_time()
    with torch.no_grad():
        for ids, lengths, _ in batches:
            torch.sigmoid(model(ids, lengths))
    predict_seconds, predict_cpu = time.perf_counter() - t0, time.process_time() - c0
    predicted = sum(b[0].shape[0] for b in batches)
    print(
        json.dumps(
            {
                "version": torch.__version__,
                "threads": torch.get_num_threads(),
                "train_sequences": trained,
                "train_per_sec": statistics.median(rates),
                "train_per_cpu_sec": statistics.median(cpu_rates),
                "train_pass_rates": rates,
                "predict_sequences": predicted,
                "predict_per_sec": predicted / predict_seconds,
                "predict_per_cpu_sec": predicted / predict_cpu,
            }
        )
    )


if __name__ == "__main__":
    main()
