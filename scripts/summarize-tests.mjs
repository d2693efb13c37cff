// Totals vitest's and Playwright's JSON reports into the one closing line CI reads.
import { existsSync, readFileSync } from 'node:fs';

const [unitPath, e2ePath] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
let missing = false;

if (unitPath && existsSync(unitPath)) {
  const unit = JSON.parse(readFileSync(unitPath, 'utf8'));
  passed += unit.numPassedTests;
  failed += unit.numFailedTests;
  skipped += unit.numPendingTests + unit.numTodoTests;
  console.log(`unit: ${unit.numPassedTests} passed, ${unit.numFailedTests} failed`);
} else missing = true;

if (e2ePath && existsSync(e2ePath)) {
  const { stats, errors = [] } = JSON.parse(readFileSync(e2ePath, 'utf8'));
  passed += stats.expected + stats.flaky;
  failed += stats.unexpected;
  skipped += stats.skipped;
  console.log(`e2e: ${stats.expected + stats.flaky} passed, ${stats.unexpected} failed`);
  // A suite that could not start (its server's port taken, a config error) reports no test, only errors.
  for (const error of errors) console.log(`e2e could not run: ${String(error.message ?? error).split('\n')[0]}`);
  failed += errors.length;
} else missing = true;

if (missing) console.log('a test report is missing: a suite did not run to the end');
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(missing || failed ? 1 : 0);
