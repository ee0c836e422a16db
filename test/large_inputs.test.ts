/**
 * Inputs far larger than the other tests use, through the code paths that once spread them into a function call
 * (Math.max(...xs), push(...xs)): V8 overflows its call stack at a few hundred thousand arguments, so a big CSV or a
 * long series crashed with "Maximum call stack size exceeded" instead of being processed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stratifiedSplit } from '../src/classify/dataset.js';
import { terminalChart } from '../src/forecast/chart.js';
import { fitTransform } from '../src/forecast/transforms.js';
import { sourceBatch } from '../src/seq2seq/data.js';
import { runCli } from './cli_helpers.js';

const BIG = 1_000_000;

describe('large inputs', () => {
  it('a stratified split of a million labels', () => {
    const labels = Int32Array.from({ length: BIG }, (_, i) => (i % 10 === 0 ? 1 : 0));
    const s = stratifiedSplit(labels, 2, { validation: 0.1, test: 0.1 }, 1);
    assert.equal(s.train.length + s.validation.length + s.test.length, BIG);
    assert.equal(s.test.length, 100_000);
  });

  it('min-max scaling of a series of a million points', () => {
    const values = Array.from({ length: BIG }, (_, i) => Math.sin(i / 100) * 5 + 7);
    const { t } = fitTransform(values, { log: false, differencing: 'none', season: 1, scaling: 'minmax' });
    assert.ok(Math.abs(t.center - 2) < 1e-6 && Math.abs(t.scale - 10) < 1e-6, `${t.center} ${t.scale}`);
  });

  it('a terminal chart of a whole long history (its range was Math.min(...points))', () => {
    const n = 300_000;
    const values = Array.from({ length: n }, (_, i) => (i === 5 ? 150 : 100 + 10 * Math.sin(i / 24)));
    const chart = terminalChart(
      {
        title: 'hourly',
        dates: [],
        values,
        start: n,
        forecast: [100, 101],
        lower: [99, 100],
        upper: [101, 102],
      },
      n,
      false,
    );
    // The top label is the largest value (150 at i = 5), so the range covered the whole history.
    assert.match(chart.split('\n')[0], /^\s*150\.0 /);
  });

  it('recur forecast --chart on 15 years of hourly data (131,400 points)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-large-forecast-'));
    try {
      const start = Date.UTC(2008, 0, 1);
      const lines = ['time,load'];
      for (let t = 0; t < 131_400; t++)
        lines.push(
          `${new Date(start + t * 3_600_000).toISOString().slice(0, 13)}:00:00Z,${(100 + 10 * Math.sin((2 * Math.PI * t) / 24) + (t % 7)).toFixed(2)}`,
        );
      const file = join(dir, 'hourly.csv');
      writeFileSync(file, lines.join('\n') + '\n');
      const svg = join(dir, 'chart.svg');
      const r = runCli([
        'forecast',
        file,
        '--candidates',
        'seasonal naive',
        '--horizon',
        '24',
        '--folds',
        '2',
        '--chart',
        svg,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /131400 hourly points/);
      assert.match(readFileSync(svg, 'utf8'), /^<svg/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a batch of a million sources', () => {
    const sources = Array.from({ length: BIG }, (_, i) => new Int32Array(1 + (i % 3)));
    assert.deepEqual(sourceBatch(sources).shape, [BIG, 3]);
  });
});
