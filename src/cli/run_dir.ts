/**
 * The run directory rules every training command shares (`recur train`, `classify train`, `seq2seq train`): one run
 * per directory (a lock file), refuse to clobber a model unless --overwrite (and then delete only recur's own files),
 * sweep the temp files of a killed run, and require a checkpoint for --resume.
 */
import { existsSync, lstatSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Callback, type Logs, type TerminateOnNaN } from '../models/callbacks.js';
import type { Sequential } from '../models/sequential.js';
import { csvLogText, type CSVLogRow } from '../node/callbacks.js';
import {
  SAVED_WEIGHTS_RE,
  holdsModelJson,
  isModelDir,
  recordedTask,
  removeUnreferencedWeights,
} from '../node/model_io.js';
import {
  ENSEMBLE_FILE,
  JOINT_NGRAM_NAME_RE,
  NEXT_ENSEMBLE_FILE,
  type EnsembleFormat,
} from '../models/seed_ensemble.js';
import { claimedEnsembleFormat } from '../node/seed_ensemble_dir.js';
import { RECORDED_TASKS, type RecordedTask } from '../core/tasks.js';
import {
  CARRIED_STATES_FILE_RE,
  CHECKPOINT_DIR,
  LOG_FILE,
  isCheckpointFileName,
  isModelFileName,
  isRecurRunFile,
  isRunFileName,
  overwriteRefusal,
  plainEntries,
  removeCheckpointFiles,
  removeEnsembleFiles,
  removeRunFiles,
  removeStagedEnsemble,
  removeStaleTemps,
  removeUnreferencedNgrams,
} from '../node/run_files.js';
import { LOCK_FILE, acquireRunLock } from '../node/run_lock.js';
import { parseAtomicTempName, processAlive, writeFileAtomic } from '../node/atomic.js';
import { defaultThreads } from '../node/pool.js';
import { UsageError, type Output } from './output.js';

/** The task of each ensemble record's format. */
const ENSEMBLE_TASKS: Readonly<Record<EnsembleFormat, RecordedTask>> = {
  'recur-classifier-ensemble': 'classify',
  'recur-seq2seq-ensemble': 'seq2seq',
};

/**
 * What the run in `outDir` trains, as its files record it, in the order a --resume continues them: an --overwrite
 * run's ensemble record, a checkpoint (a single run replacing an ensemble has one beside its ensemble.json), the
 * ensemble record, and with `model`, the model (a resume continues no model without a checkpoint: an --overwrite run
 * stopped before its first save left the model it replaces). Null when none records a task recur knows.
 */
function heldTask(outDir: string, model: boolean): { task: RecordedTask; ensemble: boolean } | null {
  const ensembleTask = (name: string): RecordedTask | undefined => {
    const format = existsSync(join(outDir, name)) ? claimedEnsembleFormat(outDir, name) : null;
    return format !== null && Object.hasOwn(ENSEMBLE_TASKS, format)
      ? ENSEMBLE_TASKS[format as EnsembleFormat]
      : undefined;
  };
  const modelTask = (dir: string): RecordedTask | undefined => {
    const task = recordedTask(dir);
    return typeof task === 'string' && Object.hasOwn(RECORDED_TASKS, task)
      ? (task as RecordedTask)
      : undefined;
  };
  for (const [task, ensemble] of [
    [ensembleTask(NEXT_ENSEMBLE_FILE), true],
    [modelTask(join(outDir, CHECKPOINT_DIR)), false],
    [ensembleTask(ENSEMBLE_FILE), true],
    [model ? modelTask(outDir) : undefined, false],
  ] as const)
    if (task !== undefined) return { task, ensemble };
  return null;
}

/**
 * Checks and prepares `outDir` for a run; `inputs` are the data files the run reads (none may be one of the names
 * recur writes into outDir). Takes the directory's lock for the rest of the process (one run per directory), so it
 * is created if missing. Returns the checkpoint directory. `ensembleRun`: the run trains a seed ensemble
 * (src/cli/classify_ensemble.ts, src/cli/seq2seq_ensemble.ts), whose --resume needs its ensemble.json rather than a checkpoint here.
 * `keepReplacedModel`: with --overwrite, a model already in outDir is left for the run's first save of its own model
 * to replace (saveModel replaces a model directory atomically), so a run stopped before then leaves it loadable;
 * only for a run whose files beside model.json are none but log.csv, which its first epoch rewrites (CSVLogger).
 * `stageEnsemble`: with --overwrite, the model or ensemble already in outDir stays, loadable, until the new ensemble
 * (trained in members-<hex>/, recorded in ensemble-next.json) has a finished member (writeEnsembleRecord switches).
 * `keepReplacedEnsemble`: with --overwrite, an ensemble in outDir stays until the new single model's first save
 * (then dropReplacedEnsemble removes ensemble.json, the switch); until then its --resume is the single run's.
 * `task`: what the run trains; a directory another command's run wrote is refused, named, unless --overwrite.
 */
