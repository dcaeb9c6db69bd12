import { ProbeError } from "../../lib/errors.ts";
import type { AllowList } from "../allow.ts";
import type { Spawner } from "../spawner.ts";
import type { Target } from "../types.ts";

/** What the probes need besides a target: the guard's ranges and the stack's tools and trust material. */
export interface ProbeOptions {
  /** probe.allow of the stack: required, there is no default that allows anything. */
  readonly allow: AllowList;
  /** Election CA bundle and client certificate used by tls/https unless a target's params name others. */
  readonly tls?: TlsFiles;
  readonly icmp?: IcmpOptions;
  readonly ssh?: SshOptions;
  /** Largest HTTP body kept, in bytes (default 65536); the rest is not read. */
  readonly maxBodyBytes?: number;
  /** Who starts the tools (fping, ssh-keyscan, ssh): a campaign's broker (spawner.ts); default: this process. */
  readonly spawner?: Spawner;
}

export interface TlsFiles {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
}

export interface IcmpOptions {
  /** argv that runs fping, e.g. ["ip", "netns", "exec", "amadegi-probe", "fping"] in the rehearsal. Default ["fping"]. */
  readonly command?: readonly string[];
  /** Echo requests per host (fping -C). Default 3. */
  readonly count?: number;
  /** Time between requests to one host, ms (fping -p). Default 100. */
  readonly periodMs?: number;
  /** Time between any two requests, ms (fping -i): the global send rate. Default 1. */
  readonly intervalMs?: number;
}

export interface SshOptions {
  /** argv prefix for ssh-keyscan. Default ["ssh-keyscan"]. */
  readonly keyscan?: readonly string[];
  /** argv prefix for ssh. Default ["ssh"]. */
  readonly ssh?: readonly string[];
  /** Private key the check-in reader logs in with. */
  readonly identityFile?: string;
  /** Login user for the check-in reader when the target does not name one. Default "amadegi". */
  readonly user?: string;
}

/** A catalog/campaign bug, not a fact about the target: thrown, naming the target and the field. */
export function requirePort(target: Target): number {
  if (target.port === undefined) {
    throw new ProbeError(`target ${target.key}: a ${target.kind} probe needs a port`, { hint: `give check ${target.check} a port in checks/` });
  }
  return target.port;
}

export function stringParam(target: Target, name: string): string | undefined {
  const value = target.params[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    throw new ProbeError(`target ${target.key}: param ${name} must be a string, got ${JSON.stringify(value)}`, {
      hint: `fix check ${target.check} in checks/`,
    });
  }
  return value;
}

export function numberParam(target: Target, name: string): number | undefined {
  const value = target.params[name];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ProbeError(`target ${target.key}: param ${name} must be a number, got ${JSON.stringify(value)}`, {
      hint: `fix check ${target.check} in checks/`,
    });
  }
  return value;
}
