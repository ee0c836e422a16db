"""recur's translation recipe in PyTorch, for `node dist/bench/translate.js` (issue #13: translation against a peer).

The same model as `recur seq2seq train PAIRS --units 128 --embedding-dim 96` builds (src/seq2seq/model.ts):
Embedding(96, padding 0) -> BiLSTM(128) encoder; an LSTM(256) decoder started from the two directions' final states
(concatenated); Luong dot attention over the encoder outputs (padding masked); tanh Linear(256) over
[decoder output, context]; dropout 0.1; Linear -> softmax over the target words. Keras's initialisers (Glorot
uniform inputs, orthogonal recurrent, forget-gate bias 1), Adam(0.002, eps 1e-7), each weight's gradient clipped to
norm 5 (Keras clipnorm), batches of 64 pairs bucketed by length, the learning rate halved when the validation loss
does not improve (floor 1e-5), and the best epoch by the sequence error of the first 1,000 validation sources decoded
greedily — what recur's run does. The bench gives both the same token ids (recur's tokenizers), one core each.

Usage: python3 translate_torch.py DATA.json OUT.json --minutes M [--seed S]
DATA.json: {"sourceVocab", "targetVocab", "train": [[src ids], [tgt ids]]..., "validation": [[src ids], [[tgt ids]...]]...,
"test": [src ids]...}. Stops when the process's CPU time reaches M minutes (checked every batch, as recur's
--cpu-time-limit), then writes the best epoch's greedy outputs for the test sources and a log of the epochs.
"""
import argparse
import json
import random
import time

import torch
from torch import nn

PAD, START, END = 0, 1, 2
UNITS, EMB, BATCH, DROPOUT, LR, CLIP = 128, 96, 64, 0.1, 0.002, 5.0


def keras_lstm_init(lstm):
    for name, p in lstm.named_parameters():
        if "weight_ih" in name:
            # Keras's kernel is one Glorot-uniform matrix [input, 4H]
            nn.init.xavier_uniform_(p)
        elif "weight_hh" in name:
            H = p.shape[1]
            for k in range(4):
                nn.init.orthogonal_(p.data[k * H:(k + 1) * H])
        elif "bias_ih" in name:
            H = p.shape[0] // 4
            p.data.zero_()
            p.data[H:2 * H] = 1.0  # PyTorch's gate order i, f, g, o: the forget gate's bias 1
        elif "bias_hh" in name:
            p.data.zero_()


class Seq2Seq(nn.Module):
    def __init__(self, vs, vt):
        super().__init__()
        H = 2 * UNITS
        self.src_emb = nn.Embedding(vs, EMB, padding_idx=PAD)
        self.tgt_emb = nn.Embedding(vt, EMB, padding_idx=PAD)
        self.encoder = nn.LSTM(EMB, UNITS, batch_first=True, bidirectional=True)
        self.decoder = nn.LSTM(EMB, H, batch_first=True)
        self.attentional = nn.Linear(2 * H, H)
        self.drop = nn.Dropout(DROPOUT)
        self.out = nn.Linear(H, vt)
        keras_lstm_init(self.encoder)
        keras_lstm_init(self.decoder)
        for lin in (self.attentional, self.out):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
        for emb in (self.src_emb, self.tgt_emb):
            nn.init.uniform_(emb.weight, -0.05, 0.05)  # Keras's Embedding default

    def encode(self, src, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(self.src_emb(src), lengths, batch_first=True, enforce_sorted=False)
        out, (h, c) = self.encoder(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        # [2, N, U] -> [1, N, 2U]: forward then backward, as recur concatenates them
        state = (torch.cat([h[0], h[1]], -1).unsqueeze(0), torch.cat([c[0], c[1]], -1).unsqueeze(0))
        return out, state, src != PAD

    def attend(self, dec, enc, mask):
        scores = torch.bmm(dec, enc.transpose(1, 2))
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        context = torch.bmm(torch.softmax(scores, -1), enc)
        return self.drop(torch.tanh(self.attentional(torch.cat([dec, context], -1))))

    def forward(self, src, lengths, prev):
        enc, state, mask = self.encode(src, lengths)
        dec, _ = self.decoder(self.tgt_emb(prev), state)
        return self.out(self.attend(dec, enc, mask))

    @torch.no_grad()
    def greedy(self, src, lengths, max_len):
        enc, state, mask = self.encode(src, lengths)
        N = src.shape[0]
        token = torch.full((N, 1), START, dtype=torch.long)
        outs = [[] for _ in range(N)]
        done = torch.zeros(N, dtype=torch.bool)
        for _ in range(max_len):
            dec, state = self.decoder(self.tgt_emb(token), state)
            token = self.out(self.attend(dec, enc, mask)).argmax(-1)
            for i in range(N):
                if not done[i]:
                    t = int(token[i, 0])
                    if t == END:
                        done[i] = True
                    else:
                        outs[i].append(t)
            if bool(done.all()):
                break
        return outs


def pad(seqs, extra_start=False):
    L = max(len(s) for s in seqs) + (1 if extra_start else 0)
    out = torch.zeros((len(seqs), max(L, 1)), dtype=torch.long)
    for i, s in enumerate(seqs):
        row = ([START] + s) if extra_start else s
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


def batches(pairs, rng):
    """Length-bucketed batches of BATCH pairs, in a shuffled order (recur's PairDataset does the same)."""
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][0]), len(pairs[i][1]), rng.random()))
    groups = [order[k : k + BATCH] for k in range(0, len(order), BATCH)]
    rng.shuffle(groups)
    return groups


