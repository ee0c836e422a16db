"""The char-rnn recipe in PyTorch, for `npm run bench:charrnn` (issue #18 item 2).

Two nn.LSTM(256) layers over one-hot characters (as recur's index inputs mean), dropout 0.2 after each LSTM layer,
Linear(vocab), softmax cross-entropy at every step, Adam(lr 4e-3), global gradient-norm clipping at 5; 32 streams of
50 characters a batch, the hidden state carried from batch to batch (detached): what recur's char-rnn recipe trains
in the same run (`--batch`: streams a batch, default 32). Speed does not depend on the text, so the batches are random indices over the vocabulary size.

Usage: OPENBLAS_NUM_THREADS=<n> python3 charrnn_torch.py --vocab V --threads T [--batch N] [--batches B] [--passes P]
Prints one JSON line: torch's version, its threads, and training characters/s: the median of P timed passes of B
batches after one untimed pass (and each pass's rate).
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn

T, H, LAYERS = 50, 256, 2


class CharRNN(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.lstm = nn.LSTM(vocab, H, num_layers=LAYERS, dropout=0.2, batch_first=True)
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(H, vocab)

    def forward(self, x, state):
        y, state = self.lstm(x, state)
        return self.out(self.drop(y)), state


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    N = a.batch
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = CharRNN(a.vocab)
    opt = torch.optim.Adam(model.parameters(), lr=4e-3)
    loss_fn = nn.CrossEntropyLoss()
    data = []
    for _ in range(8):
        idx = torch.randint(a.vocab, (N, T + 1))
        data.append((nn.functional.one_hot(idx[:, :-1], a.vocab).float(), idx[:, 1:]))
    state = None

    def one_pass():
        nonlocal state
        for i in range(a.batches):
            x, y = data[i % len(data)]
            opt.zero_grad()
            if state is not None:
                state = tuple(s.detach() for s in state)
            logits, state = model(x, state)
            loss_fn(logits.reshape(-1, a.vocab), y.reshape(-1)).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()

    model.train()
    one_pass()  # untimed
    rates = []
    for _ in range(a.passes):
        t0 = time.perf_counter()
        one_pass()
        rates.append(N * T * a.batches / (time.perf_counter() - t0))
    print(
        json.dumps(
            {"version": torch.__version__, "threads": torch.get_num_threads(), "train": statistics.median(rates), "passes": rates}
        )
    )


main()
