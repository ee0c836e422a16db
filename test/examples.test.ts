/** The example programs (the RNN shapes, and an encoder–decoder with attention) still run and still learn. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as dates from '../examples/encoder_decoder_attention.js';
import * as oneToMany from '../examples/one_to_many.js';
import * as classification from '../examples/sequence_classification.js';
import * as tagging from '../examples/sequence_tagging.js';

describe('examples', () => {
  const log = console.log;
  const quiet = async <T>(fn: () => Promise<T>): Promise<T> => {
    console.log = () => undefined;
    try {
      return await fn();
    } finally {
      console.log = log;
    }
  };
  it('many-to-one: spam or ham on the SpamAssassin corpus (quick run), beating the majority class; padding-invariant', async () => {
    const r = await quiet(() => classification.main({ quick: true }));
    assert.ok(
      r.accuracy > r.majorityAccuracy + 0.1,
      `test accuracy ${r.accuracy}, majority ${r.majorityAccuracy}`,
    );
    assert.ok(r.macroF1 > 0.75, `test macro-F1 ${r.macroF1}`);
    assert.ok(r.naiveBayesMacroF1 > 0.9, `naive Bayes macro-F1 ${r.naiveBayesMacroF1}`);
    assert.ok(r.paddingChange < 1e-5, `more padding changed a prediction by ${r.paddingChange}`);
  });
  it('many-to-many: per-step tagging', async () => assert.ok((await quiet(() => tagging.main(12))) > 0.9));
  it('one-to-many: generation from a seed', async () =>
    assert.equal(await quiet(() => oneToMany.main(8)), 'bcdefgh-abcdefgh-abcdefgh-a'));
  it('many-to-many: encoder–decoder with attention (quick run) learns, decodes greedily, round-trips', async () => {
    const r = await quiet(() => dates.main({ quick: true }));
    assert.ok(r.lastLoss < 0.75 * r.firstLoss, `loss ${r.firstLoss} → ${r.lastLoss}`);
    // 11 target characters: chance is ~9% per character.
    assert.ok(r.charAccuracy > 0.35, `greedy per-character accuracy ${r.charAccuracy}`);
    assert.ok(r.reloadedIdentical, 'the reloaded model decodes differently');
    assert.equal(r.reloadedMaxDiff, 0);
  });
  it('date pairs: sources in every format, targets yyyy-mm-dd, decoder input is the target shifted right', () => {
    const d = dates.makeDates(200, 5);
    assert.equal(new Set(d.formats).size, 7);
    d.targets.forEach((t, i) => {
      assert.match(t, /^(19[5-9]\d|20[0-4]\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/);
      const [y, m, day] = t.split('-').map(Number);
      const s = d.sources[i];
      assert.ok(
        s.includes(String(day)) && (s.includes(String(y)) || s.includes(String(y % 100).padStart(2, '0'))),
        s,
      );
      assert.ok(m >= 1 && m <= 12);
    });
    // The same seed draws the same dates: excluding them forces new ones.
    const heldOut = dates.makeDates(200, 5, new Set(d.sources));
    assert.equal(heldOut.sources.length, 200);
    assert.ok(heldOut.sources.every((s) => !d.sources.includes(s)));
    const T = d.y.shape[1];
    for (let i = 0; i < 200; i++) {
      assert.equal(d.decoder.data[i * T], 0);
      for (let t = 1; t < T; t++) assert.equal(d.decoder.data[i * T + t], d.y.data[i * T + t - 1]);
    }
  });
});
