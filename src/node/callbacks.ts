/** Callbacks that touch the file system or the terminal. */
import { appendFileSync, existsSync, statSync } from 'node:fs';
import { InvalidInputError, describeValue } from '../core/errors.js';
import { Callback, Monitor, checkCallbackOptions, type Logs, type MonitorMode } from '../models/callbacks.js';
import type { Sequential } from '../models/sequential.js';
import { writeFileAtomic } from './atomic.js';
import { saveModel } from './model_io.js';
import { clock, TerminalBar, type BarStream, type TerminalBarOptions } from './terminal_bar.js';

/**
 * The one look of recur's progress bars (training, backtests, series, the global network): `format` is the bar's
 * template (TerminalBar); `options` e.g. a longer etaBuffer.
 */
export function progressBar(
  format: string,
  stream: BarStream = process.stderr,
  options: TerminalBarOptions = {},
): TerminalBar {
  return new TerminalBar(format, stream, options);
}

export interface ModelCheckpointArgs {
  /**
   * Directory or file to save into; may contain {epoch} (from 1) and any log key, filled as Keras fills them: bare as
   * Python's str() writes them ('e{epoch}-{loss}' → 'e3-0.6931471824645996'), or with the format specs `d` and `f`
   * ('weights-{epoch:02d}-{loss:.4f}.hdf5' → 'weights-03-0.6931.hdf5').
   */
  filepath: string;
  monitor?: string;
  mode?: MonitorMode;
  saveBestOnly?: boolean;
  /**
   * With saveBestOnly: a second log key, in the same mode, that decides between epochs equal on `monitor` — a later
   * epoch that ties the best and is better on this one is saved. A share such as val_wer ties for many epochs (100 %
   * on a hard task's first epochs) while the model still improves.
   */
  tieBreak?: string;
  /** Leave the optimizer state out of the file (smaller; not resumable). */
  saveWeightsOnly?: boolean;
  /** Extra userDefinedMetadata for each save (e.g. the vocabulary), computed at save time. */
  metadata?: () => Record<string, unknown>;
  /** Called after each save. */
  onSave?: (path: string, epoch: number, logs: Logs) => void;
  /** Called instead of saving when the monitored value or the weights are NaN or infinite (default: a warning). */
  onSkip?: (epoch: number, reason: string) => void;
}

/**
 * A `{key}` or `{key:spec}` placeholder of ModelCheckpoint's filepath, filled as Python's str.format fills it for
 * Keras, for the specs [0][width][.precision] then d (an integer) or f (fixed point). Braces of any other form are
 * left as they are, as before: a directory the CLI is given (`--out`) may hold them.
 */
const PLACEHOLDER = /\{(\w+)(?::((?:0)?(?:\d+)?(?:\.\d+)?[df]))?\}/g;
const FORMAT_SPEC = /^(0)?(\d+)?(?:\.(\d+))?([df])$/;

/** `value` formatted by a FORMAT_SPEC spec, as Python's format(value, spec). */
function formatBySpec(value: number, spec: string): string {
  const [, zero, width, precision, type] = FORMAT_SPEC.exec(spec)!;
  const text = type === 'd' ? String(Math.round(value)) : value.toFixed(Number(precision ?? 6));
  const w = Number(width ?? 0);
  if (!zero) return text.padStart(w, ' ');
  const sign = text.startsWith('-') ? '-' : '';
  return sign + text.slice(sign.length).padStart(w - sign.length, '0');
}

/**
 * `x` as Python's str(float) writes it (repr: the shortest digits that read back as x, as JavaScript's), but fixed
 * only for exponents −4 … 15, with '.0' on a whole number and a two-digit exponent otherwise: 1.0, 1e-05, 1e+16.
 */
