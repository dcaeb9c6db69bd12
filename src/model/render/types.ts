import type { AlertReceivers } from "../alerting.ts";
import type { Role } from "../types.ts";

/**
 * The contract between what the inventory declares a server should run
 * (renderers in this folder: pure functions, no I/O), what the stack
 * provisioned (its outputs) and what a server shows when asked over SSH
 * (facts). Drift (`amadegi drift`) compares the three (ADR 0006).
 */

/** Where a server's files go. */
export interface ServerTarget {
  /**
   * Prefix of every path on the server: "" in production; in the rehearsal the
   * server's own root directory (the pins overlay's `root`), since every
   * rehearsal server shares this machine's file system.
   */
  readonly root: string;
  readonly environment: "rehearsal" | "staging" | "production";
  /** The address the server's services listen on (its inventory address). */
  readonly address: string;
  /** A device-keys overlay (the rehearsal's devices make their own keys): serial → fingerprint, in place of the inventory's. */
  readonly deviceKeys?: ReadonlyMap<string, string>;
  /** Where the monitor role's Alertmanager posts notifications (the stack's `amadegi:alerting`). */
  readonly alerting?: AlertReceivers;
}

/** One file a role writes on a server. `path` is absolute as production sees it (no root prefix). */
export interface RenderedFile {
  readonly path: string;
  readonly content: string;
  /** Octal mode, e.g. 0o644. */
  readonly mode: number;
}

export interface Listen {
  readonly proto: "tcp" | "udp";
  readonly address: string;
  readonly port: number;
}

/** A service a role runs. Commands are POSIX sh, run on the server over SSH as the stack's user. */
export interface ServiceSpec {
  /** nginx, unbound, chronyd, prometheus, blackbox, checkin-recorder. */
  readonly name: string;
  /** After its files changed: start it, or reload it when running. Idempotent; non-zero exit = failed. */
  readonly start: string;
  /** Stop it (the role is removed). Idempotent. */
  readonly stop: string;
  /**
   * A daemon that reloads: re-read its files if it runs — check the configuration, then reload —
   * and nothing if it does not (a CRL published between ups, issue 17). Non-zero exit = failed.
   */
  readonly refresh?: string;
  /** Prints one line naming the running binary's version (facts). */
  readonly version: string;
  /** What must be listening once it runs (facts compare). */
  readonly listens: readonly Listen[];
}

/** What one role of one server is declared to be. */
export interface RoleRender {
  readonly server: string;
  readonly role: Role;
  readonly files: readonly RenderedFile[];
  readonly services: readonly ServiceSpec[];
  /** Station ids this server is configured for by this role (gateways: assigned stations), sorted. */
  readonly stations: readonly string[];
}

/** Files the PKI writes on a server (not rendered from the inventory: their content is generated). */
export interface IssuedFile {
  readonly path: string;
  readonly sha256: string;
}

/** What the stack provisioned, per server, as its outputs record it (`servers` output). */
export interface ProvisionedServer {
  readonly address: string;
  readonly roles: readonly string[];
  /** Path (production form) → sha256 hex of the content written. Includes PKI files. */
  readonly files: Readonly<Record<string, string>>;
  readonly services: readonly { readonly name: string; readonly listens: readonly Listen[] }[];
  /** sha256 hex of the sorted station ids joined by "\n" (empty string's hash when none). */
  readonly stationsHash: string;
  readonly stations: number;
}

export interface ProvisionedState {
  readonly stack: string;
  readonly servers: Readonly<Record<string, ProvisionedServer>>;
  /** When the devices' CRL the stack made stops being valid (its nextUpdate, ISO), if the stack made one (ADR 0008). */
  readonly crlNextUpdate?: string;
}

/** What a server showed when asked over SSH. */
export interface ServerFacts {
  readonly server: string;
  /** false: could not be asked (then `error` says why and the rest is empty). */
  readonly reachable: boolean;
  readonly error?: string;
  /** Path (production form) → sha256 hex, or null when the file is missing. */
  readonly files: Readonly<Record<string, string | null>>;
  readonly listening: readonly Listen[];
  /** Service name → the version line it printed (or null when the command failed). */
  readonly versions: Readonly<Record<string, string | null>>;
  /**
   * A monitor's silences in Alertmanager that amadegi made (their tags, `amadegi-waiver-…`), when asked;
   * `{ error }` when amtool could not list them.
   */
  readonly silences?: { readonly tags: readonly string[] } | { readonly error: string };
  /** ISO time the facts were collected. */
  readonly at: string;
}
