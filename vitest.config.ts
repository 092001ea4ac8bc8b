import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The longest files first, so that two workers finish together: without a cache (a fresh CI
 * checkout) vitest starts the largest files first, and the README check, a small file that runs
 * for about two minutes, would start last. Measured durations, longest first.
 */
const LONG_FIRST = ['readme', 'pytorch-engine', 'runs', 'bidirectional', 'report', 'text', 'tfjs-parity', 'check'];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification): number => {
      const i = LONG_FIRST.findIndex((n) => f.moduleId.replace(/\\/g, '/').endsWith(`/test/${n}.test.ts`));
      return i < 0 ? LONG_FIRST.length : i;
    };
    return [...(await super.sort(files))].sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The json report is what .ci/run turns into its "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    // two test files at a time on a 2-core machine: most tests wait on a CLI or Python subprocess
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
