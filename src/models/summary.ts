/** The table `summary()` prints, shared by Sequential and functional models. */

/** Keras's summary table: the model's name, a row per layer, the total parameter count ('?' before building). */
export function printSummaryTable(
  name: string,
  head: readonly string[],
  rows: readonly string[][],
  totalParams: number | null,
  print: (line: string) => void,
): void {
  const w = head.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)) + 2);
  const line = (r: readonly string[]): string =>
    r
      .map((c, j) => c.padEnd(w[j]))
      .join('')
      .trimEnd();
  const rule = '_'.repeat(w.reduce((a, b) => a + b, 0));
  print(`Model: "${name}"`);
  print(rule);
  print(line(head));
  print('='.repeat(rule.length));
  for (const r of rows) print(line(r));
  print('='.repeat(rule.length));
  print(`Total params: ${totalParams === null ? '?' : totalParams.toLocaleString('en-US')}`);
  print(rule);
}