def tensors(pairs, idx):
    src = [pairs[i][0] for i in idx]
    tgt = [pairs[i][1] for i in idx]
    lengths = torch.tensor([len(s) for s in src])
    prev = pad(tgt, extra_start=True)
    nxt = pad([t + [END] for t in tgt])
    return pad(src), lengths, prev, nxt


def decode_all(model, sources, max_len, batch=64):
    model.eval()
    out = []
    for k in range(0, len(sources), batch):
        chunk = sources[k : k + batch]
        out.extend(model.greedy(pad(chunk), torch.tensor([len(s) for s in chunk]), max_len))
    model.train()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    data = json.load(open(a.data))
    train = [(s, t) for s, t in data["train"]]
    val = data["validation"]
    val_pairs = [(s, refs[0]) for s, refs in val]
    val_first = val[:1000]
    max_len = data["maxTargetLength"] + 10
    model = Seq2Seq(data["sourceVocab"], data["targetVocab"])
    opt = torch.optim.Adam(model.parameters(), lr=LR, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    budget = a.minutes * 60
    start_cpu, start_wall = time.process_time(), time.time()
    best = {"val_wer": float("inf"), "state": None, "epoch": 0}
    best_loss = float("inf")
    log = []
    epoch = 0
    out_of_time = False
    tokens = 0
    while not out_of_time:
        epoch += 1
        for idx in batches(train, rng):
            src, lengths, prev, nxt = tensors(train, idx)
            logits = model(src, lengths, prev)
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), nxt.reshape(-1))
            opt.zero_grad()
            loss.backward()
            for p in model.parameters():
                if p.grad is not None:
                    nn.utils.clip_grad_norm_([p], CLIP)
            opt.step()
            tokens += int((nxt != PAD).sum())
            if time.process_time() - start_cpu >= budget:
                out_of_time = True
                break
        if out_of_time:
            break
        # The epoch's validation: the loss (the schedule) and the first 1,000 sources decoded (the best model).
        model.eval()
        with torch.no_grad():
            total, count = 0.0, 0
            for idx in batches(val_pairs, random.Random(0)):
                src, lengths, prev, nxt = tensors(val_pairs, idx)
                logits = model(src, lengths, prev)
                n = int((nxt != PAD).sum())
                total += float(loss_fn(logits.reshape(-1, logits.shape[-1]), nxt.reshape(-1))) * n
                count += n
        model.train()
        val_loss = total / count
        outs = decode_all(model, [s for s, _ in val_first], max_len)
        wrong = sum(1 for o, (_, refs) in zip(outs, val_first) if o not in refs)
        val_wer = wrong / len(val_first)
        lr = opt.param_groups[0]["lr"]
        log.append({"epoch": epoch, "val_loss": val_loss, "val_wer": val_wer, "lr": lr,
                    "cpu_seconds": time.process_time() - start_cpu, "wall_seconds": time.time() - start_wall})
        print(json.dumps(log[-1]), flush=True)
        if val_wer < best["val_wer"]:
            best = {"val_wer": val_wer, "state": {k: v.clone() for k, v in model.state_dict().items()}, "epoch": epoch}
        if val_loss < best_loss:
            best_loss = val_loss
        else:
            for g in opt.param_groups:
                g["lr"] = max(g["lr"] * 0.5, 1e-5)
    train_cpu = time.process_time() - start_cpu
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    t0 = time.time()
    outputs = decode_all(model, data["test"], max_len)
    decode_seconds = time.time() - t0
    json.dump({"torch": torch.__version__, "epochs": log, "bestEpoch": best["epoch"], "trainCpuSeconds": train_cpu,
               "targetTokens": tokens, "outputs": outputs, "decodeSeconds": decode_seconds}, open(a.out, "w"))


if __name__ == "__main__":
    main()
