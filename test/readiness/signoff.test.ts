// Sign-off with real ssh-keygen keys and signatures.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Member } from "../../src/model/index.ts";
import {
  type Approval,
  type Expectation,
  type Manifest,
  SIGNOFF_NAMESPACE,
  allowedSigners,
  checkApprovals,
  parseManifest,
  quorum,
  renderManifest,
} from "../../src/readiness/signoff.ts";

const exec = promisify(execFile);
let dir: string;
const keys: Record<string, string> = {};
let committee: Member[];

async function newKey(name: string): Promise<string> {
  const path = join(dir, name);
  await exec("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path]);
  keys[name] = path;
  return (await readFile(`${path}.pub`, "utf8")).trim();
}

function member(id: string, sshKey: string): Member {
  return { id, name: id, role: "member", level: "county", sshKey, origin: { file: "governance/committee.yaml", node: 0 } };
}

/** Sign as a person would: ssh-keygen -Y sign over the manifest file. */
async function sign(keyName: string, manifest: string, namespace = SIGNOFF_NAMESPACE): Promise<Approval> {
  const file = join(dir, `${keyName}-${Math.random().toString(36).slice(2)}.manifest`);
  await writeFile(file, manifest);
  await exec("ssh-keygen", ["-Y", "sign", "-f", keys[keyName] ?? "", "-n", namespace, file]);
  return { source: file, manifest, signature: await readFile(`${file}.sig`, "utf8") };
}

const now = new Date("2027-02-20T08:00:00Z");
const approved: Manifest = {
  election: "majles-1405-sample",
  milestone: "T-7",
  inventoryCommit: "0123456789abcdef0123456789abcdef01234567",
  resultsSha256: "a".repeat(64),
  verdict: "ready",
  time: "2027-02-20T06:30:00Z",
};
const expected: Expectation = {
  election: approved.election,
  milestone: approved.milestone,
  inventoryCommit: approved.inventoryCommit,
  resultsSha256: approved.resultsSha256,
  maxAgeMs: 24 * 3_600_000,
  now,
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-signoff-test-"));
  committee = [member("m-rahimi", await newKey("rahimi")), member("m-karimi", await newKey("karimi"))];
  await newKey("outsider");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("manifest", () => {
  it("renders fixed fields in a fixed order and parses back to the same", () => {
    const text = renderManifest(approved);
    expect(text).toBe(
      "amadegi sign-off v1\nelection: majles-1405-sample\nmilestone: T-7\ninventory-commit: 0123456789abcdef0123456789abcdef01234567\n" +
        `results-sha256: ${"a".repeat(64)}\nverdict: ready\ntime: 2027-02-20T06:30:00Z\n`,
    );
    expect(parseManifest(text)).toEqual(approved);
  });

  it.each([
    ["another header", (t: string) => t.replace("v1", "v2"), /not an amadegi sign-off manifest/],
    ["a field out of order", (t: string) => t.replace("election:", "electoin:"), /line 2 should start with "election: "/],
    ["an extra line", (t: string) => `${t}note: x\n`, /not an amadegi sign-off manifest/],
    ["a bad verdict", (t: string) => t.replace("verdict: ready", "verdict: ok"), /verdict "ok"/],
    ["a short digest", (t: string) => t.replace("a".repeat(64), "abc"), /results-sha256/],
  ])("refuses %s", (_, change, message) => {
    expect(() => parseManifest(change(renderManifest(approved)))).toThrow(message);
  });
});

describe("allowedSigners", () => {
  it("lets each member's key sign only under the project's namespace: one line per member, the key without its comment", () => {
    const [type, body] = (committee[0]?.sshKey ?? "").split(" ");
    const lines = allowedSigners(committee).trimEnd().split("\n");
    expect(lines[0]).toBe(`m-rahimi namespaces="${SIGNOFF_NAMESPACE}" ${type ?? ""} ${body ?? ""}`);
    expect(lines).toHaveLength(committee.length);
  });

  it("refuses a member whose key field smuggles in a second key or a line (it would add a signer), naming the member", () => {
    const [first, ...rest] = committee;
    if (first === undefined) throw new Error("fixture without members");
    const outsider = rest[0]?.sshKey ?? "";
    expect(() => allowedSigners([{ ...first, sshKey: `${first.sshKey}\n${outsider}` }, ...rest])).toThrow(
      /committee member m-rahimi: sshKey is not one SSH public key/,
    );
    expect(() => allowedSigners([{ ...first, id: 'm-x namespaces="*"' }])).toThrow(/is not a plain id/);
  });
});

describe("checkApprovals", () => {
  const check = async (approval: Approval, exp: Partial<Expectation> = {}) => (await checkApprovals([approval], committee, { ...expected, ...exp }))[0];

  it("accepts a member's signature over exactly what is judged", async () => {
    expect(await check(await sign("rahimi", renderManifest(approved)))).toEqual({
      source: expect.any(String),
      member: "m-rahimi",
      status: "valid",
      detail: "m-rahimi approved T-7 (ready) at 2027-02-20T06:30:00Z",
    });
  });

  it("refuses a key that is not in the committee file", async () => {
    expect((await check(await sign("outsider", renderManifest(approved))))?.status).toBe("unknown-key");
  });

  it("refuses a manifest changed after signing (tampered results)", async () => {
    const approval = await sign("karimi", renderManifest(approved));
    const tampered = { ...approval, manifest: renderManifest({ ...approved, resultsSha256: "b".repeat(64) }) };
    const result = await check(tampered);
    expect(result?.status).toBe("bad-signature");
    expect(result?.member).toBe("m-karimi");
  });

  it("refuses a signature made under another namespace", async () => {
    expect((await check(await sign("karimi", renderManifest(approved), "file")))?.status).toBe("bad-signature");
  });

  it("refuses an approval of another milestone", async () => {
    const result = await check(await sign("rahimi", renderManifest({ ...approved, milestone: "T-30" })));
    expect(result?.status).toBe("other-milestone");
    expect(result?.detail).toBe("m-rahimi approved milestone T-30, not T-7");
  });

  it("refuses an approval of other results (no replay on new results)", async () => {
    const result = await check(await sign("rahimi", renderManifest(approved)), { resultsSha256: "c".repeat(64) });
    expect(result?.status).toBe("other-results");
  });

  it("refuses an approval older than the milestone's maximum age, and accepts it just inside", async () => {
    const approval = await sign("rahimi", renderManifest(approved));
    expect((await check(approval, { now: new Date("2027-02-21T06:30:01Z") }))?.status).toBe("too-old");
    expect((await check(approval, { now: new Date("2027-02-21T06:30:00Z") }))?.status).toBe("valid");
  });
});

describe("quorum", () => {
  it("counts distinct members with valid approvals", async () => {
    const approvals = [
      await sign("rahimi", renderManifest(approved)),
      await sign("rahimi", renderManifest(approved)),
      await sign("outsider", renderManifest(approved)),
    ];
    const checks = await checkApprovals(approvals, committee, expected);
    expect(quorum(checks, 2)).toEqual({ met: false, members: ["m-rahimi"] });
    checks.push(...(await checkApprovals([await sign("karimi", renderManifest(approved))], committee, expected)));
    expect(quorum(checks, 2)).toEqual({ met: true, members: ["m-rahimi", "m-karimi"] });
  });
});
