// Vitest sequencer: longest test files first, by the seconds each took in a recorded CI run
// (file-durations.json), so that two workers end together instead of one finishing a long file alone while
// the other is idle. A clean clone has no Vitest cache, so the default order (files of unknown duration in
// glob order, one project after another) is what CI would get without this.

import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Seconds a file took in the recorded run, by path from the repository root. */
const recorded: Readonly<Record<string, number>> = JSON.parse(
  readFileSync(new URL('./file-durations.json', import.meta.url), 'utf8'),
);

/**
 * What a file not in the record is assumed to take, in seconds: a new integration file starts a stack
 * (about ten seconds on 2 cores) and is better started early than found at the end; a new unit file is quick.
 */
function assumedSeconds(path: string): number {
  return path.startsWith('test/unit/') ? 1 : 10;
}

export default class DurationSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const seconds = (spec: TestSpecification) => {
      const path = relative(root, spec.moduleId);
      return recorded[path] ?? assumedSeconds(path);
    };
    return [...files].sort(
      (a, b) =>
        a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder ||
        seconds(b) - seconds(a),
    );
  }
}