export function prepareRunDir(
  outDir: string,
  o: {
    task: RecordedTask;
    resume: boolean;
    overwrite: boolean;
    ensembleRun?: boolean;
    keepReplacedModel?: boolean;
    keepReplacedEnsemble?: boolean;
    stageEnsemble?: boolean;
    /** Where a Ctrl-C before or after training is announced (holdRunSignals); default: not at all. */
    output?: Output;
  },
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
  // `train --from runs/x --out runs/x --overwrite` would delete the model it is about to read.
  for (const file of inputs)
    if (file) {
      const at = resolve(file);
      if (at === resolve(outDir) || at === resolve(ckptDir) || dirname(at) === resolve(ckptDir))
        throw new UsageError(
          `${file}: the run would replace it, as it is --out ${outDir}'s own model; give --out another directory`,
        );
    }
  // Listening first: from the lock on, a Ctrl-C must stop the run cleanly, its lock released (holdRunSignals).
  holdRunSignals(outDir, o.output);
  // Before anything in the directory is touched: a second run on it must not clear or overwrite the first's files.
  acquireRunLock(outDir, `recur ${process.argv.slice(2).join(' ')}`.slice(0, 200));
  // Test hook: RECUR_TEST_INTERRUPT_AT_START=1 sends this process Ctrl-C's SIGINT as soon as it holds the lock (the
  // first: an ensemble's, not again for each member's).
  if (process.env.RECUR_TEST_INTERRUPT_AT_START === '1' && !runSignals.startHookFired) {
    runSignals.startHookFired = true;
    process.kill(process.pid, 'SIGINT');
  }
  if (o.overwrite) {
    const refusal = overwriteRefusal(outDir);
    if (refusal) throw new UsageError(`--overwrite: ${refusal}; give --out a directory of its own`);
  }
  // A model.json that is no model's is the user's, as the check of a directory holding no model below says: also
  // beside a checkpoint (--overwrite would delete it with the run's files) and on --resume (the first save would
  // replace it).
  const modelJson = join(outDir, 'model.json');
  if (existsSync(modelJson) && lstatSync(modelJson).size > 0 && !holdsModelJson(outDir))
    throw new UsageError(
      `${modelJson} is not part of a recur model here and a run would replace it; give --out a directory of its own`,
    );
  // An ensemble.json or joint-ngram.json recur did not write (not of its format) is the user's: neither deleted nor
  // replaced, so the run does not start — refused before --overwrite deletes anything.
  if (!o.resume) {
    const users = plainEntries(outDir).find(
      (n) => isRunFileName(n) && !isRecurRunFile(join(outDir, n)) && lstatSync(join(outDir, n)).size > 0,
    );
    if (users !== undefined)
      throw new UsageError(
        `${join(outDir, users)} is not a file recur wrote and a run could replace it; give --out a directory of its own`,
      );
  }
  // An ensemble here, or one an --overwrite run is training in place of the model here (ensemble-next.json).
  const ensemble = [ENSEMBLE_FILE, NEXT_ENSEMBLE_FILE].some(
    (n) => existsSync(join(outDir, n)) && isRecurRunFile(join(outDir, n)),
  );
  // Another command's run: named as what it is, before a resume reads its checkpoint as this command's (failing on
  // its topology) or a new run's refusal suggests --resume, which could not continue it.
  const held = heldTask(outDir, !o.resume);
  if (held !== null && held.task !== o.task && (o.resume || !o.overwrite)) {
    const { what, command } = RECORDED_TASKS[held.task];
    const holds = `${outDir} holds ${held.ensemble ? 'a seed ensemble' : what} (from ${command}), not ${RECORDED_TASKS[o.task].what}`;
    throw new UsageError(
      o.resume
        ? `--resume: ${holds}; continue it with ${command} --out ${outDir} --resume`
        : `${holds}; --overwrite replaces it (only recur's files go), or give --out another directory`,
    );
  }
  // A model here: a model.json of a model's format (holdsModelJson); a user's file of that name is refused below.
  if (!o.resume && existsSync(outDir) && (holdsModelJson(outDir) || holdsModelJson(ckptDir) || ensemble)) {
    if (!o.overwrite) {
      throw new UsageError(
        `${outDir} already holds a ${ensemble ? 'seed ensemble' : 'model'}; pass --resume to continue it, --overwrite to replace it, or --out for another directory`,
      );
    }
    // Only recur's own files: anything else in the directory stays. A model the new run replaces with its own
    // (keepReplacedModel) stays loadable, with its log, until the run's first save replaces it; only the old run's
    // checkpoint goes now, so that --resume after a stop continues the new run, never the old one.
    if (o.stageEnsemble) {
      // An earlier --overwrite run's ensemble that never replaced the model goes; the model stays.
      removeStagedEnsemble(outDir);
      removeCheckpointFiles(outDir);
    } else if (ensemble && o.keepReplacedEnsemble) {
      removeStagedEnsemble(outDir);
      removeCheckpointFiles(outDir);
    } else if (ensemble) removeEnsembleFiles(outDir);
    else if (o.keepReplacedModel && holdsModelJson(outDir)) removeCheckpointFiles(outDir);
    else removeRunFiles(outDir);
  }
  // Without a model here, a file of a name recur writes is the user's (a killed first epoch leaves no log.csv, an
  // older recur's an empty one): the run would replace it, so it does not start, --overwrite or not. One exception:
  // a joint n-gram of recur's format is a killed run's, since a seq2seq run writes it before its first epoch (the
  // user's own JSON of that name was refused above); removeUnreferencedNgrams below removes it, and the run fits its own.
  // Files of a save kill -9 stopped (relative to outDir): the run's own, so a start goes ahead and removes them.
  let killedFiles: string[] = [];
  if (!o.resume && !holdsModelJson(outDir) && !holdsModelJson(ckptDir) && !ensemble) {
    killedFiles = [
      ...killedSaveFiles(outDir, isModelFileName),
      ...killedSaveFiles(ckptDir, isCheckpointFileName).map((n) => join(CHECKPOINT_DIR, n)),
    ];
    const theirs = [
      ...plainEntries(outDir)
        .filter(isRunFileName)
        .filter((n) => !(JOINT_NGRAM_NAME_RE.test(n) && isRecurRunFile(join(outDir, n)))),
      ...plainEntries(ckptDir)
        .filter(isCheckpointFileName)
        .map((n) => join(CHECKPOINT_DIR, n)),
    ]
      .filter((n) => !killedFiles.includes(n))
      .find((n) => {
        const st = lstatSync(join(outDir, n));
        return st.isSymbolicLink() || st.size > 0;
      });
    if (theirs !== undefined)
      throw new UsageError(
        `${join(outDir, theirs)} is not part of a recur model here and a run would replace it; give --out a directory of its own`,
      );
  }
  // A single run replacing an ensemble (keepReplacedEnsemble) has its checkpoint beside it until it switches.
  if (o.resume && (o.ensembleRun ?? false) !== (ensemble && !isModelDir(ckptDir)))
    throw new UsageError(
      ensemble
        ? `--resume: ${outDir} holds a seed ensemble; resume it with --ensemble`
        : `--resume: ${outDir} holds no seed ensemble (no ${ENSEMBLE_FILE}) to resume` +
            // A run killed before it wrote its ensemble.json (its first write) trained nothing: start it again.
            (isModelDir(outDir) || isModelDir(ckptDir)
              ? ''
              : '; a run stopped before it wrote one trained nothing: run the same command without --resume'),
    );
  // A --resume given no data file (it reads the checkpoint's) is not the command that started the run: that one
  // again, without the data file, would train on the command's default data.
  const command =
    inputs[0] === undefined
      ? 'the command that started the run (with its data file, if it named one)'
      : 'the same command';
  if (o.resume && !ensemble && !isModelDir(ckptDir))
    throw new UsageError(
      `--resume: ${ckptDir} holds no checkpoint to resume (a run stopped before its first one saves none); ` +
        // A kill between the first epoch's best-model save and its checkpoint leaves a model: a start without
        // --resume would refuse it, so the way to start afresh is --overwrite (which deletes only recur's files).
        (isModelDir(outDir)
          ? `run ${command} with --overwrite instead of --resume to start afresh`
          : `run ${command} without --resume to start afresh`),
    );
  // Temp files of writes a killed run (kill -9) never finished: swept only once the run goes ahead, since they tell
  // the next start which files beside them are the killed run's (killedSaveFiles). Those files go with them: without
  // their temp files, a start after this run is killed too would take them for the user's and refuse to run.
  for (const n of killedFiles) unlinkSync(join(outDir, n));
  if (existsSync(outDir)) removeStaleTemps(outDir);
  // Weights a save replaced, left by a kill before their removal: the run may never save into that directory again.
  if (o.resume) for (const d of [outDir, ckptDir]) if (isModelDir(d)) removeUnreferencedWeights(d);
  // The n-grams of no model here: a replaced model's (a kill came between its replacement and their removal) and a
  // killed run's, which the new run would otherwise take as its own, whatever its order or data.
  if (existsSync(outDir)) removeUnreferencedNgrams(outDir);
  return ckptDir;
}

