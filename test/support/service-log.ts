// What a local stack said while a test ran — the gateway's and scheduler's lines and the functions' own warnings
// and errors — kept with the time they came, so a test that times out can say what the service did about the
// connection or session it waited on.

/** One line the stack printed, with when it came (ms since the epoch) and where from. */
export interface ServiceLine {
  readonly at: number;
  /** `stack` for the gateway, scheduler and Lambda runtime lines; otherwise the function's name. */
  readonly source: string;
  readonly text: string;
}

/** Lines longer than this are cut (a function's JSON line may carry a stack trace). */
const MAX_LINE_CHARS = 600;
/** Lines kept at most: the oldest go first (a long test logs every route call). */
const MAX_LINES = 50_000;

/**
 * Collects a stack's lines: pass `stackLog` as the stack's `log` and `functionOutput` as its `functionOutput`
 * (with `logLevel: 'WARN'`, or the functions print nothing under the test runner's POWERTOOLS_LOG_LEVEL).
 * `functionOutput` keeps only WARN and ERROR lines.
 */
export class ServiceLog {
  readonly lines: ServiceLine[] = [];

  readonly stackLog = (text: string): void => this.add('stack', text);

  readonly functionOutput = (functionName: string, text: string): void => {
    if (text.includes('"level":"WARN"') || text.includes('"level":"ERROR"')) this.add(functionName, text);
  };

  /** The function warnings and errors kept, newest last. */
  warnings(): ServiceLine[] {
    return this.lines.filter((line) => line.source !== 'stack');
  }

  /** Lines since `since` (ms since the epoch) that mention any of `ids` (connection or session ids). */
  about(ids: readonly string[], since = 0): ServiceLine[] {
    return this.lines.filter((line) => line.at >= since && ids.some((id) => id && line.text.includes(id)));
  }

  /** `lines` as text, one a line, each with its time relative to `origin` (ms since the epoch). */
  static format(lines: readonly ServiceLine[], origin: number): string {
    return lines.map((line) => `  +${line.at - origin} ms [${line.source}] ${line.text}`).join('\n');
  }

  private add(source: string, text: string): void {
    if (this.lines.length >= MAX_LINES) this.lines.shift();
    this.lines.push({ at: Date.now(), source, text: text.slice(0, MAX_LINE_CHARS) });
  }
}
