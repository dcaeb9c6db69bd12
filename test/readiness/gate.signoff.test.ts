// Sign-off through the gate, with real ssh-keygen keys and signatures: a
// milestone that needs 2 of 3 committee approvals of exactly this milestone,
// these results and this inventory commit, recently. Every refusal is named.
import { appendFile, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { UsageError } from "../../src/lib/errors.ts";
import { gate } from "../../src/readiness/gate.ts";
import { type Manifest, renderManifest, SIGNOFF_NAMESPACE } from "../../src/readiness/signoff.ts";
import { commitAll, DISTRICT, edit, ELECTION, exec, fixtureCopy, git, newKey, resultsFor, tempDir, WAIVERS } from "./helpers.ts";

// Election day in Tehran; T-0 (sign-off, 2 of 3) is in force.
const NOW = new Date("2027-02-25T05:00:00Z");
const keys: Record<string, { path: string; pub: string }> = {};
let keyDir: string;

beforeAll(async () => {
  keyDir = await tempDir("amadegi-keys-");
  for (const name of ["m-one", "m-two", "m-three", "outsider"]) keys[name] = await newKey(keyDir, name);
});

interface Setup {
  root: string;
  inventory: string;
  results: string;
  approvals: string;
  commit: string;
  sha256: string;
}

async function setup(): Promise<Setup> {
  const root = await fixtureCopy();
  const members = ["m-one", "m-two", "m-three"].map(
    (id, i) => `  - { id: ${id}, name: عضو ${i + 1}, ` + `role: member, level: county, sshKey: ${keys[id]?.pub} }`,
  );
  await writeFile(join(root, "governance/committee.yaml"), `committee:\n${members.join("\n")}\n`);
  const commit = await commitAll(root);
  const results = await resultsFor(root, { now: NOW, ageMs: 3_600_000 }, "results.jsonl");
  const approvals = join(root, "approvals");
  await mkdir(approvals);
  const inventory = join(root, "inventory");
  const probe = await gate({ inventory, results, now: NOW });
  return { root, inventory, results, approvals, commit, sha256: probe.result.results?.sha256 ?? "" };
}

/** A member signs a manifest, as they would on their machine: ssh-keygen -Y sign over the file. */
async function sign(
  s: Setup,
  key: string,
  changes: Partial<Manifest> = {},
  namespace = SIGNOFF_NAMESPACE,
  name = `${key}-${Math.random().toString(36).slice(2, 8)}`,
): Promise<void> {
  const manifest: Manifest = {
    election: "gate-1405",
    milestone: "T-0",
    inventoryCommit: s.commit,
    resultsSha256: s.sha256,
    verdict: "ready",
    time: "2027-02-25T04:30:00Z",
    ...changes,
  };
  const file = join(s.approvals, `${name}.txt`);
  await writeFile(file, renderManifest(manifest));
  await exec("ssh-keygen", ["-Y", "sign", "-f", keys[key]?.path ?? "", "-n", namespace, file]);
}

async function verdict(s: Setup) {
  return (await gate({ inventory: s.inventory, results: s.results, approvals: s.approvals, now: NOW })).result;
}

describe("sign-off through the gate", () => {
  it("is not ready without approvals, and says how many are needed", async () => {
    const s = await setup();
    const r = await verdict(s);
    expect(r.milestone.id).toBe("T-0");
    expect(r.criteriaVerdict).toBe("ready");
    expect(r).toMatchObject({
      verdict: "not-ready",
      exitCode: 1,
      signoff: { required: 2, of: 3, met: false, members: [], reason: `no approvals in ${s.approvals}` },
    });
  });

  it("is ready with two valid approvals of two members, not with one, nor with one member twice", async () => {
    const s = await setup();
    await sign(s, "m-one");
    expect((await verdict(s)).verdict).toBe("not-ready");
    await sign(s, "m-one");
    const twice = await verdict(s);
    expect(twice.signoff?.members).toEqual(["m-one"]);
    expect(twice.verdict).toBe("not-ready");
    await sign(s, "m-three");
    const r = await verdict(s);
    expect(r.signoff).toMatchObject({ met: true, members: ["m-one", "m-three"] });
    expect(r).toMatchObject({ verdict: "ready", exitCode: 0 });
  });

  it.each([
    ["a key not in the committee", (s: Setup) => sign(s, "outsider"), "unknown-key", "signed with a key that is not in governance/committee.yaml"],
    [
      "a member's key under another namespace (signed for something else)",
      (s: Setup) => sign(s, "m-two", {}, "file"),
      "bad-signature",
      "does not verify over this manifest under namespace amadegi-signoff",
    ],
    ["another milestone", (s: Setup) => sign(s, "m-two", { milestone: "T-1" }), "other-milestone", "m-two approved milestone T-1, not T-0"],
    ["other results", (s: Setup) => sign(s, "m-two", { resultsSha256: "b".repeat(64) }), "other-results", "m-two approved results bbbbbbbbbbbb"],
    [
      "another inventory commit",
      (s: Setup) => sign(s, "m-two", { inventoryCommit: "c".repeat(40) }),
      "other-commit",
      "m-two approved inventory commit cccccccccccc",
    ],
    ["another verdict", (s: Setup) => sign(s, "m-two", { verdict: "not-ready" }), "other-verdict", "m-two approved the verdict not-ready, not ready"],
    [
      "an approval older than the milestone's maximum age",
      (s: Setup) => sign(s, "m-two", { time: "2027-02-24T04:59:59Z" }),
      "too-old",
      "older than the milestone's maximum age (24 h)",
    ],
  ])("refuses %s", async (_name, act, status, detail) => {
    const s = await setup();
    await sign(s, "m-one");
    await act(s);
    const r = await verdict(s);
    expect(r.verdict).toBe("not-ready");
    const refused = r.signoff?.checks.filter((c) => c.status !== "valid") ?? [];
    expect(refused.map((c) => c.status)).toEqual([status]);
    expect(refused[0]?.detail).toContain(detail);
    expect(r.signoff?.members).toEqual(["m-one"]);
  });

  it("refuses approvals once the results they name were tampered with", async () => {
    const s = await setup();
    await sign(s, "m-one");
    await sign(s, "m-two");
    expect((await verdict(s)).verdict).toBe("ready");
    await appendFile(s.results, "\n");
    const r = await verdict(s);
    expect(r.verdict).toBe("not-ready");
    expect(r.signoff?.checks.map((c) => c.status)).toEqual(["other-results", "other-results"]);
  });

  it("refuses a manifest edited after it was signed", async () => {
    const s = await setup();
    await sign(s, "m-one", { verdict: "not-ready" }, SIGNOFF_NAMESPACE, "edited");
    await writeFile(
      join(s.approvals, "edited.txt"),
      renderManifest({
        election: "gate-1405",
        milestone: "T-0",
        inventoryCommit: s.commit,
        resultsSha256: s.sha256,
        verdict: "ready",
        time: "2027-02-25T04:30:00Z",
      }),
    );
    const r = await verdict(s);
    expect(r.signoff?.checks.map((c) => c.status)).toEqual(["bad-signature"]);
  });

  // Issue 13: a member's key field that carries a second line once named an outsider's key as another
  // member in allowed_signers, and two approvals (one of them the outsider's) made the gate READY.
  it("refuses a committee whose key field smuggles an outsider in as another member: the inventory does not load, naming the file and line", async () => {
    const s = await setup();
    // As YAML writes it in double quotes: \n is a line break, \" a quote, once decoded.
    const smuggled = `${keys["m-one"]?.pub ?? ""}\\nm-two namespaces=\\"${SIGNOFF_NAMESPACE}\\" ${keys.outsider?.pub ?? ""}`;
    const members = [
      `  - { id: m-one, name: عضو 1, role: member, level: county, sshKey: "${smuggled}" }`,
      ...["m-two", "m-three"].map((id, i) => `  - { id: ${id}, name: عضو ${i + 2}, role: member, level: county, sshKey: ${keys[id]?.pub} }`),
    ];
    await writeFile(join(s.root, "governance/committee.yaml"), `committee:\n${members.join("\n")}\n`);
    await commitAll(s.root);
    await sign(s, "m-one");
    await sign(s, "outsider");
    const refused = await gate({ inventory: s.inventory, results: s.results, approvals: s.approvals, now: NOW }).then(
      () => undefined,
      (error: unknown) => (error as Error).message,
    );
    expect(refused).toMatch(/governance\/committee\.yaml:2:\d+ not an SSH public key: a key is one line of printable text/);
  });

  it("counts no approval while an inventory file differs from the approved commit, naming it (an ignored file too)", async () => {
    const s = await setup();
    await sign(s, "m-one");
    await sign(s, "m-two");
    await appendFile(join(s.root, DISTRICT), "# edited\n");
    const r = await verdict(s);
    expect(r.verdict).toBe("not-ready");
    expect(r.signoff?.reason).toMatch(/^the inventory differs from commit [0-9a-f]{12}, which approvals name \(inventory\/districts\/rey\.yaml \(modified\)\)/);
    await git(s.root, "checkout", "--", DISTRICT);
    // A file .gitignore hides is still a file the loader reads.
    await writeFile(join(s.root, ".gitignore"), "*.local.yaml\n");
    await rename(join(s.root, DISTRICT), join(s.inventory, "districts", "rey.local.yaml"));
    expect((await verdict(s)).signoff?.reason).toContain("(inventory/districts/rey.local.yaml (not committed), inventory/districts/rey.yaml (deleted))");
  });
});

// Issue 13, item 4: the gate judges what was committed. Each attack is made for real in a git
// repository (branches, commits, a checkout), signed with real ssh-keygen keys.
describe("the gate judges what was committed", () => {
  const refusal = (promise: Promise<unknown>): Promise<{ message: string; hint: string | undefined; exit: number | undefined } | undefined> =>
    promise.then(
      () => undefined,
      (error: unknown) => ({ message: (error as Error).message, hint: (error as { hint?: string }).hint, exit: error instanceof UsageError ? 2 : undefined }),
    );

  it.each([
    ["a threshold lowered", ELECTION, "signoff: { required: 2 }", "signoff: { required: 1 }"],
    ["a waiver added", WAIVERS, "waivers:", "waivers:\n  # accepted by no one\n"],
    ["the committee file", "governance/committee.yaml", "committee:", "# edited\ncommittee:"],
  ])("stops with exit 2 when a deciding file differs from HEAD (%s), naming it — with or without approvals", async (_what, file, find, replace) => {
    const s = await setup();
    await sign(s, "m-one");
    await sign(s, "m-two");
    await edit(s.root, file, find, replace);
    for (const approvals of [undefined, s.approvals]) {
      const refused = await refusal(gate({ inventory: s.inventory, results: s.results, now: NOW, ...(approvals === undefined ? {} : { approvals }) }));
      expect(refused?.exit).toBe(2);
      expect(refused?.message).toMatch(
        new RegExp(`^the files that decide the verdict differ from commit [0-9a-f]{12} \\(HEAD\\): ${file.replaceAll(".", "\\.")} \\(modified\\)$`),
      );
      expect(refused?.hint).toContain("pull request the committee approves");
    }
  });

  it("stops with exit 2 on a check catalog that is not committed", async () => {
    const s = await setup();
    await mkdir(join(s.root, "checks"));
    await writeFile(join(s.root, "checks", "extra.yaml"), "checks: []\n");
    const refused = await refusal(gate({ inventory: s.inventory, results: s.results, now: NOW }));
    expect(refused).toMatchObject({ exit: 2, message: expect.stringContaining("checks/extra.yaml (not committed)") });
  });

  it("signs off a commit of main from main's later checkout (the approvals committed after it), and refuses a commit of a branch", async () => {
    const s = await setup();
    await sign(s, "m-one");
    await sign(s, "m-two");
    // The workflow's case: the approvals are committed to main after the commit they approve.
    await git(s.root, "add", "approvals");
    await git(s.root, "commit", "-q", "-m", "approvals");
    const onMain = (await gate({ inventory: s.inventory, results: s.results, approvals: s.approvals, commit: s.commit, now: NOW })).result;
    expect(onMain).toMatchObject({ verdict: "ready", inventory: { commit: s.commit } });

    // A branch the committee was asked to approve but that was never merged.
    await git(s.root, "checkout", "-q", "-b", "unmerged");
    await appendFile(join(s.root, DISTRICT), "# a change on a branch\n");
    const branch = await commitAll(s.root, "branch");
    await rm(s.approvals, { recursive: true });
    await mkdir(s.approvals);
    await sign(s, "m-one", { inventoryCommit: branch });
    await sign(s, "m-two", { inventoryCommit: branch });
    const r = (await gate({ inventory: s.inventory, results: s.results, approvals: s.approvals, now: NOW })).result;
    expect(r.verdict).toBe("not-ready");
    expect(r.signoff?.reason).toBe(`commit ${branch.slice(0, 12)} is not on main: a sign-off approves only what was merged`);
    // Named on the command line, it is still not on main.
    expect(
      (await gate({ inventory: s.inventory, results: s.results, approvals: s.approvals, commit: branch, main: "main", now: NOW })).result.signoff?.reason,
    ).toContain("is not on main");
  });

  it("counts no approval when there is no main branch to check against", async () => {
    const s = await setup();
    await git(s.root, "branch", "-m", "main", "trunk");
    await sign(s, "m-one");
    await sign(s, "m-two");
    const r = (await gate({ inventory: s.inventory, results: s.results, approvals: s.approvals, now: NOW })).result;
    expect(r.signoff?.reason).toBe(
      `no origin/main or main branch to check commit ${s.commit.slice(0, 12)} against: fetch the history (actions/checkout fetch-depth: 0)`,
    );
  });

  it("lets no member removed on main sign: an old commit's committee stops the gate (exit 2), from either checkout", async () => {
    const s = await setup();
    // The old committee had a fourth member; main removed them.
    const line = (id: string) => `  - { id: ${id}, name: عضو ${id}, role: member, level: county, sshKey: ${keys[id]?.pub} }`;
    await writeFile(join(s.root, "governance/committee.yaml"), `committee:\n${["m-one", "m-two", "m-three", "outsider"].map(line).join("\n")}\n`);
    const old = await commitAll(s.root, "with a fourth member");
    await writeFile(join(s.root, "governance/committee.yaml"), `committee:\n${["m-one", "m-two", "m-three"].map(line).join("\n")}\n`);
    await commitAll(s.root, "the fourth member leaves");
    await sign(s, "m-one", { inventoryCommit: old });
    await sign(s, "outsider", { inventoryCommit: old });
    // From main's checkout, judging the old commit: its committee file is not the working tree's.
    const fromMain = await refusal(gate({ inventory: s.inventory, results: s.results, approvals: s.approvals, commit: old, now: NOW }));
    expect(fromMain).toMatchObject({
      exit: 2,
      message: `the files that decide the verdict differ from commit ${old.slice(0, 12)}: governance/committee.yaml (modified)`,
    });
    // From the old commit's own checkout: its committee is not main's.
    await git(s.root, "checkout", "-q", old);
    const fromOld = await refusal(gate({ inventory: s.inventory, results: s.results, approvals: s.approvals, now: NOW }));
    expect(fromOld).toMatchObject({
      exit: 2,
      message: expect.stringMatching(
        new RegExp(
          `^governance/committee\\.yaml at commit ${old.slice(0, 12)} differs from main's \\([0-9a-f]{12}\\): ` +
            `the signers' keys come from main's committee file$`,
        ),
      ),
    });
  });

  it("refuses a --commit that names no commit", async () => {
    const s = await setup();
    const refused = await refusal(gate({ inventory: s.inventory, results: s.results, commit: "--output=/tmp/x", now: NOW }));
    expect(refused).toMatchObject({ exit: 2, message: `--commit --output=/tmp/x names no commit in ${s.root}` });
  });
});
