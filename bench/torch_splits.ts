/**
 * PyTorch beside recur in the benches: whether /usr/bin/python3 has torch, and a bench script run once per split of
 * the cores — torch's intra-op threads × OpenBLAS's threads, since both at all cores oversubscribes them — so each
 * bench can keep PyTorch's fastest setting. Also the median the benches report (this VM's runs are noisy).
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

export const PYTHON = '/usr/bin/python3';

export function hasTorch(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
}

export interface TorchSplitRun<T> {
  torchThreads: number;
  blasThreads: number;
  /** The script's last stdout line, parsed as JSON. */
  result: T;
}

/**
 * Runs `python3 script ...args(torchThreads)` with OPENBLAS_NUM_THREADS and OMP_NUM_THREADS set, for every pair of
 * 1 and all cores; a failed run is reported on stderr (with `what`) and left out.
 */
export function torchSplits<T>(
  script: string,
  args: (torchThreads: number) => string[],
  what: string,
): TorchSplitRun<T>[] {
  const cores = availableParallelism();
  const runs: TorchSplitRun<T>[] = [];
  for (const torchThreads of [...new Set([cores, 1])])
    for (const blasThreads of [...new Set([1, cores])]) {
      const r = spawnSync(PYTHON, [script, ...args(torchThreads)], {
        encoding: 'utf8',
        env: {
          ...process.env,
          OPENBLAS_NUM_THREADS: String(blasThreads),
          OMP_NUM_THREADS: String(torchThreads),
        },
      });
      if (r.status !== 0) {
        console.error(
          `${what} failed (torch ${torchThreads}, OpenBLAS ${blasThreads}; exit ${r.status}):\n${r.stderr}`,
        );
        continue;
      }
      runs.push({ torchThreads, blasThreads, result: JSON.parse(r.stdout.trim().split('\n').pop()!) as T });
    }
  return runs;
}

export const fmt = (v: number): string => Math.round(v).toLocaleString('en-US');

export const median = (xs: readonly number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** What the benches' PyTorch scripts print: the median rate of their timed passes, each pass's rate, torch's version. */
export interface TorchRateResult {
  train: number;
  passes: number[];
  version: string;
}

/**
 * PyTorch's fastest split of the cores for a bench script that prints a TorchRateResult (null without torch): every
 * split's rate is logged on stderr as `${what}, <split>: <rate> ${unit}`.
 */
export function bestTorchSplit(
  script: string,
  args: (torchThreads: number) => string[],
  what: string,
  unit: string,
): { rate: number; setting: string; version: string } | null {
  if (!hasTorch()) return null;
  let best: { rate: number; setting: string; version: string } | null = null;
  for (const { torchThreads, blasThreads, result: t } of torchSplits<TorchRateResult>(script, args, what)) {
    const setting = `torch ${torchThreads} × OpenBLAS ${blasThreads}`;
    console.error(`${what}, ${setting}: ${fmt(t.train)} ${unit} (passes ${t.passes.map(fmt).join(', ')})`);
    if (!best || t.train > best.rate) best = { rate: t.train, setting, version: t.version };
  }
  return best;
}

/** recur's training rate on one thread and on every core: the median and each timed pass's rate. */
export interface RecurRates {
  rate: number;
  passes: number[];
}

/**
 * One row of a bench's recur-against-PyTorch table: recur's rates logged on stderr (with each pass), the markdown row
 * printed on stdout (the faster of recur's two rates against PyTorch's best split), and the row returned for --json
 * under `key: value`.
 */
export function torchComparisonRow(
  key: string,
  value: string | number,
  one: RecurRates,
  all: RecurRates,
  torch: { rate: number; setting: string; version: string } | null,
): Record<string, unknown> {
  const cores = availableParallelism();
  console.error(
    `recur, ${key} ${value}: 1 thread ${fmt(one.rate)} (passes ${one.passes.map(fmt).join(', ')}), ${cores} threads ${fmt(all.rate)} (passes ${all.passes.map(fmt).join(', ')})`,
  );
  const best = Math.max(one.rate, all.rate);
  console.log(
    `| ${value} | ${fmt(one.rate)} | ${fmt(all.rate)} | ${torch ? `${fmt(torch.rate)} (${torch.setting})` : 'skipped'} | ${torch ? `${(best / torch.rate).toFixed(2)}×` : ''} |`,
  );
  return {
    [key]: value,
    recur1: one.rate,
    recurAll: all.rate,
    torch: torch?.rate ?? null,
    torchSetting: torch?.setting ?? null,
    torchVersion: torch?.version ?? null,
  };
}
