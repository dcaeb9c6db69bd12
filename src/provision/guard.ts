import { checkAllowed, parseAllow, parseCidr, parseIpv4 } from "../model/index.ts";
import { inNetns } from "../toolchain/netns.ts";

/**
 * The network-safety guard (docs/security.md). The inventory's addresses belong to a real
 * election network and are never sent a packet from the machine's own namespace: before the
 * program registers a server's resources, its address must lie in the ranges the stack declares
 * (`amadegi:probe.allow`) and, for a stack that lives in a namespace (the rehearsal), the program
 * must run inside it. In the program, the guard holds whichever command provider runs the
 * resources — Pulumi's or amadegi's stand-in.
 */
export interface Target {
  readonly host: string;
  /** CIDR ranges the stack may reach. */
  readonly allow: readonly string[];
  /** The network namespace the stack's engine must run in, if any. */
  readonly netns?: string;
}

/**
 * Refuse a target outside the stack's ranges, or a namespaced stack run from outside its namespace.
 * A preview (`sending: false`) connects to nothing, so it may run outside the namespace.
 */
export function guardTarget(server: string, target: Target, { sending = true }: { readonly sending?: boolean } = {}): void {
  if (parseIpv4(target.host) === undefined)
    throw new Error(`server ${server}: ${target.host} is not an IPv4 address; provisioning connects to inventory addresses only`);
  // Ranges that do not parse allow nothing here; the stack's settings report them where they are read.
  const ranges = target.allow.filter((text) => parseCidr(text).ok);
  if (!checkAllowed(target.host, parseAllow(ranges, "amadegi:probe.allow")))
    throw new Error(
      `server ${server}: ${target.host} is outside the ranges this stack may reach (${target.allow.join(", ")}); ` +
        `nothing was sent — fix amadegi:probe.allow or the inventory`,
    );
  if (sending && target.netns !== undefined && !inNetns(target.netns)) {
    throw new Error(
      `server ${server}: this stack's engine must run inside network namespace ${target.netns} (amadegi up re-runs itself there); nothing was sent`,
    );
  }
}
