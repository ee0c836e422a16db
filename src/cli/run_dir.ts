/**
 * The run directory rules every training command shares (`recur train`, `classify train`, `seq2seq train`): one run
 * per directory (a lock file), refuse to clobber a model unless --overwrite (and then delete only recur's own files),
 * sweep the temp files of a killed run, and require a checkpoint for --resume.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { CSVLogRow } from '../node/callbacks.js';
import { isModelDir } from '../node/model_io.js';
import {
  CHECKPOINT_DIR,
  isRunFileName,
  overwriteRefusal,
  removeRunFiles,
  removeStaleTemps,
} from '../node/run_files.js';
import { LOCK_FILE, acquireRunLock } from '../node/run_lock.js';
import { UsageError, type Output } from './output.js';

/**
 * Checks and prepares `outDir` for a run; `inputs` are the data files the run reads (none may be one of the names
 * recur writes into outDir). Takes the directory's lock for the rest of the process (one run per directory), so it
 * is created if missing. Returns the checkpoint directory.
 */
export function prepareRunDir(
  outDir: string,
  o: { resume: boolean; overwrite: boolean },
  inputs: (string | undefined)[],
): string {
  const ckptDir = join(outDir, CHECKPOINT_DIR);
  if (existsSync(outDir) && !statSync(outDir).isDirectory())
    throw new UsageError(`--out ${outDir} is a file; give a directory`);
  if (o.resume && o.overwrite)
    throw new UsageError('--resume and --overwrite contradict each other; pick one');
  for (const file of inputs)
    if (
      file &&
      resolve(dirname(file)) === resolve(outDir) &&
      (isRunFileName(basename(file)) || basename(file) === LOCK_FILE)
    )
      throw new UsageError(
        `${file}: the data must not be named like a file recur writes into --out ${outDir}`,
      );
  // Before anything in the directory is touched: a second run on it must not clear or overwrite the first's files.
  acquireRunLock(outDir, `recur ${process.argv.slice(2).join(' ')}`.slice(0, 200));
  if (o.overwrite) {
    const refusal = overwriteRefusal(outDir);
    if (refusal) throw new UsageError(`--overwrite: ${refusal}; give --out a directory of its own`);
  }
  if (!o.resume && existsSync(outDir) && (isModelDir(outDir) || isModelDir(ckptDir))) {
    if (!o.overwrite) {
      throw new UsageError(
        `${outDir} already holds a model; pass --resume to continue it, --overwrite to replace it, or --out for another directory`,
      );
    }
    // Only recur's own files: anything else in the directory stays.
    removeRunFiles(outDir);
  }
  // Temp files of writes a killed run (kill -9) never finished.
  if (existsSync(outDir)) removeStaleTemps(outDir);
  if (o.resume && !isModelDir(ckptDir))
    throw new UsageError(`--resume: ${ckptDir} holds no checkpoint to resume`);
  return ckptDir;
}

/** The log.csv rows of the epochs a checkpoint's history holds (the per-epoch rows, less the timing columns). */
export function csvRowsOf(history: Record<string, number>[]): CSVLogRow[] {
  return history.map(({ epoch, seconds: _s, samples_per_sec: _r, ...logs }) => ({ epoch: epoch - 1, logs }));
}

/**
 * Ctrl-C (or SIGTERM) while a command trains: the first asks the model to stop after the current batch, so the command
 * can save a checkpoint and exit 130; a second quits at once (unless `quitOnSecond` says the first stop was the
 * command's own, e.g. a time limit). `stop()` is the same request made by the command itself.
 */
export class TrainingInterrupt {
  /** Whether a stop was requested, by a signal or by stop(). */
  requested = false;
  private readonly onSignal = (): void => {
    if (this.requested && this.quitOnSecond()) process.exit(130);
    this.requested = true;
    this.out.info(
      '\nInterrupted: finishing the current batch and saving a checkpoint (Ctrl-C again to quit now)…',
    );
    this.model.stopTraining = true;
  };

  constructor(
    private readonly model: { stopTraining: boolean },
    private readonly out: Output,
    private readonly quitOnSecond: () => boolean = () => true,
  ) {}

  /** Asks the model to stop after the current batch, as Ctrl-C does. */
  stop(): void {
    this.requested = true;
    this.model.stopTraining = true;
  }

  listen(): void {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  close(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

/** The error a training command stops with when TerminateOnNaN fired: where, and what is still on disk. */
export function nonFiniteLossError(
  epoch: number,
  batch: number,
  checkpointedEpochs: number,
  ckptDir: string,
): Error {
  const last =
    checkpointedEpochs >= 0
      ? `${ckptDir} still holds the state after epoch ${checkpointedEpochs}`
      : 'no epoch finished before it, so no checkpoint was saved';
  return new Error(
    `training stopped: the loss became non-finite at epoch ${epoch + 1}, batch ${batch + 1}; ` +
      `nothing from that epoch was saved (${last}). Try a lower --lr or a --clipnorm`,
  );
}
