/**
 * recur's progress bar: one line on a terminal, redrawn in place. It never saves or restores the cursor and never
 * turns the terminal's line wrapping off (a line too long for the terminal is cut instead), so a run that dies or is
 * interrupted while the bar shows leaves nothing to undo; and lines written through `writeAboveBars` (the CLI's notes
 * and errors) appear above the bar instead of being drawn into it. Not on a terminal, it draws nothing.
 */

/** What a format's `{name}` fields are filled from, beside the bar's own (value, total, bar, percentage, eta). */
export type BarPayload = Record<string, string | number>;

export interface TerminalBarOptions {
  /** Updates the ETA's speed is measured over (default 10; more for work whose items vary in cost). */
  etaBuffer?: number;
  /** Most redraws per second (default 5). */
  fps?: number;
  /** Width of the `{bar}` field in characters (default 30). */
  barSize?: number;
}

/** A terminal stream as the bar needs it: where to write, and whether (and how wide) it is a terminal. */
export type BarStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** The fewest characters a `{bar}` is drawn in when the line is too wide for the terminal. */
const MIN_BAR_SIZE = 10;

/** Moves to the start of the line and clears it. */
const CLEAR_LINE = '\r\x1b[2K';

/** The bars being drawn, by stream (one line each: a stream's newest bar is drawn). */
const liveBars = new Set<TerminalBar>();

