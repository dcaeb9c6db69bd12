import * as pulumi from "@pulumi/pulumi";
import { provisionedRecord, type ProvisionedServer, type RoleRender } from "../model/render/index.ts";
import type { Server } from "../model/index.ts";
import { ServerFiles } from "./dynamic.ts";
import type { FileSpec } from "./remote/files.ts";
import type { Connection } from "./remote/ssh.ts";

export interface CentralServerArgs {
  readonly server: Server;
  /** What the inventory declares the server runs, role by role (src/model/render). */
  readonly renders: readonly RoleRender[];
  readonly connection: Connection;
  /** "" in production; the server's root directory in the rehearsal. */
  readonly root: string;
  /** Which build of the servers this is ("" in production; the rehearsal's generation). */
  readonly epoch: string;
  /** Extra files per role, made by the stack (the PKI's certificates and keys); secret where they must be. */
  readonly issued?: Readonly<Record<string, pulumi.Input<readonly FileSpec[]>>>;
}

/**
 * One central server: a `ServerFiles` resource per role (its files, then its
 * services started), so a change to one role's files touches that role only.
 * Resources are O(servers × roles), never O(stations): per-station data is in
 * the rendered files (ADR 0006).
 */
export class CentralServer extends pulumi.ComponentResource {
  /** What was provisioned, as drift reads it back from the stack's outputs. */
  public readonly provisioned: pulumi.Output<ProvisionedServer>;

  constructor(name: string, args: CentralServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("amadegi:central:Server", name, {}, opts);
    const roles = args.renders.map((render) => {
      const extra = args.issued?.[render.role] ?? [];
      return new ServerFiles(
        `${name}-${render.role}`,
        {
          server: args.server.id,
          role: render.role,
          connection: args.connection,
          root: args.root,
          epoch: args.epoch,
          files: pulumi.output(extra).apply((issued) => [...issued, ...render.files]),
          start: render.services.map((s) => s.start),
          stop: [...render.services].reverse().map((s) => s.stop),
        },
        { parent: this },
      );
    });
    this.provisioned = pulumi
      .all(roles.map((r) => r.hashes))
      .apply((hashes) =>
        provisionedRecord(
          args.server.address,
          args.renders,
          Object.fromEntries(hashes.flatMap((h) => Object.entries(h)).sort(([a], [b]) => a.localeCompare(b))),
        ),
      );
    this.registerOutputs({ provisioned: this.provisioned });
  }
}
