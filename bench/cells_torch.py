"""The seed recipe's shapes with another cell, in PyTorch, for `node dist/bench/cells.js` (issue #18 item 3).

nn.GRU or nn.RNN (tanh) with 128 units over 40-step one-hot windows -> Linear(vocab), softmax cross-entropy,
RMSprop(lr 0.01, Keras's rho 0.9 and eps 1e-7), batches of 128: what recur trains in the same run. Speed does not
depend on the text, so the batches are random indices over the corpus's vocabulary size.

Usage: OPENBLAS_NUM_THREADS=<n> python3 cells_torch.py --cell gru|rnn --vocab V --threads T [--batches B] [--passes P]
Prints one JSON line: torch's version, the cell, its threads, and training samples/s: the median of P timed passes
of B batches after one untimed pass (and each pass's rate).
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn

T, N, H = 40, 128, 128


class CharModel(nn.Module):
    def __init__(self, cell, vocab):
        super().__init__()
        self.rnn = nn.GRU(vocab, H, batch_first=True) if cell == "gru" else nn.RNN(vocab, H, batch_first=True)
        self.out = nn.Linear(H, vocab)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.out(y[:, -1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cell", choices=["gru", "rnn"], required=True)
    ap.add_argument("--vocab", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--passes", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = CharModel(a.cell, a.vocab)
    opt = torch.optim.RMSprop(model.parameters(), lr=0.01, alpha=0.9, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    data = [
        (nn.functional.one_hot(torch.randint(a.vocab, (N, T)), a.vocab).float(), torch.randint(a.vocab, (N,)))
        for _ in range(8)
    ]

    def one_pass():
        for i in range(a.batches):
            x, y = data[i % len(data)]
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()

    one_pass()  # untimed
    rates = []
    for _ in range(a.passes):
        t0 = time.perf_counter()
        one_pass()
        rates.append(N * a.batches / (time.perf_counter() - t0))
    print(
        json.dumps(
            {
                "version": torch.__version__,
                "cell": a.cell,
                "threads": torch.get_num_threads(),
                "train": statistics.median(rates),
                "passes": rates,
            }
        )
    )


main()