/**
 * The files (by name) that a save into model directory `d`, one holding no model.json, wrote before kill -9 stopped
 * it; `ours`: the names saves write there. A save writes, each through a temp file, a char-rnn checkpoint's carried
 * states, then the weights, then model.json: the temp file of a process no longer running tells the write it was
 * killed in, and the files of the writes before it are that run's, not the user's — a new start may replace them.
 * Empty when no save was killed there.
 */
export function killedSaveFiles(d: string, ours: (name: string) => boolean): string[] {
  const entries = plainEntries(d);
  const killedIn = entries.flatMap((n) => {
    const t = parseAtomicTempName(n);
    return t !== null && ours(t.target) && !processAlive(t.pid) ? [t.target] : [];
  });
  const inModelJson = killedIn.includes('model.json');
  const inWeights = killedIn.some((t) => SAVED_WEIGHTS_RE.test(t));
  // Only names a save gives its files (an old `weights.bin` is someone else's).
  const states = (n: string): boolean => (inModelJson || inWeights) && CARRIED_STATES_FILE_RE.test(n);
  return entries.filter(
    (n) =>
      ours(n) && (states(n) || (inModelJson && SAVED_WEIGHTS_RE.test(n))) && lstatSync(join(d, n)).isFile(),
  );
}

/**
 * Saves, at a run's end, the model of a run no epoch of which saved one (a time limit in the first) into outDir, in
 * place of any model there (--overwrite leaves the old one until the run saves its own); with no epoch finished, the
 * log.csv beside it, which the run never started, is the replaced model's: it is started empty, as the run's own.
 */
