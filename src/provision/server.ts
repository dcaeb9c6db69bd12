import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { provisionedRecord, type ProvisionedServer, type RoleRender } from "../model/render/index.ts";
import type { Server, Silence } from "../model/index.ts";
import type { PinnedHost } from "../toolchain/ssh.ts";
import { storedArchive } from "./assets.ts";
import { crlInstallScript, parseHashes, removeScript, roleScript, sha256, silencesScript } from "./scripts.ts";

/** A file the stack made (the PKI's): its place is known when the program runs, its content later. */
/** A server's connection as `@pulumi/command` takes it: the pinned host key, the login key's content a secret. */
export function commandConnection(host: PinnedHost, privateKey: pulumi.Output<string>): command.types.input.remote.ConnectionArgs {
  return { host: host.address, port: host.port, user: host.user, hostKey: host.hostKey, privateKey };
}

export interface IssuedFile {
  readonly path: string;
  readonly content: pulumi.Input<string>;
  readonly mode: number;
  /** A private key: it travels on the role command's stdin (a secret), never as an asset. */
  readonly secret?: boolean;
}

export interface CentralServerArgs {
  readonly server: Server;
  /** What the inventory declares the server runs, role by role (src/model/render). */
  readonly renders: readonly RoleRender[];
  /** How `@pulumi/command` reaches the server: address, user, the pinned host key, the login key (a secret). */
  readonly connection: command.types.input.remote.ConnectionArgs;
  /** "" in production; the server's root directory in the rehearsal. */
  readonly root: string;
  /** Where the copied files' contents are kept by hash, for the engine to read (`storedArchive`): the stack's, in the state directory. */
  readonly assets: string;
  /** Which build of the servers this is ("" in production; the rehearsal's generation). */
  readonly epoch: string;
  /** Extra files per role, made by the stack (the PKI's certificates and keys). */
  readonly issued?: Readonly<Record<string, readonly IssuedFile[]>>;
  /**
   * The devices' CRL (a gateway's, issue 17): besides the role's own copy of it (in `issued`, so
   * nginx starts with one), installed by a command of its own after the roles' commands, which
   * then has the daemons that read it re-read it (`refresh`): so a revocation reaches the server
   * without its roles' commands (`amadegi devices publish`, ADR 0008).
   */
  readonly crl?: { readonly path: string; readonly content: pulumi.Input<string>; readonly refresh: readonly string[] };
  /** A monitor's Alertmanager: the waivers' silences (`silencesOf`), made by a command of its own after the roles'. */
  readonly silences?: { readonly url: string; readonly silences: readonly Silence[] };
}

/**
 * One central server (ADR 0007): per role, one `remote.CopyToRemote` of its public files as an
 * archive (ADR 0012) and one `remote.Command` that checks them, writes the role's secret file from its stdin, starts the
 * role's services and reports what the server reads back; a change to one role touches that role
 * only. Resources are O(servers × roles), never O(stations): per-station data is in the rendered
 * files (ADR 0006).
 */
export class CentralServer extends pulumi.ComponentResource {
  /** What was provisioned, as drift reads it back from the stack's outputs. */
  public readonly provisioned: pulumi.Output<ProvisionedServer>;

  constructor(name: string, args: CentralServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("amadegi:central:Server", name, {}, opts);
    const roles: command.remote.Command[] = [];
    const reports = args.renders.map((render) => {
      const issued = args.issued?.[render.role] ?? [];
      const secrets = issued.filter((f) => f.secret === true);
      if (secrets.length > 1) throw new Error(`server ${name} (${render.role}): more than one secret file; a role's command has one stdin`);
      const secret = secrets[0];
      const files: readonly IssuedFile[] = [...issued.filter((f) => f.secret !== true), ...render.files];
      const contents = pulumi.all(files.map((f) => pulumi.output(f.content)));
      // One copy per role, of all its files (ADR 0012): the checkpoint, written whole after every resource's step, grows
      // with the resources; by path and hash, not by content (ADR 0010).
      const copy =
        files.length === 0
          ? undefined
          : new command.remote.CopyToRemote(
              `${name}-${render.role}-files`,
              {
                connection: args.connection,
                source: contents.apply((texts) =>
                  storedArchive(
                    args.assets,
                    files.map((f, i) => ({ path: f.path, content: texts[i] ?? "" })),
                  ),
                ),
                remotePath: args.root === "" ? "/" : args.root,
                // Servers built again empty (the rehearsal's new generation): copy again.
                triggers: [args.epoch],
              },
              { parent: this },
            );
      const copied = contents.apply((contents) => files.map((f, i) => ({ path: f.path, sha256: sha256(contents[i] ?? ""), mode: f.mode })));
      const start = render.services.map((s) => s.start);
      const stop = [...render.services].reverse().map((s) => s.stop);
      const where = { server: name, role: render.role, root: args.root, ...(secret === undefined ? {} : { secret: { path: secret.path, mode: secret.mode } }) };
      const role = new command.remote.Command(
        `${name}-${render.role}`,
        {
          connection: args.connection,
          create: copied.apply((list) => roleScript({ ...where, epoch: args.epoch, copied: list, start, stop })),
          delete: copied.apply((list) => removeScript({ ...where, copied: list, stop })),
          ...(secret === undefined ? {} : { stdin: pulumi.secret(secret.content) }),
          // Start commands' errors reach the engine's log; the hashes stay in the outputs.
          logging: "stderr",
        },
        // The old command's delete stops the services and removes the files: never after its successor wrote them.
        { parent: this, dependsOn: copy === undefined ? [] : [copy], deleteBeforeReplace: true },
      );
      roles.push(role);
      return role.stdout.apply((out) => parseHashes(out));
    });
    if (args.crl !== undefined) {
      // After the roles: their copy of the CRL started nginx with one, and their configuration is whole when it re-reads.
      const crl = new command.remote.Command(
        `${name}-crl`,
        {
          connection: args.connection,
          create: crlInstallScript(args.root, args.crl.path, args.crl.refresh),
          stdin: args.crl.content,
          // Servers built again empty (the rehearsal's new generation): install again.
          triggers: [args.epoch],
          logging: "stderr",
        },
        { parent: this, dependsOn: roles },
      );
      // Last: after a publication (only this command ran) the CRL the server reads back is this one.
      reports.push(crl.stdout.apply((out) => parseHashes(out)));
    }
    if (args.silences !== undefined) {
      // After the roles: Alertmanager runs. Again whenever a waiver's silence changes, or the servers were built again.
      new command.remote.Command(
        `${name}-silences`,
        {
          connection: args.connection,
          create: silencesScript(args.silences.url, args.silences.silences),
          triggers: [args.epoch, ...args.silences.silences.map((x) => x.tag)],
          logging: "stderr",
        },
        { parent: this, dependsOn: roles },
      );
    }
    this.provisioned = pulumi.unsecret(
      pulumi
        .all(reports)
        .apply((hashes) =>
          provisionedRecord(
            args.server.address,
            args.renders,
            Object.fromEntries(hashes.flatMap((h) => Object.entries(h)).sort(([a], [b]) => a.localeCompare(b))),
          ),
        ),
    );
    this.registerOutputs({ provisioned: this.provisioned });
  }
}
