/** The example programs (the three RNN shapes) still run and still learn. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
  it('many-to-one: sequence classification', async () =>
    assert.ok((await quiet(() => classification.main(10))) > 0.9));
  it('many-to-many: per-step tagging', async () => assert.ok((await quiet(() => tagging.main(12))) > 0.9));
  it('one-to-many: generation from a seed', async () =>
    assert.equal(await quiet(() => oneToMany.main(8)), 'bcdefgh-abcdefgh-abcdefgh-a'));
});
