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
  // A test file can fail with no failed test of its own: it did not load (no tests), or a hook
  // (beforeAll) threw and vitest reported its tests as skipped. Those tests did not pass: count
  // them as failed (a file with none counts once), and not as skipped.
  let hookFailed = 0;
  let brokenFiles = 0;
  let skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  for (const file of report.testResults ?? []) {
    const tests = file.assertionResults ?? [];
    const notRun = tests.filter((t) => t.status === "pending" || t.status === "skipped" || t.status === "todo");
    const broken = file.status === "failed" && !tests.some((t) => t.status === "failed");
    if (broken) {
      console.log(`failed: ${file.name}: ${(file.message ?? "").split("\n")[0] || "the file failed outside its tests (a hook, or loading)"}`);
      if (notRun.length === 0) brokenFiles++;
      hookFailed += notRun.length;
      skipped -= notRun.length;
      continue;
    }
    for (const test of notRun) console.log(`skipped: ${test.fullName}`);
  }
  const failed = (report.numFailedTests ?? 0) + hookFailed + brokenFiles;
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  if (passed === 0) process.exitCode = 1;
}