export function saveUnsavedModel(outDir: string, history: readonly unknown[], save: () => void): void {
  save();
  if (history.length === 0) writeFileAtomic(join(outDir, LOG_FILE), '');
}

/** The log.csv rows of the epochs a checkpoint's history holds (the per-epoch rows, less the timing columns). */
export function csvRowsOf(history: Record<string, number>[]): CSVLogRow[] {
  // The timing columns (seconds, and the speed: samples_per_sec, target_tokens_per_sec, …) are the terminal's and
  // --json's, never the log's: an interrupted run's log must read as an uninterrupted one's.
  return history.map(({ epoch, seconds: _s, ...row }) => ({
    epoch: epoch - 1,
    logs: Object.fromEntries(Object.entries(row).filter(([k]) => !k.endsWith('_per_sec'))),
  }));
}

/**
 * Ctrl-C (or SIGTERM) outside training, from when a run takes its directory's lock (prepareRunDir) to its end: with
 * no listener Node would die at once, saying nothing, with the lock left behind. Before training (reading the data,
 * building the model) the stop is the training's: TrainingInterrupt takes it over, and the run stops after its first
 * batch with a checkpoint that --resume continues, as Ctrl-C in training does (a second Ctrl-C quits at once). After
 * training (the test scores) the model is saved and the command ends there. A resumed run with nothing left to train
 * (nothingLeftToTrain) has no first batch: a Ctrl-C in its setup stops it as one after training does, once its model
 * is in place (finishedRunInterrupted). Exit 130 every way, through 'exit', which releases the lock.
 */
const runSignals: {
  phase: 'none' | 'setup' | 'training' | 'after';
  /** A Ctrl-C in setup, not yet taken over by a TrainingInterrupt. */
  stopRequested: boolean;
  /** The run is a resumed one with nothing left to train (nothingLeftToTrain). */
  nothingLeft: boolean;
  /** The command scores its model on a test split after training (train does not). */
  scores: boolean;
  /** The run's directory (the first prepared: an ensemble's, not a member's). */
  dir: string;
  out: Output | undefined;
  startHookFired: boolean;
} = {
  phase: 'none',
  stopRequested: false,
  nothingLeft: false,
  scores: true,
  dir: '',
  out: undefined,
  startHookFired: false,
};

