import { AmadegiError } from "../lib/errors.ts";
import { type Member, signingKeys } from "../model/index.ts";
import { allowedSignersFile, signatureVerifier, type SignatureVerifier } from "../toolchain/sshsig.ts";

/**
 * Committee sign-off: a member approves exactly one thing — a milestone's
 * verdict on one set of results of one inventory commit, at one time — by
 * signing a canonical manifest with `ssh-keygen -Y sign` under the project's
 * own namespace. The gate verifies each signature against the committee file.
 */

/** The ssh-keygen namespace: a signature made for anything else never verifies here. */
export const SIGNOFF_NAMESPACE = "amadegi-signoff";
const HEADER = "amadegi sign-off v1";
const FIELDS = ["election", "milestone", "inventory-commit", "results-sha256", "verdict", "time"] as const;
export const VERDICTS = ["ready", "not-ready"] as const;

export interface Manifest {
  readonly election: string;
  readonly milestone: string;
  /** The git commit of the inventory the results were judged against. */
  readonly inventoryCommit: string;
  /** sha256 of the results file, hex. */
  readonly resultsSha256: string;
  readonly verdict: (typeof VERDICTS)[number];
  /** When the member signed, ISO 8601 UTC (to the second). */
  readonly time: string;
}

export class SignoffError extends AmadegiError {
  override readonly name = "SignoffError";
}

const key = (field: (typeof FIELDS)[number]): keyof Manifest =>
  field === "inventory-commit" ? "inventoryCommit" : field === "results-sha256" ? "resultsSha256" : field;

/** The exact bytes a member signs: fixed fields in a fixed order, one per line. */
export function renderManifest(m: Manifest): string {
  return `${HEADER}\n${FIELDS.map((f) => `${f}: ${m[key(f)]}`).join("\n")}\n`;
}

/** Parse a manifest strictly: any other byte layout is not a manifest the project wrote. */
export function parseManifest(text: string): Manifest {
  const lines = text.split("\n");
  if (lines[0] !== HEADER || lines.length !== FIELDS.length + 2 || lines.at(-1) !== "") {
    throw new SignoffError(`not an amadegi sign-off manifest (expected "${HEADER}" and ${FIELDS.length} fields)`, {
      hint: "create it with `amadegi approve --milestone ID --results FILE` and sign that file unchanged",
    });
  }
  const values: Record<string, string> = {};
  FIELDS.forEach((field, i) => {
    const line = lines[i + 1] ?? "";
    const prefix = `${field}: `;
    if (!line.startsWith(prefix)) throw new SignoffError(`manifest line ${i + 2} should start with "${prefix}"`);
    values[key(field)] = line.slice(prefix.length);
  });
  const verdict = values.verdict ?? "";
  if (!(VERDICTS as readonly string[]).includes(verdict)) throw new SignoffError(`manifest verdict "${verdict}" is not ready or not-ready`);
  if (!/^[0-9a-f]{64}$/.test(values.resultsSha256 ?? "")) throw new SignoffError("manifest results-sha256 is not 64 hex digits");
  if (!/^[0-9a-f]{40}$/.test(values.inventoryCommit ?? "")) throw new SignoffError("manifest inventory-commit is not a 40-hex git commit");
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(values.time ?? "")) throw new SignoffError("manifest time is not ISO 8601 UTC to the second");
  return values as unknown as Manifest;
}

/** The committee as an ssh allowed_signers file whose keys may sign only sign-offs (src/toolchain/sshsig.ts). */
export function allowedSigners(committee: readonly Member[]): string {
  try {
    return allowedSignersFile(signingKeys(committee), SIGNOFF_NAMESPACE);
  } catch (error) {
    throw new SignoffError(error instanceof Error ? error.message : String(error));
  }
}

export type ApprovalStatus =
  | "valid"
  | "bad-signature"
  | "unknown-key"
  | "other-election"
  | "other-milestone"
  | "other-results"
  | "other-commit"
  | "other-verdict"
  | "too-old"
  | "from-the-future"
  | "malformed";

export interface Approval {
  /** Where it came from, for messages (e.g. the signature's file name). */
  readonly source: string;
  readonly manifest: string;
  readonly signature: string;
}

