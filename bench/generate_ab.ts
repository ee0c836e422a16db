/**
 * `node dist/bench/generate_ab.js OLD_ROOT NEW_ROOT [rounds]` — stateful generation of two builds of recur in one
 * process, interleaved: the seed recipe's LSTM(128) → Dense(63) generating 20,000 characters per round, on one thread
 * and with each build's step helper, the builds' order alternating round by round. The VM's speed drifts by tens of
 * percent from one minute to the next, which separate processes (bench/ab.ts) see as noise; rounds of a few
 * milliseconds each, side by side, see the same drift. Both builds must generate the same text (checked). Prints the
 * median µs per character of each and the share of rounds the new build won. Each root needs its dist/ built.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const V = 63;
const CHARS = 20_000;

type Generate = (length: number, helper: boolean) => string;

/** A recipe model of one build, and a function generating from it with or without that build's helper. */
async function build(root: string): Promise<{ generate: Generate; close: () => void }> {
  const load = async <T>(path: string): Promise<T> =>
    (await import(pathToFileURL(resolve(root, path)).href)) as T;
  const lib = await load<typeof import('../src/index.js')>('dist/src/index.js');
  const node = await load<typeof import('../src/node/index.js')>('dist/src/node/index.js');
  const vocabulary = new lib.Vocabulary(Array.from({ length: V }, (_, i) => String.fromCharCode(48 + i)));
  const model = lib.sequential({ seed: 1 });
  model.add(lib.layers.lstm({ units: 128, inputShape: [40, V] }));
  model.add(lib.layers.dense({ units: V, activation: 'softmax' }));
  model.build();
  const helper = node.startStepHelper(2);
  if (!helper) throw new Error(`${root}: no step helper on this runtime`);
  for (let waited = 0; !helper.ready; waited += 10) {
    if (waited > 10_000) throw new Error(`${root}: the step helper did not start`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const gen = new lib.TextGenerator(model, vocabulary, false);
  const prime = vocabulary.chars.slice(0, 40).join('');
  return {
    generate: (length, withHelper) =>
      gen.generate({ prime, length, temperature: 0.5, seed: 1, helper: withHelper ? helper : null }),
    close: () => helper.close(),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const [oldRoot, newRoot] = [process.argv[2], process.argv[3]];
const rounds = Number(process.argv[4] ?? 21);
if (!oldRoot || !newRoot || !(Number.isInteger(rounds) && rounds > 0)) {
  console.error('usage: node dist/bench/generate_ab.js OLD_ROOT NEW_ROOT [rounds]   (both roots built)');
  process.exit(2);
}
const builds = { old: await build(oldRoot), new: await build(newRoot) };
for (const withHelper of [false, true]) {
  if (builds.old.generate(3000, withHelper) !== builds.new.generate(3000, withHelper))
    throw new Error('the two builds generate different texts');
  const micros: Record<'old' | 'new', number[]> = { old: [], new: [] };
  for (let r = 0; r < rounds; r++)
    for (const key of r % 2 === 0 ? (['old', 'new'] as const) : (['new', 'old'] as const)) {
      const t0 = performance.now();
      builds[key].generate(CHARS, withHelper);
      micros[key].push(((performance.now() - t0) * 1000) / CHARS);
    }
  const [a, b] = [median(micros.old), median(micros.new)];
  const wins = micros.new.filter((t, r) => t < micros.old[r]).length;
  console.log(
    `${withHelper ? 'with the step helper' : 'one thread'}: µs/char old ${a.toFixed(2)}, new ${b.toFixed(2)}; ` +
      `new/old speed ${(a / b).toFixed(3)}; new faster in ${wins} of ${rounds} rounds`,
  );
}
builds.old.close();
builds.new.close();