/** What a Ctrl-C after training says: the model is in place (and the test scores, if any, are not computed). */
function afterTrainingMessage(): string {
  return `Interrupted after training: the model in ${runSignals.dir} is saved${runSignals.scores ? '; stopped before the test scores' : ''}`;
}

function onRunSignal(): void {
  if (runSignals.phase === 'training') return; // TrainingInterrupt's
  if (runSignals.phase === 'after') {
    runSignals.out?.info(`\n${afterTrainingMessage()}`);
    process.exit(130);
  }
  if (runSignals.stopRequested) process.exit(130);
  runSignals.stopRequested = true;
  runSignals.out?.info(
    runSignals.nothingLeft
      ? `\nInterrupted: the run in ${runSignals.dir} has nothing left to train; it stops once its model is in place` +
          `${runSignals.scores ? ', before the test scores' : ''} (Ctrl-C again to quit now)…`
      : '\nInterrupted: training stops after its first batch and saves a checkpoint (Ctrl-C again to quit now)…',
  );
}

/**
 * Says, during its setup and before its TrainingInterrupt listens, that a resumed run has nothing left to train (its
 * checkpoint is a finished run's): a Ctrl-C then stops it, not after a first batch it never trains, but where its model
 * is in place (finishedRunInterrupted). `scores`: the command goes on to test scores, which the stop skips.
 */
export function nothingLeftToTrain(scores: boolean): void {
  runSignals.nothingLeft = true;
  runSignals.scores = scores;
}

/**
 * Where a run with nothing left to train (nothingLeftToTrain) has its model in place, before its test scores: a Ctrl-C
 * during its setup, announced then or still queued (a finished run's setup may never have waited), stops the command
 * here as one after training does. True when it stopped: the command returns 130. From here on Ctrl-C is the
 * after-training one.
 */
export async function finishedRunInterrupted(): Promise<boolean> {
  if (!runSignals.nothingLeft) return false;
  runSignals.nothingLeft = false;
  runSignals.phase = 'after';
  if (runSignals.stopRequested) {
    runSignals.stopRequested = false;
    runSignals.out?.info(afterTrainingMessage());
    return true;
  }
  await signalsDelivered();
  return false;
}

/**
 * Lets a Ctrl-C that came during synchronous work (only queued, with a listener) be handled now. Two turns: the second
 * immediate, queued in a check phase, runs after the event loop's next poll, which reads signals.
 */
export function signalsDelivered(): Promise<void> {
  return new Promise<void>((done) => setImmediate(() => setImmediate(done)));
}

/** Starts (or, for an ensemble's next member, resumes) the run's setup, listening for Ctrl-C (runSignals). */
function holdRunSignals(dir: string, out: Output | undefined): void {
  if (runSignals.phase === 'none') {
    process.on('SIGINT', onRunSignal);
    process.on('SIGTERM', onRunSignal);
    runSignals.dir = dir;
  }
  if (out !== undefined) runSignals.out = out;
  if (runSignals.phase !== 'training') runSignals.phase = 'setup';
}

/**
 * Rewrites `outDir`'s log.csv from the epochs of a checkpoint's history when it reads otherwise: a resume of a run
 * whose checkpoint is already that of a finished one trains nothing, so no CSVLogger rewrites it — and a kill -9
 * between the last epoch's checkpoint and its log row left the row out.
 */
export function restoreLog(outDir: string, history: Record<string, number>[]): void {
  if (history.length === 0) return;
  const path = join(outDir, LOG_FILE);
  const text = csvLogText(csvRowsOf(history));
  if (!existsSync(path) || readFileSync(path, 'utf8') !== text) writeFileAtomic(path, text);
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
    // Nothing left to train: a Ctrl-C stays runSignals', which stops the run where its model is in place.
    if (runSignals.nothingLeft) return;
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    if (runSignals.phase === 'none') return;
    // A Ctrl-C during the run's setup, announced then: training stops after its first batch (EpochRecorder).
    if (runSignals.stopRequested) this.requested = true;
    runSignals.stopRequested = false;
    runSignals.phase = 'training';
  }

  close(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    if (runSignals.phase !== 'training') return;
    runSignals.phase = 'after';
    // Test hook: RECUR_TEST_INTERRUPT_AFTER_TRAINING=1 sends this process Ctrl-C's SIGINT as training ends.
    if (process.env.RECUR_TEST_INTERRUPT_AFTER_TRAINING === '1') process.kill(process.pid, 'SIGINT');
  }
}

