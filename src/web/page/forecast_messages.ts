/**
 * The page's wording of the forecast library's errors. The library words a fix for the CLI ("pass --interpolate");
 * the page has none of those flags, so an error that carries its fix as a structured remedy (SeriesInputError) is
 * shown with the page's own advice instead. Every other error shows as it is.
 */
import { SeriesInputError, type SeriesRemedyFlag } from '../../forecast/series.js';

/** What the page says in place of each flag: the Forecast tab reads the last numeric column and never fills gaps. */
const PAGE_REMEDY: Record<SeriesRemedyFlag, string> = {
  '--value-column': 'the page forecasts the last numeric column: give a column of numbers',
  '--interpolate': 'fill in or remove those rows in the CSV (the page does not interpolate)',
};

/** An error of the Forecast tab, as the page shows it. */
export function forecastErrorMessage(err: unknown): string {
  if (err instanceof SeriesInputError && err.remedy)
    return `${err.remedy.problem}; ${PAGE_REMEDY[err.remedy.flag]}`;
  return err instanceof Error ? err.message : String(err);
}
