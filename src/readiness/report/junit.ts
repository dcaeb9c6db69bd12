import { xmlAttr } from "../../lib/encode.ts";
import type { GateResult } from "../gate.ts";

/**
 * junit.xml: one test case per criterion, and one per object a failing
 * criterion names (classname `criterion.<id>`), so CI systems list each
 * offender as a failed test with its owner and reason. Everything written
 * goes into attributes, through xmlAttr: well-formed XML 1.0 whatever the
 * ids, owners and results' details hold.
 */
const x = xmlAttr;

export function renderJunit(r: GateResult): string {
  const cases: string[] = [];
  let failures = 0;
  let errors = 0;
  for (const c of r.criteria) {
    const name = `${c.id}: ${c.measured.toFixed(2)}% (threshold ${c.threshold}%)`;
    if (c.outcome === "pass") cases.push(`<testcase classname="criteria" name="${x(name)}"/>`);
    else if (c.outcome === "cannot-judge") {
      errors++;
      cases.push(`<testcase classname="criteria" name="${x(c.id)}"><error message="${x(c.reason ?? "cannot judge")}"/></testcase>`);
    } else {
      failures++;
      cases.push(
        `<testcase classname="criteria" name="${x(name)}">` +
          `<failure message="${x(`${c.offenders.length} not ready${c.reason === undefined ? "" : `; ${c.reason}`}`)}"/></testcase>`,
      );
    }
    for (const o of c.offenders) {
      failures++;
      cases.push(`<testcase classname="criterion.${x(c.id)}" name="${x(o.id)}"><failure message="${x(`owner ${o.owner}: ${o.reason}`)}"/></testcase>`);
    }
  }
  if (r.signoff !== undefined) {
    if (r.signoff.met) cases.push(`<testcase classname="criteria" name="sign-off"/>`);
    else {
      failures++;
      cases.push(
        `<testcase classname="criteria" name="sign-off"><failure message="` +
          `${x(`${r.signoff.members.length} of ${r.signoff.required} approvals${r.signoff.reason === undefined ? "" : `: ${r.signoff.reason}`}`)}` +
          `"/></testcase>`,
      );
    }
  }
  for (const reason of r.reasons) {
    errors++;
    cases.push(`<testcase classname="gate" name="fit to judge"><error message="${x(reason)}"/></testcase>`);
  }
  const suite = `readiness ${r.milestone.id}`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="amadegi" tests="${cases.length}" failures="${failures}" errors="${errors}">\n` +
    `<testsuite name="${x(suite)}" tests="${cases.length}" failures="${failures}" errors="${errors}" timestamp="${x(r.judgedAt)}">\n` +
    `${cases.join("\n")}\n</testsuite>\n</testsuites>\n`
  );
}