/**
 * A run's time budget: wall-clock minutes, or CPU minutes of this process — all its threads, the worker pool's
 * included — so on a shared machine it is the work an idle one would do. Running out stops the run like Ctrl-C
 * (a checkpoint is saved), but the command then finishes normally: best model, test scores, exit 0.
 */
export class TrainingBudget {
  /** Whether the budget ran out. */
  exhausted = false;
  private readonly deadline: number;
  private readonly cpuStart = process.cpuUsage();
  private readonly cpuBudget: number;

  constructor(limits: { timeLimit?: number; cpuTimeLimit?: number }) {
    this.deadline = limits.timeLimit !== undefined ? Date.now() + limits.timeLimit * 60_000 : Infinity;
    this.cpuBudget = limits.cpuTimeLimit !== undefined ? limits.cpuTimeLimit * 60e6 : Infinity;
  }

  /** Checks the clocks; true once the budget has run out. */
  check(): boolean {
    if (this.exhausted) return true;
    const u = this.cpuBudget === Infinity ? null : process.cpuUsage(this.cpuStart);
    this.exhausted = Date.now() > this.deadline || (u !== null && u.user + u.system > this.cpuBudget);
    return this.exhausted;
  }
}

export interface EpochRecorderOptions {
  out: Output;
  /** The per-epoch rows so far (a resumed run's come from its checkpoint); each finished epoch appends one. */
  history: Record<string, number>[];
  interrupt: TrainingInterrupt;
  terminateOnNaN: TerminateOnNaN;
  /** The epoch training starts at, and whether a checkpoint of that point exists (a resumed run). */
  startEpoch: number;
  resumed: boolean;
  budget?: TrainingBudget;
  /** The speed columns of an epoch's row, from its samples and seconds (default: samples_per_sec). */
  speed?: (samples: number, seconds: number) => Logs;
  /** After the epoch's row is recorded and printed, e.g. text samples. */
  report?: (epoch: number) => void;
  /** Saves the end-of-epoch checkpoint (`epoch` is 0-based); never called once the loss went non-finite. */
  checkpoint: (epoch: number) => void;
  /** What the RECUR_TEST_POISON_AFTER test hook does (default: fill the model's first weight with NaN), as an overflow would. */
  poison?: () => void;
  /**
   * The count of batches trained that the test hooks read, shared by the recorders of one process that trains several
   * models in turn (a seed ensemble's members), so a hook fires once, in whichever member; default: this recorder's.
   */
  batchCounter?: { n: number };
}

/**
 * The per-epoch bookkeeping every training command shares: times each epoch and counts its samples, appends the
 * epoch's row (logs, seconds, speed) to the history and prints it as JSON, then the command's report and checkpoint;
 * stops the run when its budget runs out. Also the test hooks, counted in batches this process trained:
 * RECUR_TEST_INTERRUPT_AFTER=N stops as Ctrl-C would, RECUR_TEST_KILL_AFTER=N dies by SIGKILL (kill -9),
 * RECUR_TEST_POISON_AFTER=N turns the weights non-finite, RECUR_TEST_BUDGET_AFTER=N runs the time budget out.
 */
export class EpochRecorder extends Callback {
  /** The epoch being trained (0-based). */
  currentEpoch: number;
  /** Epochs finished as of the checkpoint on disk; -1: none. */
  checkpointedEpochs: number;
  private readonly batchesSeen: { n: number };
  private epochStart = Date.now();
  private epochSamples = 0;
  private readonly stopAfter = Number(process.env.RECUR_TEST_INTERRUPT_AFTER ?? 0);
  private readonly killAfter = Number(process.env.RECUR_TEST_KILL_AFTER ?? 0);
  private readonly poisonAfter = Number(process.env.RECUR_TEST_POISON_AFTER ?? 0);
  private readonly budgetAfter = Number(process.env.RECUR_TEST_BUDGET_AFTER ?? 0);

