/**
 * The M3 monthly data the forecasting benches read (../shared/eval/m3, or M3_DIR): the series' metadata, the panel
 * read as `recur forecast monthly.csv --id-column id` reads it, and the 100-series sample (every 14.28th of the 1,428
 * in id order, so every category). Null when the data is absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { parsePanelCsv, type Panel } from '../src/forecast/panel.js';

export interface M3Data {
  meta: Record<string, string>[];
  panel: Panel;
  /** All ids with `all`, else the 100-series sample, in id order. */
  ids: string[];
}

export function readM3(dir: string, all: boolean): M3Data | null {
  if (!existsSync(join(dir, 'monthly.csv'))) {
    console.error(`M3 data not found at ${dir} (../shared/eval/m3, or M3_DIR): nothing to run`);
    return null;
  }
  const meta = parse(readFileSync(join(dir, 'series.csv'), 'utf8'), { columns: true }) as Record<
    string,
    string
  >[];
  const panel = parsePanelCsv(readFileSync(join(dir, 'monthly.csv'), 'utf8'), {
    idColumn: 'id',
    source: 'monthly.csv',
  });
  const ids = all
    ? meta.map((m) => m.id)
    : Array.from({ length: 100 }, (_, i) => meta[Math.floor((i * meta.length) / 100)].id);
  return { meta, panel, ids };
}