export interface ApprovalCheck {
  readonly source: string;
  readonly status: ApprovalStatus;
  /** The committee member whose key made the signature, when one did. */
  readonly member?: string;
  readonly detail: string;
}

export interface Expectation {
  readonly election: string;
  readonly milestone: string;
  readonly inventoryCommit: string;
  readonly resultsSha256: string;
  /** When given, an approval of another verdict is refused (a member who approved "ready" did not approve "not-ready"). */
  readonly verdict?: Manifest["verdict"];
  /** An approval older than this is refused (no replay of an old approval). */
  readonly maxAgeMs: number;
  readonly now: Date;
}

/**
 * Check each approval: the signature must verify under our namespace with the
 * key of a committee member, and the manifest must approve exactly what is
 * being judged now. Returns one verdict per approval; never throws for a bad one.
 */
export async function checkApprovals(approvals: readonly Approval[], committee: readonly Member[], expected: Expectation): Promise<ApprovalCheck[]> {
  const verifier = await signatureVerifier(allowedSigners(committee), SIGNOFF_NAMESPACE);
  try {
    const checks: ApprovalCheck[] = [];
    for (const approval of approvals) checks.push(await checkOne(approval, verifier, expected));
    return checks;
  } finally {
    await verifier.close();
  }
}

async function checkOne(approval: Approval, verifier: SignatureVerifier, expected: Expectation): Promise<ApprovalCheck> {
  const { source } = approval;
  const signed = await verifier.verify(approval.manifest, approval.signature);
  if (signed.status === "unknown-key") {
    return { source, status: "unknown-key", detail: "signed with a key that is not in governance/committee.yaml" };
  }
  const member = signed.member;
  if (signed.status === "bad-signature") {
    return {
      source,
      member,
      status: "bad-signature",
      detail:
        `the signature of ${member} does not verify over this manifest under namespace ${SIGNOFF_NAMESPACE} ` +
        `(changed after signing, or signed for another purpose)`,
    };
  }
  let manifest: Manifest;
  try {
    manifest = parseManifest(approval.manifest);
  } catch (error) {
    return { source, member, status: "malformed", detail: error instanceof Error ? error.message : String(error) };
  }
  const mismatch = (status: ApprovalStatus, what: string, got: string, want: string): ApprovalCheck => ({
    source,
    member,
    status,
    detail: `${member} approved ${what} ${got}, not ${want}`,
  });
  if (manifest.election !== expected.election) return mismatch("other-election", "election", manifest.election, expected.election);
  if (manifest.milestone !== expected.milestone) return mismatch("other-milestone", "milestone", manifest.milestone, expected.milestone);
  if (manifest.resultsSha256 !== expected.resultsSha256)
    return mismatch("other-results", "results", manifest.resultsSha256.slice(0, 12), expected.resultsSha256.slice(0, 12));
  if (manifest.inventoryCommit !== expected.inventoryCommit)
    return mismatch("other-commit", "inventory commit", manifest.inventoryCommit.slice(0, 12), expected.inventoryCommit.slice(0, 12));
  if (expected.verdict !== undefined && manifest.verdict !== expected.verdict)
    return mismatch("other-verdict", "the verdict", manifest.verdict, expected.verdict);
  const age = expected.now.getTime() - Date.parse(manifest.time);
  if (age < -5 * 60_000) return { source, member, status: "from-the-future", detail: `${member} dated the approval ${manifest.time}, after now` };
  if (age > expected.maxAgeMs) {
    return {
      source,
      member,
      status: "too-old",
      detail: `${member}'s approval of ${manifest.time} is older than the milestone's maximum age (${Math.round(expected.maxAgeMs / 3_600_000)} h)`,
    };
  }
  return { source, member, status: "valid", detail: `${member} approved ${manifest.milestone} (${manifest.verdict}) at ${manifest.time}` };
}

/** Whether enough distinct members gave valid approvals. */
export function quorum(checks: readonly ApprovalCheck[], required: number): { met: boolean; members: string[] } {
  const members = [...new Set(checks.filter((c) => c.status === "valid" && c.member !== undefined).map((c) => c.member ?? ""))];
  return { met: members.length >= required, members };
}
