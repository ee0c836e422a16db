/**
 * Many series forecast in parallel: each series is independent, so each runs the single-series pipeline
 * (src/forecast/panel.ts) in one of `workers` worker threads (one core each; the forecasters themselves are
 * single-threaded here). Results arrive as each series finishes; an abort signal (Ctrl-C) stops the workers and keeps
 * what finished.
 */
import { Worker } from 'node:worker_threads';
import type { PanelSettings, SeriesOutcome } from '../forecast/panel.js';
import type { TimeSeries } from '../forecast/series.js';
import type { PanelJob } from './panel_worker.js';

export interface PanelRunOptions {
  /** Worker threads (default 1; never more than the series). */
  workers?: number;
  /** Called as each series finishes (in finishing order), with its position in the input. */
  onResult?: (r: SeriesOutcome, index: number) => void;
  /** Stops the run: running series are abandoned, finished ones kept. */
  signal?: AbortSignal;
}

export interface PanelRun {
  /** The outcome of each input series in input order; undefined for those not finished when the run was stopped. */
  outcomes: (SeriesOutcome | undefined)[];
  stopped: boolean;
}

/** Forecasts every series; resolves when all are done or the signal stops the run. */
export function forecastPanel(
  items: readonly { id: string; series: TimeSeries }[],
  settings: PanelSettings,
  o: PanelRunOptions = {},
): Promise<PanelRun> {
  const outcomes: (SeriesOutcome | undefined)[] = new Array<SeriesOutcome | undefined>(items.length);
  const n = Math.max(1, Math.min(o.workers ?? 1, items.length));
  let next = 0;
  let finished = 0;
  const workers = new Set<Worker>();
  return new Promise<PanelRun>((resolve) => {
    let settled = false;
    const end = (stopped: boolean): void => {
      if (settled) return;
      settled = true;
      o.signal?.removeEventListener('abort', onAbort);
      for (const w of workers) void w.terminate();
      workers.clear();
      resolve({ outcomes, stopped });
    };
    const onAbort = (): void => end(true);
    if (o.signal?.aborted) return end(true);
    o.signal?.addEventListener('abort', onAbort);
    if (items.length === 0) return end(false);
    const record = (index: number, r: SeriesOutcome): void => {
      if (settled || outcomes[index] !== undefined) return;
      outcomes[index] = r;
      finished++;
      o.onResult?.(r, index);
      if (finished === items.length) end(false);
    };
    const start = (): void => {
      const w = new Worker(new URL('./panel_worker.js', import.meta.url));
      workers.add(w);
      let current = -1;
      const feed = (): void => {
        if (settled) return;
        if (next >= items.length) {
          workers.delete(w);
          void w.terminate();
          return;
        }
        current = next++;
        const job: PanelJob = {
          index: current,
          id: items[current].id,
          series: items[current].series,
          settings,
        };
        w.postMessage(job);
      };
      w.on('message', (m: { index: number; result: SeriesOutcome }) => {
        record(m.index, m.result);
        feed();
      });
      // A worker that dies (out of memory, a crash in wasm) fails its series only; a fresh worker takes the rest.
      const died = (why: string): void => {
        if (settled || !workers.has(w)) return;
        workers.delete(w);
        if (current >= 0 && outcomes[current] === undefined)
          record(current, { id: items[current].id, error: `its worker stopped: ${why}` });
        if (!settled && next < items.length) start();
      };
      w.on('error', (e) => died(e.message));
      w.on('exit', (code) => died(`exit code ${code}`));
      feed();
    };
    for (let i = 0; i < n; i++) start();
  });
}
