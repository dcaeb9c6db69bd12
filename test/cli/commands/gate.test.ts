// `amadegi gate` and `amadegi approve` through the CLI: exit codes, the text a
// person reads (criterion, measured value, threshold, offenders, owners), --json,
// and a committee member's whole procedure: approve → ssh-keygen -Y sign → gate.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatGate } from "../../../src/cli/commands/gate.ts";
import { main } from "../../../src/cli/main.ts";
import { visibleControls } from "../../../src/lib/encode.ts";
import type { ProbeResult } from "../../../src/probe/types.ts";
import { gate } from "../../../src/readiness/gate.ts";
import { ATTACKS, attack, commandsIn, plain, poisonResult } from "../../helpers/encoding.ts";
import { commitAll, edit, ELECTION, exec, fixtureCopy, newKey, resultsFor, tempDir } from "../../readiness/helpers.ts";

// The state directory in the copy (not the repository's): results, history, cache and drift of each test its own.
function capture(cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), cwd, env: { ...process.env, AMADEGI_STATE_DIR: join(cwd, ".amadegi") } },
    out,
    err,
  };
}

const now = () => new Date();
const down = (key: string) => (r: ProbeResult) => (r.key === key ? { ...r, status: "down" as const, detail: "10.1.0.1: 100% loss" } : r);

describe("amadegi gate", () => {
  it("exits 0 when ready and prints each criterion", async () => {
    const root = await fixtureCopy();
    const results = await resultsFor(root, { now: now() });
    const { io, out } = capture(root);
    expect(await main(["gate", "--milestone", "T-7", "--date", "2027-02-17", "--results", results, "--no-history"], io)).toBe(0);
    expect(out).toContain("  ✓ links-live: 100.00% ≥ 100% — 8 of 8");
    expect(out.at(-1)).toBe("READY: milestone T-7 (exit 0)");
  });

  it("exits 1 when not ready, naming the measured value, threshold, worst offender and owner", async () => {
    const root = await fixtureCopy();
    const results = await resultsFor(root, { now: now(), edit: down("link-icmp/R-1/R-1-F") });
    const { io, out } = capture(root);
    expect(await main(["gate", "--milestone", "T-7", "--date", "2027-02-17", "--results", results, "--no-history"], io)).toBe(1);
    expect(out).toContain("  ✗ links-live: 87.50% < 100% — 7 of 8; not ready by owner: tci 1");
    expect(out).toContain("      R-1-F  owner tci  [rey]  live, but down: 10.1.0.1: 100% loss");
    expect(out.at(-1)).toBe("NOT READY: milestone T-7: links-live, fixed-diverse-paths (exit 1)");
  });

  it("exits 2 when it cannot judge, saying why, and prints the same as JSON with --json", async () => {
    const root = await fixtureCopy();
    const results = await resultsFor(root, { now: now(), valid: false });
    const { io, out } = capture(root);
    expect(await main(["gate", "--milestone", "T-7", "--results", results, "--no-history"], io)).toBe(2);
    expect(out.at(-2)).toBe("CANNOT JUDGE milestone T-7 (exit 2):");
    const json = capture(root);
    expect(await main(["gate", "--milestone", "T-7", "--results", results, "--no-history", "--json"], json.io)).toBe(2);
    const parsed = JSON.parse(json.out.join("\n")) as { verdict: string; exitCode: number; reasons: string[] };
    expect(parsed).toMatchObject({ verdict: "cannot-judge", exitCode: 2 });
    expect(parsed.reasons[0]).toMatch(/marked invalid/);
  });

  it("takes the newest results under .amadegi/results and records the verdict in .amadegi/history.sqlite", async () => {
    const root = await fixtureCopy();
    await mkdir(join(root, ".amadegi", "results"), { recursive: true });
    await resultsFor(root, { now: now() }, ".amadegi/results/a.jsonl");
    const { io, out } = capture(root);
    expect(await main(["gate", "--milestone", "T-7", "--date", "2027-02-17"], io)).toBe(0);
    expect(out[1]).toMatch(/^results: \S*\.amadegi\/results\/a\.jsonl /);
    const again = capture(root);
    expect(await main(["gate", "--milestone", "T-7", "--date", "2027-02-17", "--json"], again.io)).toBe(0);
    expect((JSON.parse(again.out.join("\n")) as { trend: unknown[] }).trend).toHaveLength(2);
  });
});