  constructor(private readonly o: EpochRecorderOptions) {
    super();
    this.currentEpoch = o.startEpoch;
    this.checkpointedEpochs = o.resumed ? o.startEpoch : -1;
    this.batchesSeen = o.batchCounter ?? { n: 0 };
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.currentEpoch = epoch;
    this.epochStart = Date.now();
    this.epochSamples = 0;
  }

  override async onBatchEnd(_batch: number, logs: Logs): Promise<void> {
    this.epochSamples += logs.size ?? 0;
    const n = ++this.batchesSeen.n;
    if (n === this.killAfter) process.kill(process.pid, 'SIGKILL');
    if (n === this.poisonAfter) {
      if (this.o.poison) this.o.poison();
      // Every command's model names its weights (Sequential and functional alike): ruin the first one.
      else (this.model as unknown as Sequential).namedWeights()[0].weight.value.fill(NaN);
    }
    if (n === this.budgetAfter && this.o.budget !== undefined) {
      this.o.budget.exhausted = true;
      this.o.interrupt.stop();
    }
    const overBudget = this.o.budget !== undefined && !this.o.budget.exhausted && this.o.budget.check();
    // `requested`: also a Ctrl-C from before the fit began (during a joint n-gram's fit), whose stop fitDataset cleared.
    if (n === this.stopAfter || overBudget || this.o.interrupt.requested) this.o.interrupt.stop();
  }

  override async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    const seconds = (Date.now() - this.epochStart) / 1000;
    // An epoch under the clock's millisecond reads 0 s: its speed would be Infinity, which JSON writes as null — a
    // --json line of null and a checkpoint history --resume refuses. Speeds are measured over at least 1 ms.
    const timed = Math.max(seconds, 0.001);
    const speed = this.o.speed?.(this.epochSamples, timed) ?? {
      samples_per_sec: this.epochSamples / timed,
    };
    const row = { epoch: epoch + 1, ...logs, seconds, ...speed };
    this.o.history.push(row);
    this.o.out.json(row);
    this.o.report?.(epoch);
    // Weights a non-finite loss has ruined are never checkpointed: the last good checkpoint stays.
    if (this.o.terminateOnNaN.reason === null) {
      this.o.checkpoint(epoch);
      this.checkpointedEpochs = epoch + 1;
    }
  }
}

/**
 * A boolean flag whose default commander always fills in (`--no-lowercase`, `--gru-reset-after`): only `false` says
 * the user gave it, so that is the only value refuseChangedFlags should compare.
 */
export function givenIfOff(value: boolean | undefined): false | undefined {
  return value === false ? false : undefined;
}

/**
 * A resumed run is the checkpoint's run: its model, data settings and schedule come from the checkpoint. A flag given
 * with --resume whose value differs from the checkpoint's is bad usage — ignoring it would make the user believe the
 * run continues with their setting. Each entry: [flag, the value given (undefined: not given), the checkpoint's].
 */
export function refuseChangedFlags(given: readonly (readonly [string, unknown, unknown])[]): void {
  for (const [flag, value, saved] of given)
    if (value !== undefined && value !== saved)
      throw new UsageError(
        // A switch takes no value: "--no-lowercase false … uses true" read as nonsense.
        ((flag.startsWith('--no-') && value === false) || (value === true && saved === false)
          ? `${flag} with --resume: the checkpoint's run was started without it`
          : `${flag} ${String(value)} with --resume: the checkpoint's run uses ${String(saved)}`) +
          '; leave the flag out (a resumed run keeps its model, data settings and schedule)',
      );
}

/**
 * Refuses --epochs with --resume below what the checkpoint has already trained (`trained`: its finished epochs, and
 * `batch` > 0 when it stopped part way into the next). Such a run would end at once and say it had finished — a
 * mistyped number would pass unnoticed. `own`: the epochs the run goes to without the flag; `who`: 'the run', or an
 * ensemble's member.
 */
export function refuseFewerEpochs(
  given: number | undefined,
  trained: { epoch: number; batch: number },
  own: number,
  who = 'the run',
): void {
  const least = trained.epoch + (trained.batch > 0 ? 1 : 0);
  if (given === undefined || given >= least) return;
  const partly = trained.batch > 0 ? ` and part of epoch ${least}` : '';
  const withoutFlag =
    own > trained.epoch
      ? `leave the flag out to train on to the run's own ${own}`
      : `leave the flag out (the run has trained its own ${own})`;
  throw new UsageError(
    `--epochs ${given} with --resume: ${who} has already trained ${trained.epoch} epoch${trained.epoch === 1 ? '' : 's'}${partly}; ` +
      `${withoutFlag}, or give --epochs ${least} or more (the epochs to train to, counting those done)`,
  );
}