/** Seconds as m:ss or h:mm:ss for an ETA ("--:--" when unknown). */
export function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0
    ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}`
    : `${m}:${String(r).padStart(2, '0')}`;
}

/**
 * A bar over `total` items. The format names fields in braces: `{value}`, `{total}`, `{bar}`, `{percentage}`,
 * `{eta_formatted}` (m:ss, from the speed over the last updates), `{speed}` (items per second since the start) and
 * any payload key.
 */
export class TerminalBar {
  private value = 0;
  private total = 0;
  private payload: BarPayload = {};
  private live = false;
  private lastDraw = 0;
  private startedAt = 0;
  private startValue = 0;
  /** Recent (time, value) points, for the ETA. */
  private readonly recent: [number, number][] = [];
  private readonly etaBuffer: number;
  private readonly minInterval: number;
  private readonly barSize: number;

  constructor(
    private readonly format: string,
    readonly stream: BarStream = process.stderr,
    options: TerminalBarOptions = {},
  ) {
    this.etaBuffer = Math.max(2, options.etaBuffer ?? 10);
    this.minInterval = 1000 / (options.fps ?? 5);
    this.barSize = options.barSize ?? 30;
  }

  /** Starts drawing (only on a terminal). */
  start(total: number, value = 0, payload: BarPayload = {}): void {
    if (this.stream.isTTY !== true) return;
    this.total = total;
    this.value = value;
    this.payload = { ...payload };
    this.recent.length = 0;
    this.recent.push([Date.now(), value]);
    this.startedAt = Date.now();
    this.startValue = value;
    this.live = true;
    liveBars.add(this);
    watchSignals();
    this.draw();
  }

  /** Whether the bar is being drawn. */
  get isActive(): boolean {
    return this.live;
  }

  update(value: number, payload: BarPayload = {}): void {
    if (!this.live) return;
    this.value = value;
    Object.assign(this.payload, payload);
    this.recent.push([Date.now(), value]);
    if (this.recent.length > this.etaBuffer) this.recent.shift();
    if (Date.now() - this.lastDraw >= this.minInterval || value >= this.total) this.draw();
  }

  increment(by = 1, payload: BarPayload = {}): void {
    this.update(this.value + by, payload);
  }

  setTotal(total: number): void {
    this.total = total;
  }

  /** Clears the bar's line, leaving the cursor at its start for what comes next. */
  stop(): void {
    if (!this.live) return;
    this.live = false;
    liveBars.delete(this);
    this.stream.write(CLEAR_LINE);
  }

  /** Seconds left at the recent speed (NaN before there is one). */
  private eta(): number {
    const [t0, v0] = this.recent[0];
    const [t1, v1] = this.recent[this.recent.length - 1];
    if (this.value >= this.total) return 0;
    if (v1 <= v0 || t1 <= t0) return NaN;
    return ((this.total - this.value) * (t1 - t0)) / 1000 / (v1 - v0);
  }

  /** Items per second since the start ('-' before any). */
  private speed(): string {
    const seconds = (Date.now() - this.startedAt) / 1000;
    const done = this.value - this.startValue;
    if (!(done > 0 && seconds > 0)) return '-';
    const perSecond = done / seconds;
    return perSecond >= 10 ? Math.round(perSecond).toLocaleString('en-US') : perSecond.toFixed(1);
  }

  /**
   * The bar's line as it reads now, fitted to the terminal's width: a line too wide first draws a shorter `{bar}`
   * (down to MIN_BAR_SIZE: the counts say the same), then is cut at its end, where formats put what matters least.
   */
  line(): string {
    const progress = this.total > 0 ? Math.min(1, Math.max(0, this.value / this.total)) : 0;
    // A payload field of the same name (a caller's own speed or ETA) wins over the bar's.
    const fields: BarPayload = {
      value: this.value,
      total: this.total,
      percentage: Math.floor(progress * 100),
      eta_formatted: clock(this.eta()),
      speed: this.speed(),
      ...this.payload,
    };
    const text = (barSize: number): string => {
      const filled = Math.round(progress * barSize);
      const bar = '='.repeat(filled) + '.'.repeat(barSize - filled);
      return this.format.replace(/\{(\w+)\}/g, (m, key: string) =>
        key === 'bar' ? bar : fields[key] !== undefined ? String(fields[key]) : m,
      );
    };
    // One column short of the width: a full line would wrap (or wait to) on some terminals, and the next redraw would
    // then clear the wrong line.
    const columns = this.stream.columns;
    const width = (columns !== undefined && columns > 0 ? columns : 80) - 1;
    let line = text(this.barSize);
    const over = line.length - width;
    if (over > 0 && this.format.includes('{bar}') && this.barSize > MIN_BAR_SIZE)
      line = text(Math.max(MIN_BAR_SIZE, this.barSize - over));
    return line.length > width ? line.slice(0, Math.max(0, width)) : line;
  }

  /** Draws the line now (also after something cleared it). */
  draw(): void {
    if (!this.live) return;
    this.lastDraw = Date.now();
    this.stream.write(CLEAR_LINE + this.line());
  }
}

/**
 * Writes `text` (whole lines) to `stream` above the bar drawn there, if any: the bar's line is cleared, the text
 * written, the bar drawn again below it. Without a bar it is a plain write. A leading newline — which a message
 * prints to leave a bar's line — is dropped when there was a bar, since its line is cleared.
 */
export function writeAboveBars(stream: NodeJS.WritableStream, text: string): void {
  const bars = [...liveBars].filter((b) => b.stream === stream);
  if (bars.length === 0) {
    stream.write(text);
    return;
  }
  stream.write(CLEAR_LINE + text.replace(/^\n/, ''));
  bars[bars.length - 1].draw();
}

/** Clears every bar's line (the process is ending with them still drawn). */
function clearAll(): void {
  for (const bar of liveBars) bar.stop();
}

let watching = false;
/**
 * Once a bar has been drawn: on exit (process.exit, an uncaught error) a bar still drawn is cleared; on Ctrl-C or
 * SIGTERM that nothing else handles, a bar still drawn is cleared and the signal raised again, so the process ends by
 * it as it would have. A command that handles the signal itself (training saves a checkpoint) keeps its bar until it
 * stops it. The listener stays for the rest of the process: removed while a signal waits for the event loop, it would
 * lose that Ctrl-C. Work under a bar must therefore let the event loop run now and then (yieldToSignals).
 */
function watchSignals(): void {
  if (watching) return;
  watching = true;
  process.on('exit', clearAll);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function onSignal(signal: NodeJS.Signals): void {
  // Another listener handles the signal: the command decides what happens to its bar.
  if (process.listenerCount(signal) > 1) return;
  clearAll();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  watching = false;
  process.kill(process.pid, signal);
}

/** Lets the event loop run (a Ctrl-C be handled) in the middle of long synchronous work under a bar. */
export function yieldToSignals(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** `items` as they come, letting the event loop run every ~100 ms of the consumer's synchronous work (yieldToSignals). */
export async function* withSignalBreaks<T>(items: Iterable<T> | AsyncIterable<T>): AsyncGenerator<T> {
  let last = Date.now();
  for await (const item of items) {
    yield item;
    if (Date.now() - last >= 100) {
      await yieldToSignals();
      last = Date.now();
    }
  }
}
