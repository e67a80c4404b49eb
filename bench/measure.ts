// Small helpers every benchmark shares: percentiles and a fixed-width table.

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

export function summarize(samples: readonly number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

export function table(rows: readonly (readonly string[])[]): string {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export const ms = (value: number) => `${value.toFixed(1)} ms`;

/** Cold starts of the local Lambda runtime per function (count, init ms p50/max), or why there are none. */
export function coldStartReport(
  stats:
    | Readonly<
        Record<string, { coldStarts: number; initMs: readonly number[]; timeouts: number; throttles: number }>
      >
    | undefined,
): string {
  if (!stats) return 'Cold starts: none (--in-process: the handlers ran in the benchmark process)';
  const rows = [['function', 'cold starts', 'init p50', 'init max', 'timeouts', 'throttles']];
  for (const [name, s] of Object.entries(stats)) {
    if (s.coldStarts === 0) continue;
    const init = summarize(s.initMs);
    rows.push([
      name,
      String(s.coldStarts),
      ms(init.p50),
      ms(init.max),
      String(s.timeouts),
      String(s.throttles),
    ]);
  }
  return `Cold starts (local Lambda runtime: one worker-thread environment per concurrent invocation)\n${table(rows)}`;
}
