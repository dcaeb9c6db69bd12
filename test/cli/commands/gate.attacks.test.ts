// Issue 13: the verdict attacks a security review tried, as someone with write access to the
// inventory, the approvals or a branch would — each made for real (git history, ssh-keygen keys
// and signatures, files on disk) and run through the CLI's own process. None may end READY;
// each is refused with its reason or exit 2, naming where, and never with a stack trace.
import { appendFile, mkdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type Manifest, renderManifest, SIGNOFF_NAMESPACE } from "../../../src/readiness/signoff.ts";
import { repoRoot } from "../../../src/toolchain/paths.ts";
import { commitAll, edit, exec, fixtureCopy, git, newKey, resultsFor, tempDir } from "../../readiness/helpers.ts";

const keys: Record<string, { path: string; pub: string }> = {};
const env = { ...process.env, AMADEGI_DEBUG: undefined, TZ: "UTC" };
// Election day, when T-0 (2 of 3 approvals) is in force: the CLI's process runs under libfaketime
// (setup installs it for the clock-skew drill), so its own clock says so and nothing is injected.
const NOW = new Date("2027-02-25T05:00:00Z");
const SIGNED = "2027-02-25T04:30:00Z";

beforeAll(async () => {
  const dir = await tempDir("amadegi-attack-keys-");
  for (const name of ["m-one", "m-two", "m-three", "outsider"]) keys[name] = await newKey(dir, name);
  const weak = join(dir, "weak");
  await exec("ssh-keygen", ["-q", "-t", "rsa", "-b", "1024", "-N", "", "-C", "weak", "-f", weak]);
  keys.weak = { path: weak, pub: (await readFile(`${weak}.pub`, "utf8")).trim() };
});

interface Repo {
  root: string;
  commit: string;
  results: string;
  sha256: string;
}

const member = (id: string, key = keys[id]?.pub ?? "", name = `عضو ${id}`) =>
  `  - { id: ${id}, name: ${name}, ` + `role: member, level: county, sshKey: ${key} }`;
const COMMITTEE = (lines: string[]) => `committee:\n${lines.join("\n")}\n`;

/** A repository on main, the committee's three keys committed, healthy results of now. */
async function repo(): Promise<Repo> {
  const root = await fixtureCopy();
  await writeFile(join(root, "governance/committee.yaml"), COMMITTEE(["m-one", "m-two", "m-three"].map((id) => member(id))));
  const commit = await commitAll(root);
  const results = await resultsFor(root, { now: NOW, ageMs: 3_600_000 });
  const sha256 = (await exec("sha256sum", [results])).stdout.split(" ")[0] ?? "";
  await mkdir(join(root, "approvals"));
  return { root, commit, results, sha256 };
}

async function sign(r: Repo, key: string, changes: Partial<Manifest> = {}, name = key, namespace = SIGNOFF_NAMESPACE): Promise<string> {
  const manifest: Manifest = {
    election: "gate-1405",
    milestone: "T-0",
    inventoryCommit: r.commit,
    resultsSha256: r.sha256,
    verdict: "ready",
    time: SIGNED,
    ...changes,
  };
  const file = join(r.root, "approvals", `${name}.txt`);
  await writeFile(file, renderManifest(manifest));
  await exec("ssh-keygen", ["-Y", "sign", "-f", keys[key]?.path ?? "", "-n", namespace, file]);
  return file;
}

