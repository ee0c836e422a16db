/**
 * The cost of Keras files (BENCHMARKS.md "Keras files"): h5wasm's load time (import + wasm start, in fresh
 * processes), the size of what a browser downloads for src/keras (esbuild bundles, raw and gzipped), and the time to
 * open each real Keras file of ../shared/eval/keras (read, build, predict once), and to write .keras and .h5.
 *
 *   npm run build && node dist/bench/keras_io.js
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { readKerasArchive } from '../src/keras/archive.js';
import { loadKerasModel } from '../src/keras/load.js';
import { saveKerasArchive, saveKerasH5 } from '../src/keras/save.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const SHARED = resolve(ROOT, '..', 'shared', 'eval', 'keras');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function coldLoad(runs: number): { importMs: number; readyMs: number } {
  const script =
    "const t0 = performance.now(); const h5 = await import('h5wasm'); const t1 = performance.now(); await h5.ready;" +
    'console.log(JSON.stringify({ importMs: t1 - t0, readyMs: performance.now() - t1 }));';
  const r: { importMs: number; readyMs: number }[] = [];
  for (let i = 0; i < runs; i++) {
    const p = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    r.push(JSON.parse(p.stdout) as { importMs: number; readyMs: number });
  }
  return { importMs: median(r.map((x) => x.importMs)), readyMs: median(r.map((x) => x.readyMs)) };
}

function bundleSizes(): Record<string, { bytes: number; gzip: number }> {
  const out = mkdtempSync(join(tmpdir(), 'recur-bundle-'));
  try {
    const entry = join(ROOT, 'dist', 'src', 'keras', 'index.js');
    const p = spawnSync(
      join(ROOT, 'node_modules', 'esbuild', 'bin', 'esbuild'),
      [entry, '--bundle', '--splitting', '--format=esm', '--platform=browser', '--minify', `--outdir=${out}`],
      { encoding: 'utf8' },
    );
    if (p.status !== 0) throw new Error(p.stderr);
    const sizes: Record<string, { bytes: number; gzip: number }> = {};
    for (const f of readdirSync(out)) {
      const data = readFileSync(join(out, f));
      sizes[f] = { bytes: data.length, gzip: gzipSync(data).length };
    }
    return sizes;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** What fflate alone adds to a browser bundle: the two functions src/keras/archive.ts uses, minified. */
function fflateSize(): { bytes: number; gzip: number } {
  const p = spawnSync(
    join(ROOT, 'node_modules', 'esbuild', 'bin', 'esbuild'),
    ['--bundle', '--format=esm', '--platform=browser', '--minify', '--loader=js'],
    {
      encoding: 'utf8',
      cwd: ROOT,
      input: "import { unzipSync, zipSync } from 'fflate'; export { unzipSync, zipSync };",
    },
  );
  if (p.status !== 0) throw new Error(p.stderr);
  return { bytes: Buffer.byteLength(p.stdout), gzip: gzipSync(p.stdout).length };
}

async function main(): Promise<void> {
  const cold = coldLoad(5);
  console.log(
    `h5wasm cold start (median of 5 fresh processes): import ${cold.importMs.toFixed(0)} ms, wasm ready ${cold.readyMs.toFixed(0)} ms`,
  );
  for (const f of ['esm/hdf5_util.js', 'esm/hdf5_hl.js', 'iife/h5wasm.js']) {
    const p = join(ROOT, 'node_modules', 'h5wasm', 'dist', f);
    const data = readFileSync(p);
    console.log(
      `node_modules/h5wasm/dist/${f}: ${(data.length / 1e6).toFixed(2)} MB, gzip ${(gzipSync(data).length / 1e6).toFixed(2)} MB`,
    );
  }
  const sizes = bundleSizes();
  for (const [f, s] of Object.entries(sizes).sort((a, b) => b[1].bytes - a[1].bytes))
    console.log(
      `bundle of src/keras (esbuild, minified, split): ${f} ${(s.bytes / 1e3).toFixed(0)} kB, gzip ${(s.gzip / 1e3).toFixed(0)} kB`,
    );
  const ff = fflateSize();
  console.log(
    `fflate (unzipSync + zipSync, esbuild minified): ${(ff.bytes / 1e3).toFixed(1)} kB, gzip ${(ff.gzip / 1e3).toFixed(1)} kB`,
  );
  if (!existsSync(SHARED)) {
    console.log(`${SHARED} absent: no real-file timings`);
    return;
  }
  console.log('\nfile | size | load (read + build + weights) ms | .keras write ms | .h5 write ms');
  for (const name of readdirSync(SHARED)
    .filter((n) => /\.(h5|keras)$/.test(n))
    .sort()) {
    const bytes = new Uint8Array(readFileSync(join(SHARED, name)));
    const times: number[] = [];
    let model = null;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      model = (await loadKerasModel(bytes, name)).model;
      times.push(performance.now() - t0);
    }
    const w = async (f: () => Promise<unknown>): Promise<string> => {
      const t0 = performance.now();
      try {
        await f();
        return (performance.now() - t0).toFixed(0);
      } catch {
        return 'refused (hard_sigmoid)';
      }
    };
    const k = await w(() => saveKerasArchive(model!));
    const h = await w(() => saveKerasH5(model!));
    console.log(
      `${name} | ${(statSync(join(SHARED, name)).size / 1e6).toFixed(2)} MB | ${median(times).toFixed(0)} | ${k} | ${h}`,
    );
  }
  // fflate's share of opening a .keras: unzipping the archive and parsing its JSON (median of 5).
  for (const name of readdirSync(SHARED).filter((n) => n.endsWith('.keras'))) {
    const bytes = new Uint8Array(readFileSync(join(SHARED, name)));
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      readKerasArchive(bytes, name);
      times.push(performance.now() - t0);
    }
    console.log(`${name}: fflate unzip + JSON ${median(times).toFixed(1)} ms`);
  }
}

await main();
