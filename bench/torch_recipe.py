"""The seed recipe in PyTorch, for `npm run bench` (run only when /usr/bin/python3 can import torch).

LSTM(128) -> Linear(vocab), softmax cross-entropy, RMSprop(lr 0.01, Keras's rho 0.9 and eps 1e-7), batch 128 of
40-char one-hot windows; the same shapes recur and tfjs train in the same run. Speed does not depend on the text,
so the batches are random indices over the corpus's vocabulary size.

Usage: OPENBLAS_NUM_THREADS=<n> python3 torch_recipe.py <vocab-size>
Prints one JSON line: training samples/s with 1 and 2 torch threads, stateful generation chars/s (one LSTM step per
char, hidden state carried) and window re-run generation chars/s (the Keras recipe's way). The OpenBLAS thread
count is fixed when the library loads, so the caller runs this once per setting and keeps the best.
"""
import json
import sys
import time

import torch
from torch import nn

V = int(sys.argv[1]) if len(sys.argv) > 1 else 60
T, N, H = 40, 128, 128


class CharLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(V, H, batch_first=True)
        self.out = nn.Linear(H, V)

    def forward(self, x, state=None):
        y, state = self.lstm(x, state)
        return self.out(y[:, -1]), state


def one_hot(idx):
    return nn.functional.one_hot(idx, V).float()


def train_speed(threads, batches=30):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = CharLSTM()
    opt = torch.optim.RMSprop(model.parameters(), lr=0.01, alpha=0.9, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    data = [(one_hot(torch.randint(V, (N, T))), torch.randint(V, (N,))) for _ in range(8)]

    def step(i):
        x, y = data[i % len(data)]
        opt.zero_grad()
        logits, _ = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        opt.step()

    for i in range(3):
        step(i)
    t0 = time.perf_counter()
    for i in range(batches):
        step(i)
    return N * batches / (time.perf_counter() - t0)


@torch.no_grad()
def generate_speed(chars, window):
    torch.set_num_threads(1)
    torch.manual_seed(1)
    model = CharLSTM().eval()
    seq = torch.randint(V, (T,)).tolist()
    state = None
    if not window:
        _, state = model(one_hot(torch.tensor([seq])))
    t0 = time.perf_counter()
    last = seq[-1]
    for _ in range(chars):
        if window:
            logits, _ = model(one_hot(torch.tensor([seq[-T:]])))
        else:
            logits, state = model(one_hot(torch.tensor([[last]])), state)
        probs = torch.softmax(logits[0] / 0.5, dim=0)
        last = int(torch.multinomial(probs, 1))
        seq.append(last)
    return chars / (time.perf_counter() - t0)


train1 = train_speed(1)
train2 = train_speed(2)
print(
    json.dumps(
        {
            "version": torch.__version__,
            "train1": train1,
            "train2": train2,
            "generate": generate_speed(3000, False),
            "generateWindow": generate_speed(500, True),
        }
    )
)
