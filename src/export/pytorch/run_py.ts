/**
 * run.py, shared by every kind's train.py: the command line they share, the processes (torchrun's
 * DistributedDataParallel), the checkpoint --resume continues from, the epoch's line, log.csv and the recur model
 * written to --out. Each train.py keeps only its recipe: data, loss, validation, what "better" means.
 * Python kept as written (String.raw): no backquote, no dollar-brace.
 */

export const RUN = String.raw`"""What every exported train.py shares: its common flags, its place among torchrun's processes, the checkpoint that
--resume continues from (one per process, written atomically), the epoch's line, log.csv, and the recur model it
writes to --out. The recipe itself (data, loss, validation, save-best, learning-rate schedule) stays in train.py."""
import argparse
import csv
import math
import os
import time

import torch
import torch.distributed as dist

import recur_io


def arguments(doc, here):
    """The flags every train.py has; each adds its own data flag and --epochs before parsing."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--start", default=os.path.join(here, "start"), help="the recur model to start from")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many optimizer steps (0: no limit)")
    p.add_argument("--out", default="pytorch-run", help="where the recur-format model, log.csv and checkpoints go")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--overwrite", action="store_true",
                   help="start over in an --out that holds a run (its model, checkpoints and log.csv are replaced)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the recipe's)")
    return p


def _run_files(out):
    """The files in out that make it a run's (a model, a checkpoint), sorted; [] for a new or other directory."""
    if not os.path.isdir(out):
        return []
    return sorted(n for n in os.listdir(out) if n == "model.json" or n.startswith("pytorch-checkpoint."))


def _users_weights(out):
    """The first non-empty file in out named like a model's weights while out holds no model.json, else None."""
    if not os.path.isdir(out) or os.path.exists(os.path.join(out, "model.json")):
        return None
    for n in sorted(os.listdir(out)):
        p = os.path.join(out, n)
        if recur_io.WEIGHTS_RE.match(n) and (os.path.islink(p) or (os.path.isfile(p) and os.path.getsize(p) > 0)):
            return n
    return None


class Run:
    """This process's run: its rank among torchrun's processes (0 of 1 without torchrun), its device, --out and the
    checkpoint there. Only process 0 prints and writes the model and log.csv; every process keeps its own checkpoint
    (its data shard and random state are its own)."""

    def __init__(self, a):
        self.args = a
        # As recur train: a run's model (or anyone's model.json) is never replaced by a new run unless asked. Every
        # process checks before init_process_group, which waits for them all, so none has written anything yet.
        if a.resume and a.overwrite:
            raise SystemExit("train.py: give --resume or --overwrite, not both")
        held = _run_files(a.out)
        if held and not a.resume and not a.overwrite:
            raise SystemExit(f"train.py: {a.out} already holds a run ({held[0]}); continue it with --resume, start it "
                             "over with --overwrite, or give a new --out")
        # In a directory without a run (no model.json, no checkpoint), a weights file is someone else's, which writing
        # the model would delete as an older model's weights: refused, --overwrite or not (as recur refuses it).
        theirs = None if held else _users_weights(a.out)
        if theirs:
            raise SystemExit(f"train.py: {os.path.join(a.out, theirs)} is not part of a recur model here and saving one "
                             "would replace it; give --out a directory of its own")
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        if self.world > 1:
            dist.init_process_group("nccl" if a.device == "cuda" else "gloo")
        self.rank = dist.get_rank() if self.world > 1 else 0
        if a.device == "cuda":
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu")
        self.out = a.out
        os.makedirs(a.out, exist_ok=True)
        self.checkpoint_path = os.path.join(a.out, f"pytorch-checkpoint.rank{self.rank}.pt")
        if a.overwrite and not a.resume:
            # The old run goes: a run stopped by --max-steps then writes its own model, not keeps the old one.
            mine = [os.path.basename(self.checkpoint_path)] + (["model.json", "log.csv"] if self.rank == 0 else [])
            for name in mine:
                if os.path.exists(os.path.join(a.out, name)):
                    os.unlink(os.path.join(a.out, name))

    def say(self, *args, **kwargs):
        if self.rank == 0:
            print(*args, **kwargs)

    def wrap(self, model):
        """The model as the training steps call it: DistributedDataParallel over several processes."""
        return torch.nn.parallel.DistributedDataParallel(model) if self.world > 1 else model

    def resume(self, model, opt, st, plateau=None):
        """The training state st of the checkpoint (model, optimizer, plateau and random state restored), or st
        itself when not resuming."""
        if not self.args.resume:
            return st
        if not os.path.exists(self.checkpoint_path):
            raise SystemExit(f"train.py: --resume: {self.checkpoint_path} does not exist")
        ck = torch.load(self.checkpoint_path, map_location=self.device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        if plateau is not None:
            plateau.wait, plateau.best = ck["plateau"]
        torch.set_rng_state(ck["rng"])
        st = ck["train"]
        self.say(f"Resuming at epoch {st['epoch'] + 1}, batch {st['batch'] + 1}")
        return st

    def save_checkpoint(self, model, opt, st, plateau=None):
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "train": st, "rng": torch.get_rng_state()}
        if plateau is not None:
            state["plateau"] = (plateau.wait, plateau.best)
        tmp = f"{self.checkpoint_path}.{os.getpid()}.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint_path)

    def save_model(self, template, model, only_if_missing=False):
        """Process 0 writes the model to --out as a recur model directory (atomically)."""
        if self.rank != 0:
            return
        if only_if_missing and os.path.exists(os.path.join(self.out, "model.json")):
            return
        recur_io.write_model_dir(self.out, template, model.recur_weights())

    def stopped_mid_epoch(self, st, epoch, sums, seen_before, start, unit):
        """--max-steps ended the run inside an epoch: the checkpoint (saved by the caller) keeps the epoch's sums."""
        mean = sums[0].item() / max(sums[1].item(), 1)
        rate = (sums[1].item() - seen_before) / (time.time() - start)
        self.say(f"Stopped after {st['step']} steps (--max-steps) at epoch {epoch + 1}, batch {st['batch']}: "
                 f"loss {mean:.4f} so far this epoch on process 0 ({rate:.0f} {unit}/s); continue with --resume")

    def epoch_loss(self, sums, epoch):
        """The epoch's mean loss over every process: sums is (loss × count, count) of this process."""
        if self.world > 1:
            total = sums.to(self.device)
            dist.all_reduce(total)
            sums = total.cpu()
        loss = sums[0].item() / max(sums[1].item(), 1)
        if not math.isfinite(loss):
            raise SystemExit(f"train.py: the loss became non-finite at epoch {epoch + 1}; nothing of it was saved")
        return loss, sums

    def epoch_line(self, epoch, epochs, logs, counted, seconds, unit):
        self.say(f"Epoch {epoch + 1}/{epochs}: " + ", ".join(f"{k} {v:.4f}" for k, v in logs.items())
                 + f" ({counted / seconds:.0f} {unit}/s)")

    def log(self, epoch, logs):
        """Process 0 appends the epoch's logs to --out/log.csv (a new file at epoch 0)."""
        if self.rank != 0:
            return
        path = os.path.join(self.out, "log.csv")
        new = not os.path.exists(path) or epoch == 0
        with open(path, "w" if new else "a", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            if new:
                w.writerow(["epoch", *sorted(logs)])
            w.writerow([epoch, *(logs[k] for k in sorted(logs))])

    def finish(self):
        if self.world > 1:
            dist.barrier()
            dist.destroy_process_group()
`;
