import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AmadegiError } from "../lib/errors.ts";
import { run } from "./inspect.ts";

/**
 * A committee member's signature over a document the project wrote (a
 * milestone's sign-off, a device's revocation): OpenSSH's `ssh-keygen -Y`
 * signatures, each kind under its own namespace, so a signature made for one
 * purpose never verifies for another. The one home of checking them
 * (readiness/signoff.ts and provision/revocation.ts are its users).
 */
export interface Signer {
  /** The member's id: the allowed_signers principal. */
  readonly id: string;
  /** The member's key as `type base64`, parsed (the model's `signingKeys`): no comment, nothing else. */
  readonly key: string;
}

export class SignatureError extends AmadegiError {
  override readonly name = "SignatureError";
}

const PRINCIPAL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const KEY = /^[a-z0-9@.-]{1,64} [A-Za-z0-9+/]{16,8192}={0,2}$/;

/**
 * The signers as an ssh allowed_signers file: each key may sign only under
 * `namespace`. Each line is built from the parsed key (type and body, never
 * the comment), one line per member: a field that smuggles a second key or a
 * line break in cannot add a signer (issue 13).
 */
export function allowedSignersFile(signers: readonly Signer[], namespace: string): string {
  const lines = signers.map((m) => {
    // The principal is the first field of the line: the model's id syntax, nothing that could split it.
    if (!PRINCIPAL.test(m.id)) throw new SignatureError(`committee member id ${JSON.stringify(m.id.slice(0, 40))} is not a plain id`);
    if (!KEY.test(m.key)) throw new SignatureError(`committee member ${m.id}: the key is not one SSH public key (type and base64 only)`);
    return `${m.id} namespaces="${namespace}" ${m.key}`;
  });
  return `${lines.join("\n")}\n`;
}

export type SignatureCheck =
  { readonly status: "valid"; readonly member: string } | { readonly status: "unknown-key" } | { readonly status: "bad-signature"; readonly member: string };

/** Verifies signatures against one allowed_signers file (written once, removed by `close`). */
export interface SignatureVerifier {
  verify(message: string, signature: string): Promise<SignatureCheck>;
  close(): Promise<void>;
}

/** A verifier for `namespace` over `signers`, an allowed_signers file as allowedSignersFile(…, namespace) makes it. */
export async function signatureVerifier(signers: string, namespace: string): Promise<SignatureVerifier> {
  const dir = await mkdtemp(join(tmpdir(), "amadegi-sshsig-"));
  const allowed = join(dir, "allowed_signers");
  await writeFile(allowed, signers);
  let n = 0;
  return {
    async verify(message, signature) {
      const sig = join(dir, `${n++}.sig`);
      await writeFile(sig, signature);
      const found = await run("ssh-keygen", ["-Y", "find-principals", "-s", sig, "-f", allowed]);
      const member = found.code === 0 ? found.stdout.trim().split("\n")[0] : undefined;
      if (member === undefined || member === "") return { status: "unknown-key" };
      const verified = await run("ssh-keygen", ["-Y", "verify", "-f", allowed, "-I", member, "-n", namespace, "-s", sig], { input: message });
      return verified.code === 0 ? { status: "valid", member } : { status: "bad-signature", member };
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
