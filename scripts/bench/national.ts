// The national campaign of `npm run bench:checks`. It is started by the
// benchmark INSIDE a network namespace the benchmark made (whose loopback
// answers every 10.x address): it must never run in the machine's own
// namespace, and refuses to unless its namespace has no route but loopback.
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import { check } from "../../src/probe/run.ts";
import { peakKiB } from "./usage.ts";

const { values } = parseArgs({
  options: { stacks: { type: "string" }, inventory: { type: "string" }, checks: { type: "string" }, out: { type: "string" }, deadline: { type: "string" } },
});

const routes = execFileSync("ip", ["-4", "route", "show", "table", "all"], { encoding: "utf8" });
const foreign = routes.split("\n").filter((l) => l.trim() !== "" && !/\bdev lo\b/.test(l));
if (foreign.length > 0) {
  process.stderr.write(`refusing: this namespace has routes beyond loopback (${foreign[0]}); run me only through bench-checks\n`);
  process.exitCode = 2;
} else {
  const started = performance.now();
  const outcome = await check({
    stack: "bench",
    stacksDir: values.stacks ?? "",
    inventory: values.inventory ?? "",
    checks: values.checks ?? "",
    deadlineMs: Number(values.deadline ?? 120_000),
    out: values.out ?? "",
  });
  const wallMs = performance.now() - started;
  if (!outcome.ran) {
    process.stderr.write(`${JSON.stringify(outcome.findings.slice(0, 5))}\n`);
    process.exitCode = 2;
  } else {
    const r = outcome.report;
    const figures = {
      wallMs,
      campaignMs: r.elapsedMs,
      targets: outcome.targets,
      attempts: r.attempts,
      counts: r.summary.total,
      valid: r.valid,
      invalid: r.invalid,
      maxRssMb: peakKiB() / 1024,
      maxLagMs: r.maxLagMs,
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  }
}