function pythonFloatText(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [digits, power] = x.toExponential().split('e');
  const exponent = Number(power);
  if (exponent < -4 || exponent >= 16)
    return `${digits}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  // JavaScript writes this range fixed too (it switches at 1e-7 and 1e21), with the same digits.
  const fixed = String(x);
  return fixed.includes('.') ? fixed : `${fixed}.0`;
}

const MODEL_CHECKPOINT_OPTIONS = [
  'filepath',
  'monitor',
  'mode',
  'saveBestOnly',
  'tieBreak',
  'saveWeightsOnly',
  'metadata',
  'onSave',
  'onSkip',
];

/** Saves the model (atomically) after epochs, optionally only when the monitored metric improves (Keras). */
export class ModelCheckpoint extends Callback {
  /** The watched log key and its direction (Keras's `monitor`, `monitor_op`). */
  readonly monitor: Monitor;
  /** Keras's `save_best_only` (default false: every epoch is saved). */
  readonly saveBestOnly: boolean;
  /** Keras's `save_weights_only` (default false: the optimizer state is saved too). */
  readonly saveWeightsOnly: boolean;
  private readonly tieBreak: Monitor | null;
  best: number;
  /** The tie-break key's value at the best epoch (its worst before one). */
  bestTieBreak: number;
  private readonly args: ModelCheckpointArgs;
  /** `filepath` alone (Keras's first argument) or the options. */
  constructor(args: ModelCheckpointArgs | string) {
    super();
    this.args = typeof args === 'string' ? { filepath: args } : args;
    checkCallbackOptions('ModelCheckpoint', this.args, MODEL_CHECKPOINT_OPTIONS);
    // Checked now, not when the first epoch ends and the path is needed.
    if (typeof this.args.filepath !== 'string' || this.args.filepath === '')
      throw new InvalidInputError(
        `ModelCheckpoint: filepath must be a non-empty string, got ${describeValue(this.args.filepath)}`,
      );
    this.monitor = new Monitor(
      this.args.monitor ?? 'val_loss',
      this.args.mode ?? 'auto',
      0,
      'ModelCheckpoint',
    );
    this.best = this.monitor.worst();
    this.saveBestOnly = this.args.saveBestOnly ?? false;
    this.saveWeightsOnly = this.args.saveWeightsOnly ?? false;
    const sameMode = this.monitor.sign === 1 ? 'min' : 'max';
    this.tieBreak = this.args.tieBreak
      ? new Monitor(this.args.tieBreak, sameMode, 0, 'ModelCheckpoint')
      : null;
    this.bestTieBreak = this.tieBreak?.worst() ?? NaN;
  }
  path(epoch: number, logs: Logs): string {
    return this.args.filepath.replace(PLACEHOLDER, (m, key: string, spec: string | undefined) => {
      const value = key === 'epoch' ? epoch + 1 : logs[key];
      if (value === undefined) return m;
      if (spec !== undefined) return formatBySpec(value, spec);
      // No spec: str() of the value, as Python's str.format gives Keras (the epoch an int, a log a float).
      return key === 'epoch' ? String(value) : pythonFloatText(value);
    });
  }
  override async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    const skip = (reason: string): void =>
      (this.args.onSkip ?? ((e, r) => console.warn(`ModelCheckpoint: epoch ${e + 1}: ${r}`)))(epoch, reason);
    const monitored = logs[this.monitor.name];
    if (monitored !== undefined && !Number.isFinite(monitored))
      return skip(`${this.monitor.name} is ${monitored}; not saving`);
    let current: number | null = null;
    let tie: number | null = null;
    if (this.saveBestOnly) {
      current = this.monitor.read(logs);
      if (current === null) return;
      tie = this.tieBreak?.read(logs) ?? null;
      const better =
        this.monitor.improved(current, this.best) ||
        (current === this.best && tie !== null && this.tieBreak!.improved(tie, this.bestTieBreak));
      if (!better) return;
    }
    // A non-finite weight makes a model that predicts garbage: never keep one (and never count it as the best).
    const model = this.model as unknown as Sequential;
    if (model.getWeights().some((w) => !w.data.every(Number.isFinite)))
      return skip('the weights hold NaN or infinite values; not saving');
    if (current !== null) {
      this.best = current;
      if (tie !== null) this.bestTieBreak = tie;
    }
    const path = this.path(epoch, logs);
    saveModel(model, path, {
      includeOptimizer: !this.saveWeightsOnly,
      metadata: this.args.metadata?.(),
    });
    this.args.onSave?.(path, epoch, logs);
  }
}

/** One finished epoch of a CSV log: its 0-based number and its logs. */
export interface CSVLogRow {
  epoch: number;
  logs: Logs;
}

/** The whole log of `rows` (at least one), as CSVLogger writes it: a header of the first row's keys, sorted. */
export function csvLogText(rows: CSVLogRow[]): string {
  const keys = Object.keys(rows[0].logs).sort();
  return [
    ['epoch', ...keys].join(',') + '\n',
    ...rows.map((r) => [r.epoch, ...keys.map((k) => r.logs[k] ?? '')].join(',') + '\n'),
  ].join('');
}

/**
 * Appends one CSV row per epoch (Keras CSVLogger). `append` keeps an existing file; `rows` instead starts the file
 * afresh (atomically) from these epochs — a resumed run passes the epochs its checkpoint holds, so rows a killed run
 * appended after its last checkpoint are not repeated and the log reads exactly as an uninterrupted run's. A file
 * started afresh with no rows is written (atomically, header and row) at the first epoch's end, not emptied at the
 * start: a run stopped before an epoch finished leaves the log it replaces as it was, beside the model it goes with.
 */
export class CSVLogger extends Callback {
  private keys: string[] | null = null;
  /** The file is to be started afresh by the first epoch's row. */
  private fresh = false;
  constructor(
    private readonly path: string,
    private readonly append = false,
    private readonly rows?: CSVLogRow[],
  ) {
    super();
  }
  private line(epoch: number, logs: Logs): string {
    return [epoch, ...this.keys!.map((k) => logs[k] ?? '')].join(',') + '\n';
  }
  override async onTrainBegin(): Promise<void> {
    if (this.rows && this.rows.length > 0) {
      this.keys = Object.keys(this.rows[0].logs).sort();
      writeFileAtomic(this.path, csvLogText(this.rows));
    } else this.fresh = this.rows !== undefined || !this.append || !existsSync(this.path);
  }
  override async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    if (!this.keys) {
      this.keys = Object.keys(logs).sort();
      // A header for a new, replaced or empty file; an appended file keeps its own.
      if (this.fresh || statSync(this.path).size === 0) {
        writeFileAtomic(this.path, ['epoch', ...this.keys].join(',') + '\n' + this.line(epoch, logs));
        this.fresh = false;
        return;
      }
    }
    appendFileSync(this.path, this.line(epoch, logs));
  }
}

/**
 * A Keras-like progress bar on stderr: batches done, running loss, samples per second and ETA; one summary line per
 * epoch. Without a terminal it prints only the summary lines.
 */
export class ProgressBar extends Callback {
  private progress: BatchProgress | null = null;
  private epochStart = 0;
  /** `label` goes before each epoch's heading, e.g. 'Member 2/5 · ' for a seed ensemble's member. */
  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly label = '',
  ) {
    super();
  }
  override async onEpochBegin(epoch: number): Promise<void> {
    const p = this.params;
    this.stream.write(`${this.label}Epoch ${epoch + 1}/${p?.epochs ?? '?'}\n`);
    this.epochStart = Date.now();
    this.progress = new BatchProgress(p?.steps ?? 0, 'samples', this.stream, this.stream.isTTY);
  }
  override async onBatchEnd(batch: number, logs: Logs): Promise<void> {
    this.progress?.add(batch, logs);
  }
  override async onEpochEnd(_epoch: number, logs: Logs): Promise<void> {
    this.progress?.stop();
    const samples = this.progress?.rows ?? 0;
    this.progress = null;
    const secs = (Date.now() - this.epochStart) / 1000;
    const parts = Object.entries(logs).map(
      ([k, v]) => `${k}: ${k === 'lr' ? v.toPrecision(3) : v.toFixed(4)}`,
    );
    this.stream.write(
      ` ${clock(secs)} - ${Math.round(samples / Math.max(secs, 1e-9)).toLocaleString('en-US')} samples/s - ${parts.join(' - ')}\n`,
    );
  }
  override async onTrainEnd(): Promise<void> {
    this.progress?.stop();
    this.progress = null;
  }
}

/**
 * Work counted in items (sources decoded, …): when `show`, a bar with the items done, the ETA and items/s (`unit`/s).
 * `add(n)` as each part of the work finishes.
 */
export class CountProgress {
  private done = 0;
  private readonly started = Date.now();
  private bar: TerminalBar | null = null;

  constructor(
    private readonly total: number,
    unit: string,
    stream: BarStream = process.stderr,
    show = true,
    /** Goes before the count, e.g. ' member 2/5'. */
    label = '',
  ) {
    if (!show || total <= 0) return;
    this.bar = progressBar(
      `${label} {value}/{total} ${unit} [{bar}] - ETA: {eta_clock} - {speed} ${unit}/s`,
      stream,
    );
    this.bar.start(total, 0, { speed: '-', eta_clock: '--:--' });
  }

  /** Whether a bar is drawn (a caller may skip work done only for it). */
  get shown(): boolean {
    return this.bar?.isActive === true;
  }

  add(count: number): void {
    this.done += count;
    if (!this.bar) return;
    const secs = (Date.now() - this.started) / 1000;
    this.bar.update(this.done, {
      speed: Math.round(this.done / Math.max(secs, 1e-9)).toLocaleString('en-US'),
      eta_clock: clock(((this.total - this.done) * secs) / Math.max(this.done, 1)),
    });
  }

  /** Clears the bar (also when the work failed). */
  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

/**
 * One pass over `total` batches (a training epoch, or `recur evaluate`'s scoring): the rows and mean loss so far, and
 * — when `show` and there is a total — a bar with the batch, the ETA, the mean loss and rows/s (`unit`/s). Its ETA
 * counts only the batches seen since it started, so an epoch resumed part-way estimates from its own pace.
 */
export class BatchProgress {
  rows = 0;
  private lossSum = 0;
  private done = 0;
  private readonly started = Date.now();
  private bar: TerminalBar | null = null;

  constructor(
    private readonly total: number,
    private readonly unit: string,
    stream: BarStream = process.stderr,
    show = true,
  ) {
    if (!show || total <= 0) return;
    this.bar = progressBar(
      ` {value}/{total} [{bar}] - ETA: {eta_clock} - loss: {loss} - {speed} ${unit}/s`,
      stream,
    );
    this.bar.start(total, 0, { loss: '-', speed: '-', eta_clock: '--:--' });
  }

  /** Batch `batch` (numbered from the pass's first, a resumed one's included) is done, with its logs and `size`. */
  add(batch: number, logs: Logs): void {
    this.rows += logs.size ?? 0;
    this.lossSum += (logs.loss ?? 0) * (logs.size ?? 0);
    this.done++;
    if (!this.bar) return;
    const secs = (Date.now() - this.started) / 1000;
    this.bar.update(batch + 1, {
      loss: (this.lossSum / Math.max(1, this.rows)).toFixed(4),
      speed: Math.round(this.rows / Math.max(secs, 1e-9)).toLocaleString('en-US'),
      eta_clock: clock(((this.total - batch - 1) * secs) / this.done),
    });
  }

  /** Clears the bar (also when the pass failed); the counts stay readable. */
  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
