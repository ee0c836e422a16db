/**
 * Every cell the CLI offers (lstm, gru, simple-rnn) × every initialisation (uniform, keras) × every recipe (keras,
 * char-rnn) trains end to end on a tiny corpus and generates from the saved model, and the saved model really has that
 * cell and initialisation.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli as run, pseudoText } from './cli_helpers.js';

const CELLS = [
  ['lstm', 'LSTM'],
  ['gru', 'GRU'],
  ['simple-rnn', 'SimpleRNN'],
] as const;

interface LayerJson {
  class_name: string;
  config: Record<string, unknown>;
}

describe('recur train: every cell × init × recipe', () => {
  let dir = '';
  let textFile = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-cells-'));
    textFile = join(dir, 'tiny.txt');
    writeFileSync(textFile, pseudoText(2500, 7));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const recipe of ['keras', 'char-rnn'] as const) {
    for (const init of ['uniform', 'keras'] as const) {
      for (const [cell, className] of CELLS) {
        it(`${cell}, --init ${init}, --recipe ${recipe}`, () => {
          const out = join(dir, `${recipe}-${init}-${cell}`);
          const shape =
            recipe === 'keras'
              ? ['--maxlen', '10', '--batch-size', '16', '--steps-per-epoch', '3']
              : ['--seq-length', '10', '--batch-size', '4', '--layers', '1'];
          const t = run([
            'train',
            textFile,
            '--out',
            out,
            '--recipe',
            recipe,
            '--cell',
            cell,
            '--init',
            init,
            '--units',
            '8',
            '--epochs',
            '1',
            '--threads',
            '1',
            '--seed',
            '3',
            '--no-samples',
            '-q',
            ...shape,
          ]);
          assert.equal(t.code, 0, t.stderr);
          // -q leaves only notes: a GRU's (reset_after=true, which TensorFlow.js 4.x cannot load), none otherwise.
          const notes = t.stderr.split('\n').filter((l) => l !== '');
          assert.deepEqual(
            notes.map((l) => /^note: GRU .*reset_after=true/.test(l)),
            cell === 'gru' ? [true] : [],
            t.stderr,
          );

          // The saved model has the cell and the initialisation asked for (and its forget-gate bias: LSTM only).
          const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as {
            modelTopology: { config: { layers: LayerJson[] } };
          };
          const layers = json.modelTopology.config.layers;
          const recurrent = layers.filter((l) => l.class_name !== 'Dense' && l.class_name !== 'Dropout');
          assert.ok(recurrent.length > 0);
          for (const l of recurrent) {
            assert.equal(l.class_name, className);
            const kernelInit = (l.config.kernel_initializer as { class_name: string }).class_name;
            assert.equal(kernelInit, init === 'uniform' ? 'RandomUniform' : 'GlorotUniform');
            if (cell === 'lstm') assert.equal(l.config.unit_forget_bias, init === 'keras');
            else assert.equal('unit_forget_bias' in l.config, false);
          }

          const g = run(['generate', out, '--length', '30', '--seed', '1', '--json']);
          assert.equal(g.code, 0, g.stderr);
          const gen = JSON.parse(g.stdout) as { text: string };
          assert.equal(Array.from(gen.text).length, 30);
        });
      }
    }
  }
});
