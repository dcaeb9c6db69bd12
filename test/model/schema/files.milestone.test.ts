// The milestone fields the readiness gate reads (issue 6): criteria ids from a
// closed vocabulary, thresholds, maximum ages, check-in dates, sign-off, and the
// certificate margin in the policy. Table-driven over the minimal fixture.
import { describe, expect, it } from "vitest";
import { type Expected, findingsAfter } from "../fixture.ts";

const E = "inventory/election.yaml";
const LINE = "  - { id: T-7, due: 1405-11-29, criteria: [links-live] }";

function milestone(fields: string): { file: string; find: string; replace: string } {
  return { file: E, find: LINE, replace: `  - { id: T-7, due: 1405-11-29, ${fields} }` };
}

interface Case {
  readonly name: string;
  readonly fields: string;
  /** Each finding's rule and the text it points at (its column is where that text starts on line 9). */
  readonly expect: readonly (readonly [string, string])[];
  readonly says?: string;
}

const bad: readonly Case[] = [
  {
    name: "an unknown criterion id, with a suggestion",
    fields: "criteria: [links-live, gateway-up]",
    expect: [["schema.bad-value", "gateway-up"]],
    says: 'did you mean "gateways-up"',
  },
  {
    name: "a threshold for an unknown criterion",
    fields: "criteria: [links-live], thresholds: [{ criterion: link-live, min: 90 }]",
    expect: [["schema.bad-value", "link-live"]],
  },
  {
    name: "a threshold over 100%",
    fields: "criteria: [links-live], thresholds: [{ criterion: links-live, min: 101 }]",
    expect: [["schema.bad-value", "101"]],
  },
  {
    name: "a threshold without its minimum",
    fields: "criteria: [links-live], thresholds: [{ criterion: links-live }]",
    expect: [["schema.missing-field", "{ criterion: links-live }"]],
  },
  {
    name: "a maximum age of zero hours",
    fields: "criteria: [links-live], maxAgeHours: 0",
    expect: [["schema.bad-value", "0 }"]],
  },
  {
    name: "a fractional maximum age",
    fields: "criteria: [links-live], maxAgeHours: 1.5",
    expect: [["schema.wrong-type", "1.5"]],
  },
  {
    name: "an unknown share over 100%",
    fields: "criteria: [links-live], maxUnknownPercent: 150",
    expect: [["schema.bad-value", "150"]],
  },
  {
    name: "a check-in date that is not a date",
    fields: "criteria: [links-live], checkinsSince: yesterday",
    expect: [["schema.bad-date", "yesterday"]],
  },
  {
    name: "a sign-off of nobody",
    fields: "criteria: [links-live], signoff: { required: 0 }",
    expect: [["schema.bad-value", "0 }"]],
  },
  {
    name: "a typo in the sign-off",
    fields: "criteria: [links-live], signoff: { requried: 2 }",
    expect: [
      ["schema.missing-field", "{ requried"],
      ["schema.unknown-field", "requried"],
    ],
    says: 'did you mean "required"',
  },
];

describe("milestone fields", () => {
  it.each(bad)("$name", async ({ fields, expect: expected, says }) => {
    const edit = milestone(fields);
    const { found, result } = await findingsAfter([edit]);
    const at = (text: string): Expected => ({ rule: "", item: "T-7", file: E, line: 9, col: edit.replace.indexOf(text) + 1 });
    expect(found).toEqual(expected.map(([rule, text]) => ({ ...at(text), rule })));
    if (says !== undefined) expect(result.findings.map((f) => `${f.message} ${f.hint}`).join("\n")).toContain(says);
  });

  it.each([
    ["defaults", "criteria: [links-live]", { thresholds: [], maxAgeHours: 24, maxUnknownPercent: 5 }],
    [
      "every field, a Jalali check-in date in Persian digits",
      "criteria: [links-live, devices-checked-in], thresholds: [{ criterion: links-live, min: 97.5 }], maxAgeHours: 6, maxUnknownPercent: 2, " +
        "checkinsSince: ۱۴۰۵-۱۱-۲۰, signoff: { required: 3 }",
      { thresholds: [{ criterion: "links-live", min: 97.5 }], maxAgeHours: 6, maxUnknownPercent: 2, checkinsSince: "2027-02-09", signoff: { required: 3 } },
    ],
  ])("reads %s", async (_name, fields, want) => {
    const { found, result } = await findingsAfter([milestone(fields)]);
    expect(found).toEqual([]);
    expect(result.inventory?.election.milestones[0]).toMatchObject(want);
  });

  it("reads the certificate margin, 14 days by default", async () => {
    expect((await findingsAfter([])).result.inventory?.election.policy.certMarginDays).toBe(14);
    const { result } = await findingsAfter([{ file: E, find: "blindSpotDbm: -110", replace: "blindSpotDbm: -110\n  certMarginDays: 30" }]);
    expect(result.inventory?.election.policy.certMarginDays).toBe(30);
    const { found } = await findingsAfter([{ file: E, find: "blindSpotDbm: -110", replace: "blindSpotDbm: -110\n  certMarginDays: -1" }]);
    expect(found.map((f) => f.rule)).toEqual(["schema.bad-value"]);
  });
});