/**
 * The --steps-per-epoch cap a run trains with. A resumed run keeps its checkpoint's (`saved`, null: no cap), as it
 * keeps its schedule: a different flag is bad usage, and a resume after kill -9 (no "Continue with:" line) needs no
 * flag. A checkpoint of an older recur, which did not record it (undefined), takes the flag's.
 */
export function stepsPerEpochOf(
  given: number | undefined,
  saved: number | null | undefined,
): number | undefined {
  if (saved === undefined) return given;
  refuseChangedFlags([['--steps-per-epoch', given, saved ?? 'no cap']]);
  return saved ?? undefined;
}

/**
 * The threads a run trains on: those given, else those the resumed run recorded (`recorded`; undefined for a new run
 * or a checkpoint from before recur recorded them), else all cores. A batch split over another count is summed in
 * another order, so a resume on other threads than its run's is said (its result may differ in the last bits from
 * the uninterrupted run's); a bare --resume continues as the run was going.
 */
export function runThreads(given: number | undefined, recorded: number | undefined, out: Output): number {
  if (given !== undefined && recorded !== undefined && given !== recorded)
    out.note(
      `resuming on --threads ${given}, where the run trained on ${recorded}: the result may differ in the last bits from the uninterrupted run's (leave out --threads to keep ${recorded})`,
    );
  return given ?? recorded ?? defaultThreads();
}

/** A word for a shell command line: quoted when it holds anything but plain path characters. */
function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command that continues a stopped run as it was going. --epochs and --threads are what a resumed run may change
 * (the rest comes from its checkpoint), so the hint repeats this run's: the same epochs to go to, and the same threads
 * for the same bits. `epochs` undefined: the checkpoint keeps them (classify).
 */
export function continueWith(
  command: string,
  file: string | undefined,
  outDir: string,
  run: { epochs?: number; threads: number },
): string {
  const words = ['recur', ...command.split(' '), ...(file ? [file] : []), '--out', outDir, '--resume'];
  if (run.epochs !== undefined) words.push('--epochs', String(run.epochs));
  words.push('--threads', String(run.threads));
  return `Continue with: ${words.map(shellWord).join(' ')}`;
}

/**
 * Says where a stopped run's checkpoint is and how to continue, on the terminal and as a JSON event ('interrupted',
 * or 'time_limit' when the budget ran out). `endOfEpoch` is a stop on an epoch's last batch, whose end-of-epoch
 * checkpoint is the one on disk (`epoch` then counts finished epochs). Returns the exit code the command ends with
 * now — 130 after Ctrl-C — or null when the budget stopped it and the command goes on to finish normally.
 */
export function announceStop(
  out: Output,
  ckptDir: string,
  resumeHint: string,
  budget: TrainingBudget,
  stop: { epoch: number; batch: number; endOfEpoch?: boolean },
): 130 | null {
  const event = budget.exhausted ? 'time_limit' : 'interrupted';
  if (stop.endOfEpoch) {
    out.info(`Saved ${ckptDir} at the end of epoch ${stop.epoch}. ${resumeHint}`);
    out.json({ event, epoch: stop.epoch + 1, batch: 0, checkpoint: ckptDir });
  } else {
    out.info(`Saved ${ckptDir} at epoch ${stop.epoch + 1}, batch ${stop.batch}. ${resumeHint}`);
    out.json({ event, epoch: stop.epoch + 1, batch: stop.batch, checkpoint: ckptDir });
  }
  if (!budget.exhausted) return 130;
  out.info('Time limit reached: finishing with the best model so far.');
  return null;
}

/** The error a training command stops with when TerminateOnNaN fired: what, where, and what is still on disk. */
export function nonFiniteLossError(
  epoch: number,
  terminateOnNaN: TerminateOnNaN,
  checkpointedEpochs: number,
  ckptDir: string,
): Error {
  const last =
    checkpointedEpochs >= 0
      ? `${ckptDir} still holds the state after epoch ${checkpointedEpochs}`
      : 'no epoch finished before it, so no checkpoint was saved';
  return new Error(
    `training stopped at epoch ${epoch + 1}: ${terminateOnNaN.reason ?? 'a value became non-finite'}; ` +
      `nothing from that epoch was saved (${last}). Try a lower --lr or a --clipnorm in a new run (--resume keeps this run's settings)`,
  );
}
