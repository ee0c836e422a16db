/**
 * The page's Forecast tab words the library's series errors for its own controls, not the CLI's flags, while the CLI
 * keeps its messages word for word.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSeriesCsv } from '../src/forecast/series.js';
import { forecastErrorMessage } from '../src/web/page/forecast_messages.js';

/** The error parseSeriesCsv throws for `csv`, read as the page reads a pasted CSV. */
function errorOf(csv: string): unknown {
  try {
    parseSeriesCsv(csv, { source: 'the CSV' });
  } catch (e) {
    return e;
  }
  assert.fail(`no error for ${JSON.stringify(csv)}`);
}

describe("the page's forecast errors", () => {
  const cases: { what: string; csv: string; cli: string; page: RegExp }[] = [
    {
      what: 'a gap in the dates',
      csv: 'month,births\n2000-01,1\n2000-02,2\n2000-05,5\n',
      cli: 'the CSV: monthly series with 2 missing month(s) in 1 gap(s): 2000-02 … 2000-05 (line 4); fix the data or pass --interpolate',
      page: /^the CSV: monthly series with 2 missing month\(s\) in 1 gap\(s\): 2000-02 … 2000-05 \(line 4\); fill in or remove those rows in the CSV \(the page does not interpolate\)$/,
    },
    {
      what: 'a missing value',
      csv: 'month,births\n2000-01,1\n2000-02,NA\n2000-03,3\n',
      cli: "the CSV: 1 missing value(s) in column 'births' (line 3); fix the data or pass --interpolate to fill them",
      page: /^the CSV: 1 missing value\(s\) in column 'births' \(line 3\); fill in or remove those rows in the CSV/,
    },
    {
      what: 'no numeric column',
      csv: 'month,note\n2000-01,a\n2000-02,b\n',
      cli: 'the CSV: found no numeric column; give --value-column (columns: month, note)',
      page: /^the CSV: found no numeric column \(columns: month, note\); the page forecasts the last numeric column/,
    },
  ];
  for (const c of cases)
    it(`${c.what}: the CLI's message names its flag, the page's names none`, () => {
      const e = errorOf(c.csv);
      assert.equal((e as Error).message, c.cli);
      const page = forecastErrorMessage(e);
      assert.match(page, c.page);
      assert.doesNotMatch(page, /--[a-z]/);
    });

  it('an error with no flag in it shows as it is', () => {
    const e = errorOf('month,births\n2000-01,1\n2000-01,2\n');
    assert.match((e as Error).message, /duplicate date 2000-01/);
    assert.equal(forecastErrorMessage(e), (e as Error).message);
    assert.equal(forecastErrorMessage('plain'), 'plain');
  });
});
