// Prints the plain line CI reads, `N passed, N failed, N skipped`, from
// vitest's JSON report. Plain JavaScript so any Node can run it, even when
// setup failed before installing Node 24. Exit 1 when the report is missing
// or unreadable (so "nothing ran" never passes), else 0.
import { readFileSync } from "node:fs";

const path = process.argv[2] ?? "reports/vitest.json";
let report;
try {
  report = JSON.parse(readFileSync(path, "utf8"));
} catch (error) {
  console.error(`ci-summary: no vitest report at ${path} (${error.code ?? error.message}): the tests did not run`);
  console.log("0 passed, 1 failed");
  process.exitCode = 1;
}
if (report !== undefined) {
  const passed = report.numPassedTests ?? 0;
  // A test file that failed to load has no tests of its own: count it once.
  const brokenFiles = (report.testResults ?? []).filter((f) => f.status === "failed" && (f.assertionResults ?? []).length === 0).length;
  const failed = (report.numFailedTests ?? 0) + brokenFiles;
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  for (const file of report.testResults ?? []) {
    for (const test of file.assertionResults ?? []) {
      if (test.status === "pending" || test.status === "skipped") console.log(`skipped: ${test.fullName}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  if (passed === 0) process.exitCode = 1;
}