async function gate(r: Repo, ...extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = [
    "2027-02-25 05:00:00",
    process.execPath,
    join(repoRoot, "bin/amadegi.js"),
    "gate",
    "--milestone",
    "T-0",
    "--results",
    r.results,
    "--approvals",
    "approvals",
    "--no-history",
    "--no-cache",
    ...extra,
  ];
  try {
    const { stdout, stderr } = await exec("faketime", args, { cwd: r.root, env: { ...env, AMADEGI_STATE_DIR: join(r.root, ".amadegi") }, encoding: "utf8" });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Commit a new committee file on main (a member's own edit, reviewed or not: the gate sees what was merged). */
async function commitCommittee(r: Repo, lines: string[]): Promise<void> {
  await writeFile(join(r.root, "governance/committee.yaml"), COMMITTEE(lines));
  r.commit = await commitAll(r.root, "committee");
}

type Attack = readonly [name: string, act: (r: Repo) => Promise<unknown>, exit: 1 | 2, says: RegExp];

// Each attack starts from one valid approval (m-one's): the attacker needs a second.
const ATTACKS: Attack[] = [
  [
    "a member's key field carrying an outsider's key on a second line",
    async (r) => {
      await commitCommittee(r, [
        member("m-one", `"${keys["m-one"]?.pub ?? ""}\\nm-two namespaces=\\"${SIGNOFF_NAMESPACE}\\" ${keys.outsider?.pub ?? ""}"`),
        member("m-two"),
        member("m-three"),
      ]);
      await sign(r, "m-one");
      await sign(r, "outsider");
    },
    2,
    /governance\/committee\.yaml:2:\d+ not an SSH public key: a key is one line of printable text/,
  ],
  [
    "a member's key field with an outsider's key in its comment",
    async (r) => {
      await commitCommittee(r, [member("m-one", `${keys["m-one"]?.pub ?? ""} ${keys.outsider?.pub ?? ""}`), member("m-two"), member("m-three")]);
      await sign(r, "m-one");
      await sign(r, "outsider");
    },
    2,
    /governance\/committee\.yaml:2:\d+ .*the comment holds another key/,
  ],
  [
    "two members with one key (one person counted twice)",
    async (r) => {
      await commitCommittee(r, [member("m-one"), member("m-two", keys["m-one"]?.pub), member("m-three")]);
      await sign(r, "m-one");
      await sign(r, "m-one", {}, "again");
    },
    2,
    /governance\/committee\.yaml:3 member m-two's SSH key is the same as another member's/,
  ],
  [
    "a member id that would split an allowed_signers line",
    async (r) => {
      await commitCommittee(r, [member("m-one"), member('"m-x namespaces=\\"*\\""', keys.outsider?.pub), member("m-three")]);
      await sign(r, "m-one");
      await sign(r, "outsider");
    },
    2,
    /governance\/committee\.yaml:3:\d+/,
  ],
  [
    "a member's RSA key of 1024 bits",
    async (r) => {
      await commitCommittee(r, [member("m-one"), member("m-two", keys.weak?.pub), member("m-three")]);
      await sign(r, "m-one");
      await sign(r, "weak");
    },
    2,
    /governance\/committee\.yaml:3:\d+ .*an RSA key of 1024 bits is too weak/,
  ],
  [
    "an outsider added to the committee file without a commit",
    async (r) => {
      await sign(r, "m-one");
      await appendFile(join(r.root, "governance/committee.yaml"), `${member("m-four", keys.outsider?.pub)}\n`);
      await sign(r, "outsider");
    },
    2,
    /the files that decide the verdict differ from commit [0-9a-f]{12} \(HEAD\): governance\/committee\.yaml \(modified\)/,
  ],
  [
    "an outsider added to the committee on a branch never merged",
    async (r) => {
      await git(r.root, "checkout", "-q", "-b", "attack");
      await commitCommittee(r, [member("m-one"), member("m-two"), member("m-three"), member("m-four", keys.outsider?.pub)]);
      await sign(r, "m-one");
      await sign(r, "outsider");
    },
    1,
    /commit [0-9a-f]{12} is not on main: a sign-off approves only what was merged/,
  ],
  [
    "a quorum of one written into election.yaml without a commit",
    async (r) => {
      await sign(r, "m-one");
      await edit(r.root, "inventory/election.yaml", "signoff: { required: 2 }", "signoff: { required: 1 }");
    },
    2,
    /differ from commit [0-9a-f]{12} \(HEAD\): inventory\/election\.yaml \(modified\)/,
  ],
  [
    "a waiver added without a commit",
    async (r) => {
      await sign(r, "m-one");
      await writeFile(join(r.root, "inventory/waivers.yaml"), "waivers: []\n# accepted by no one\n");
    },
    2,
    /inventory\/waivers\.yaml \(modified\)/,
  ],
  [
    "a check catalog dropped in beside the inventory",
    async (r) => {
      await sign(r, "m-one");
      await mkdir(join(r.root, "checks"));
      await writeFile(join(r.root, "checks", "lenient.yaml"), "checks: []\n");
    },
    2,
    /checks\/lenient\.yaml \(not committed\)/,
  ],
  [
    "a district file hidden from git by .gitignore",
    async (r) => {
      await sign(r, "m-one");
      await sign(r, "m-two");
      await writeFile(join(r.root, ".gitignore"), "*.local.yaml\n");
      await rename(join(r.root, "inventory/districts/rey.yaml"), join(r.root, "inventory/districts/rey.local.yaml"));
    },
    1,
    new RegExp(
      /the inventory differs from commit [0-9a-f]{12}, which approvals name /.source +
        /\(inventory\/districts\/rey\.local\.yaml \(not committed\), inventory\/districts\/rey\.yaml \(deleted\)\)/.source,
    ),
  ],
  [
    "a member removed on main, signing an older commit from main's checkout",
    async (r) => {
      await commitCommittee(
        r,
        ["m-one", "m-two", "m-three", "outsider"].map((id) => member(id)),
      );
      const old = r.commit;
      await commitCommittee(
        r,
        ["m-one", "m-two", "m-three"].map((id) => member(id)),
      );
      await sign(r, "m-one", { inventoryCommit: old });
      await sign(r, "outsider", { inventoryCommit: old });
      return old;
    },
    2,
    /the files that decide the verdict differ from commit [0-9a-f]{12}: governance\/committee\.yaml \(modified\)/,
  ],
  [
    "a member removed on main, signing an older commit from its own checkout",
    async (r) => {
      await commitCommittee(
        r,
        ["m-one", "m-two", "m-three", "outsider"].map((id) => member(id)),
      );
      const old = r.commit;
      await commitCommittee(
        r,
        ["m-one", "m-two", "m-three"].map((id) => member(id)),
      );
      await git(r.root, "checkout", "-q", old);
      r.commit = old;
      await sign(r, "m-one");
      await sign(r, "outsider");
    },
    2,
    /governance\/committee\.yaml at commit [0-9a-f]{12} differs from main's \([0-9a-f]{12}\): the signers' keys come from main's committee file/,
  ],
  [
    "an outsider's signature",
    async (r) => {
      await sign(r, "m-one");
      await sign(r, "outsider");
    },
    1,
    /refused approvals\/outsider\.txt\.sig: unknown-key: signed with a key that is not in governance\/committee\.yaml/,
  ],
  [
    "one member's approval twice",
    async (r) => {
      await sign(r, "m-one");
      await sign(r, "m-one", {}, "m-one-again");
    },
    1,
    /sign-off: 1 of 2 required approvals \(committee of 3\): m-one/,
  ],
  [
    "a member's signature made for another purpose (git's namespace)",
    async (r) => {
      await sign(r, "m-one");
      await sign(r, "m-two", {}, "m-two", "git");
    },
    1,
    /bad-signature: the signature of m-two does not verify over this manifest under namespace amadegi-signoff/,
  ],
  [
    "a signed manifest with CRLF line ends",
    async (r) => {
      await sign(r, "m-one");
      const file = join(r.root, "approvals", "m-two.txt");
      await writeFile(
        file,
        renderManifest({
          election: "gate-1405",
          milestone: "T-0",
          inventoryCommit: r.commit,
          resultsSha256: r.sha256,
          verdict: "ready",
          time: SIGNED,
        }).replaceAll("\n", "\r\n"),
      );
      await exec("ssh-keygen", ["-Y", "sign", "-f", keys["m-two"]?.path ?? "", "-n", SIGNOFF_NAMESPACE, file]);
    },
    1,
    /refused approvals\/m-two\.txt\.sig: malformed: not an amadegi sign-off manifest/,
  ],
  [
    "an approval of another commit",
    async (r) => {
      await sign(r, "m-one");
      await sign(r, "m-two", { inventoryCommit: "c".repeat(40) });
    },
    1,
    /other-commit: m-two approved inventory commit cccccccccccc/,
  ],
  [
    "results changed after they were approved",
    async (r) => {
      await sign(r, "m-one");
      await sign(r, "m-two");
      await appendFile(r.results, "\n");
    },
    1,
    /other-results/,
  ],
  [
    "a signature that links to a device (the gate would read forever)",
    async (r) => {
      await sign(r, "m-one");
      await sign(r, "m-two");
      await rm(join(r.root, "approvals", "m-two.txt.sig"));
      await symlink("/dev/zero", join(r.root, "approvals", "m-two.txt.sig"));
    },
    1,
    /refused approvals\/m-two\.txt\.sig: malformed: the signature is a symbolic link/,
  ],
  [
    "a signature padded past any approval's size (64 KiB)",
    async (r) => {
      await sign(r, "m-one");
      await sign(r, "m-two");
      await appendFile(join(r.root, "approvals", "m-two.txt.sig"), "x".repeat(70 * 1024));
    },
    1,
    /refused approvals\/m-two\.txt\.sig: malformed: the signature is 7\d{4} bytes, more than an approval's 65536/,
  ],
  [
    "a signature file whose name writes a workflow command into the CI log",
    async (r) => {
      await sign(r, "m-one");
      const file = await sign(r, "m-two");
      await rename(`${file}.sig`, join(r.root, "approvals", "x\n::error::READY.sig"));
    },
    1,
    /malformed: a signature file named "x\\n::error::READY\.sig"/,
  ],
  [
    "--commit naming a branch's commit",
    async (r) => {
      await git(r.root, "checkout", "-q", "-b", "attack");
      await appendFile(join(r.root, "inventory/districts/rey.yaml"), "# a change\n");
      const branch = await commitAll(r.root, "branch");
      await git(r.root, "checkout", "-q", "main");
      await sign(r, "m-one", { inventoryCommit: branch });
      await sign(r, "m-two", { inventoryCommit: branch });
      return branch;
    },
    1,
    /the inventory differs from commit [0-9a-f]{12}, which approvals name \(inventory\/districts\/rey\.yaml \(modified\)\)/,
  ],
  [
    "--committee naming a file outside the repository",
    async (r) => {
      await sign(r, "m-one");
      await sign(r, "outsider");
      const outside = join(await tempDir(), "committee.yaml");
      await writeFile(outside, COMMITTEE([member("m-one"), member("m-two", keys.outsider?.pub), member("m-three")]));
      return ["--committee", outside];
    },
    2,
    /committee\.yaml is outside the repository .*: the gate judges only committed files/,
  ],
];

describe("verdict attacks through amadegi gate", () => {
  it("the untouched repository with two valid approvals is READY (so each refusal below is the attack's)", async () => {
    const r = await repo();
    await sign(r, "m-one");
    await sign(r, "m-two");
    const run = await gate(r);
    expect(run.stdout).toContain("READY: milestone T-0 (exit 0)");
    expect(run.code).toBe(0);
  });

  it.each(ATTACKS)("refuses %s", async (_name, act, exit, says) => {
    const r = await repo();
    const returned = await act(r);
    const extra = typeof returned === "string" ? ["--commit", returned] : Array.isArray(returned) ? (returned as string[]) : [];
    const run = await gate(r, ...extra);
    const text = `${run.stdout}\n${run.stderr}`;
    expect(text).not.toMatch(/^READY/m);
    expect(run.code).toBe(exit);
    expect(text).toMatch(says);
    // No stack trace, and nothing an attacker named reaches the log as a line of its own.
    expect(text).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    expect(text).not.toMatch(/^::/m);
  });
});
