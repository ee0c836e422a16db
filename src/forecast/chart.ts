/** Charts of a forecast: an SVG (Vega-Lite, rendered headless by Vega) and a compact terminal plot (asciichart). */
import asciichart from 'asciichart';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { datesAfter, parseDate, type Frequency } from './series.js';
import { valueExtent } from './transforms.js';

export interface ChartData {
  title: string;
  dates: string[];
  values: number[];
  /** Index where the forecast starts. */
  start: number;
  forecast: number[];
  lower: number[];
  upper: number[];
  /** Held-out actuals (same length as the forecast), if any. */
  actual?: number[];
  baseline?: { name: string; values: number[] };
  /** The dates' frequency, to continue them past the end of the series. */
  frequency?: Frequency;
  /** Legend name of the forecast (default 'forecast'). */
  label?: string;
}

/** The forecast's dates: held-out dates where there are any, then continuing at the series' frequency. */
function futureDates(d: ChartData): string[] {
  const n = d.forecast.length;
  const known = d.dates.slice(d.start, d.start + n);
  return [...known, ...datesAfter(d.dates, n - known.length, d.frequency)];
}

export async function forecastSvg(d: ChartData): Promise<string> {
  const fd = futureDates(d);
  const label = d.label ?? 'forecast';
  // Vega reads ISO dates; quarters (2000-Q1) and positions (t1) stay ordinal.
  const temporal = d.dates.length > 0 && parseDate(d.dates[0]) !== null && d.frequency !== 'quarterly';
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < d.start; i++) rows.push({ date: d.dates[i], value: d.values[i], series: 'history' });
  fd.forEach((date, i) => {
    rows.push({
      date,
      value: d.forecast[i],
      lower: d.lower[i],
      upper: d.upper[i],
      series: label,
    });
    if (d.actual?.[i] !== undefined) rows.push({ date, value: d.actual[i], series: 'held-out actual' });
    if (d.baseline) rows.push({ date, value: d.baseline.values[i], series: d.baseline.name });
  });
  // Ordinal positions (t1, t2, …, t10) and quarters in the series' order: sorted as text, t10 came before t2 and the
  // line zigzagged across the chart. Their labels are thinned where they would overlap.
  const x = temporal
    ? { field: 'date', type: 'temporal', title: null }
    : {
        field: 'date',
        type: 'ordinal',
        scale: { domain: [...d.dates.slice(0, d.start), ...fd] },
        title: null,
        axis: { labelOverlap: true },
      };
  // Each line's colour by its role, whatever its name: a range alone maps colours to the names in sorted order, which
  // painted the forecast grey and the history blue (the band's colour) when the baseline sorts after 'history'.
  const colours: [string, string][] = [
    [label, '#1f77b4'],
    ...(d.actual ? ([['held-out actual', '#000000']] as [string, string][]) : []),
    ['history', '#ff7f0e'],
    ...(d.baseline ? ([[d.baseline.name, '#7f7f7f']] as [string, string][]) : []),
  ];
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: d.title,
    width: 720,
    height: 320,
    data: { values: rows },
    layer: [
      {
        transform: [{ filter: { field: 'series', equal: label } }],
        mark: { type: 'area', opacity: 0.25, color: '#1f77b4' },
        encoding: { x, y: { field: 'lower', type: 'quantitative' }, y2: { field: 'upper' } },
      },
      {
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative', scale: { zero: false }, title: null },
          color: {
            field: 'series',
            type: 'nominal',
            scale: { domain: colours.map(([name]) => name), range: colours.map(([, c]) => c) },
            title: null,
          },
          strokeDash: {
            condition: { test: `datum.series === '${d.baseline?.name ?? ''}'`, value: [5, 3] },
            value: [1, 0],
          },
        },
      },
    ],
  } as vl.TopLevelSpec;
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

/**
 * A formatter for numbers of the size of `values`: fixed decimals that keep three significant digits of the largest
 * (at least `least`), or four significant digits where that would take more than 12 decimals. Two fixed decimals
 * printed a series of rates (0.01–0.05) as 0.04 … 0.04, its errors as 0.00 and its chart's axis as 0.0 on every line.
 */
export function formatLike(values: readonly number[], least = 2): (v: number) => string {
  const largest = values.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0);
  const decimals = largest > 0 ? Math.max(least, 2 - Math.floor(Math.log10(largest))) : least;
  return decimals > 12 ? (v) => v.toPrecision(4) : (v) => v.toFixed(decimals);
}

/**
 * The last part of the history and the forecast as a terminal line chart: the history continued by the held-out
 * actuals (grey, when there are any) and by the forecast (blue).
 */
export function terminalChart(d: ChartData, historyPoints = 36, color = true): string {
  const from = Math.max(0, d.start - historyPoints);
  const hist = d.values.slice(from, d.start);
  const series = [...(d.actual ? [[...hist, ...d.actual]] : []), [...hist, ...d.forecast]];
  const { min, max } = valueExtent(series.flat());
  // The axis labels tell the rows apart: two significant digits of a row's step (at least one decimal, as before).
  const step = (max - min) / 12 || Math.abs(max) || 1;
  const label = formatLike([10 * step], 1);
  return asciichart.plot(series, {
    height: 12,
    min,
    max,
    colors: color ? (d.actual ? [asciichart.lightgray, asciichart.blue] : [asciichart.blue]) : undefined,
    format: (v: number) => label(v).padStart(10),
  });
}