describe("amadegi approve: a committee member's procedure", () => {
  it("writes the exact manifest to sign and the ssh-keygen line; the signed manifest then unlocks the gate", async () => {
    const root = await fixtureCopy();
    const keys = await tempDir("amadegi-keys-");
    const one = await newKey(keys, "m-one");
    const two = await newKey(keys, "m-two");
    await writeFile(
      join(root, "governance/committee.yaml"),
      `committee:\n  - { id: m-one, name: یکم, role: chair, level: county, sshKey: ${one.pub} }\n` +
        `  - { id: m-two, name: دوم, role: member, level: county, sshKey: ${two.pub} }\n`,
    );
    const commit = await commitAll(root);
    // T-0 needs 2 of the committee; judge it as of election day with fresh results
    // (the devices checked in after T-1's checkinsSince, 1405-12-01).
    const results = await resultsFor(root, { now: now(), checkinAt: "2027-02-24T00:00:00Z" });
    const approvals = join(root, "approvals");
    const args = ["--milestone", "T-0", "--date", "2027-02-25", "--results", results];
    for (const [name, key] of [
      ["one", one],
      ["two", two],
    ] as const) {
      const { io, out } = capture(root);
      expect(await main(["approve", ...args, "--out", join(approvals, `${name}.txt`)], io)).toBe(0);
      const manifest = await readFile(join(approvals, `${name}.txt`), "utf8");
      expect(manifest).toMatch(
        new RegExp(
          `^amadegi sign-off v1\\nelection: gate-1405\\nmilestone: T-0\\ninventory-commit: ${commit}\\nresults-sha256: [0-9a-f]{64}\\n` +
            `verdict: ready\\ntime: \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\n$`,
        ),
      );
      expect(out).toContain(`  ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n amadegi-signoff ${join(approvals, `${name}.txt`)}`);
      const before = capture(root);
      expect(await main(["gate", ...args, "--approvals", approvals, "--no-history"], before.io)).toBe(1);
      await exec("ssh-keygen", ["-Y", "sign", "-f", key.path, "-n", "amadegi-signoff", join(approvals, `${name}.txt`)]);
    }
    const { io, out } = capture(root);
    expect(await main(["gate", ...args, "--approvals", approvals, "--no-history"], io)).toBe(0);
    expect(out).toContain("sign-off: 2 of 2 required approvals (committee of 2): m-one, m-two");
  });

  it("refuses to write a manifest for results it cannot judge, or for an inventory outside git", async () => {
    const root = await fixtureCopy();
    const stale = await resultsFor(root, { now: now(), ageMs: 48 * 3_600_000 });
    const { io, err } = capture(root);
    expect(await main(["approve", "--milestone", "T-7", "--results", stale], io)).toBe(2);
    expect(err[0]).toBe("approve: milestone T-7 cannot be judged on these results, so there is nothing to approve:");
    const fresh = await resultsFor(root, { now: now() }, "fresh.jsonl");
    const outside = capture(root);
    expect(await main(["approve", "--milestone", "T-7", "--date", "2027-02-17", "--results", fresh], outside.io)).toBe(2);
    expect(outside.err.join("\n")).toMatch(/is not in a git repository: a manifest names the inventory's commit/);
  });
});

describe("the gate's text from data that carries attacks (issue 14)", () => {
  it("formatGate: every field of the result as an attack, in turn; no line breaks out or is a workflow command", async () => {
    const root = await fixtureCopy();
    const results = await resultsFor(root, { now: now(), edit: down("link-icmp/R-1/R-1-F") });
    const { result } = await gate({ inventory: join(root, "inventory"), results, now: now(), milestone: "T-7", date: "2027-02-17" });
    const plainLines = formatGate(poisonResult(result, plain));
    for (let k = 0; k < ATTACKS.length; k++) {
      const poisoned = poisonResult(result, (i) => attack(i + k));
      const lines = formatGate(poisoned);
      expect(lines.length, `round ${k}`).toBe(plainLines.length);
      expect(
        lines.filter((l) => /[\p{Cc}\u202A-\u202E\u2066-\u2069]|[\uD800-\uDFFF]/u.test(l)),
        `round ${k}`,
      ).toEqual([]);
      expect(commandsIn(lines.join("\n")), `round ${k}`).toEqual([]);
      // What a person must chase is still there, shown: the offenders' ids and reasons.
      const text = lines.join("\n");
      for (const o of poisoned.criteria.flatMap((c) => c.offenders.slice(0, 10)))
        expect(text).toContain(visibleControls(o.reason).replaceAll("##[", "#\\u0023["));
    }
  });

  it("amadegi gate on an inventory and results that carry attacks prints nothing the runner takes as a command", async () => {
    const root = await fixtureCopy();
    await edit(root, ELECTION, "name: لینک‌ها برقرار، سرورها آماده", `name: ${JSON.stringify("x\n::error::READY %0A")}`);
    const results = await resultsFor(root, {
      now: now(),
      edit: (r) => (r.key === "link-icmp/R-1/R-1-F" ? { ...r, status: "down", detail: "no\n::add-mask::x\r::error::READY ##[error]y \u001b[2J" } : r),
    });
    const { io, out, err } = capture(root);
    expect(await main(["gate", "--milestone", "T-7", "--date", "2027-02-17", "--results", results, "--no-history"], io)).toBe(1);
    expect(commandsIn([...out, ...err].join("\n"))).toEqual([]);
    expect(out).toContain("      R-1-F  owner tci  [rey]  live, but down: no\\n::add-mask::x\\r::error::READY #\\u0023[error]y \\u001B[2J");
    expect(out[0]).toMatch(/^milestone T-7 «x\\n::error::READY %0A» due /);
  });
});
