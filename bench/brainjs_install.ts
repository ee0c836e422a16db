/**
 * brain.js for the benches that compare recur with it (bench/brainjs.ts, bench/brainjs_forecast.ts,
 * bench/brainjs_classify.ts). It is not a
 * dependency of recur: the first run installs the pinned version into node_modules/.cache/recur-bench/ with
 * `npm install --ignore-scripts` (its peer gpu.js pulls in headless-gl, a native module; the CPU paths the benches use
 * do not need it built). The types are the parts of its API the benches use.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export const BRAIN_VERSION = '2.0.0-beta.24';

/** brain.js's CommonJS entry, installed on first use (`root`: the repository). */
export function loadBrain(root: string): BrainJs {
  const dir = join(root, 'node_modules', '.cache', 'recur-bench', `brain.js-${BRAIN_VERSION}`);
  if (!existsSync(join(dir, 'node_modules', 'brain.js'))) {
    mkdirSync(dir, { recursive: true });
    console.error(`installing brain.js ${BRAIN_VERSION} into ${dir}`);
    const r = spawnSync(
      'npm',
      [
        'install',
        '--prefix',
        dir,
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        `brain.js@${BRAIN_VERSION}`,
      ],
      { stdio: 'inherit' },
    );
    if (r.status !== 0) throw new Error('npm install brain.js failed');
  }
  return createRequire(join(dir, 'package.json'))('brain.js') as BrainJs;
}

/** The parts of brain.js's API the benches use. */
export interface BrainJs {
  utilities: { DataFormatter: new (values: string[]) => BrainFormatter };
  recurrent: {
    LSTMTimeStep: new (opts: { inputSize: number; outputSize: number }) => BrainTimeStep;
    LSTM: new (opts: {
      hiddenLayers?: number[];
      dataFormatter?: BrainFormatter;
      maxPredictionLength?: number;
    }) => BrainLstm;
  };
}
export interface BrainFormatter {
  characters: string[];
  formatDataIn(s: string): number[];
}
export interface BrainTimeStep {
  train(data: number[][], opts?: { timeout?: number }): { error: number; iterations: number };
  forecast(input: number[], count: number): number[];
}
export interface BrainLstm {
  initialize(): void;
  trainPattern(input: number[], logErrorRate?: boolean): number;
  run(prime: string, isSampleI?: boolean, temperature?: number): string;
  train(data: { input: string; output: string }[], opts?: { iterations?: number; timeout?: number }): unknown;
  bindEquation(): void;
  model: { equations: { predictTargetIndex(source: number, target: number): number }[] };
}
