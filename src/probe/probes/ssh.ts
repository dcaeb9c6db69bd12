import type { Socket } from "node:net";
import { assertAllowed } from "../allow.ts";
import { fingerprintOf } from "../../model/index.ts";
import type { Observation, Probe, ProbeContext, Target } from "../types.ts";
import { guardedConnect } from "./connect.ts";
import { attemptSignal, classify, failed, since } from "./observe.ts";
import { stringParam, type ProbeOptions } from "./options.ts";
import { readLine } from "./tcp.ts";
import { runTool } from "./spawn.ts";
import { UNTIMED_NICE } from "../spawner.ts";

/**
 * SSH: BANNER and HOST_KEY (SHA256 fingerprint, as `ssh-keygen -lf` prints
 * it), judged later by the catalog against the inventory's pinned key.
 *
 * Why two steps: the key exchange is left to OpenSSH's own `ssh-keyscan` (we
 * do not reimplement SSH), but ssh-keyscan says nothing about *why* it got no
 * key — refused, timed out and garbage all look the same. So the banner is
 * read first over our guarded socket, which classifies the connection
 * exactly; keyscan runs only against a peer that spoke SSH. The fingerprint
 * is computed in-process with the model's fingerprintOf (the algorithm
 * ssh-keygen uses; a test compares the two), which saves a second process.
 *
 * params.keyType (ed25519 | ecdsa | rsa) or the type of params.hostKey (the
 * pinned public key) chooses the key asked for; ed25519 by default.
 */
const MAX_PRELUDE_LINES = 5;
const KEYSCAN_TYPES: Readonly<Record<string, string>> = {
  "ssh-ed25519": "ed25519",
  "ecdsa-sha2-nistp256": "ecdsa",
  "ecdsa-sha2-nistp384": "ecdsa",
  "ecdsa-sha2-nistp521": "ecdsa",
  "ssh-rsa": "rsa",
};

export function sshProbe(options: ProbeOptions): Probe {
  const keyscan = options.ssh?.keyscan ?? ["ssh-keyscan"];
  return {
    kind: "ssh",
    async probe(target: Target, context: ProbeContext): Promise<Observation> {
      const port = target.port ?? 22;
      const pinnedType = stringParam(target, "hostKey")?.trim().split(/\s+/)[0];
      const keyType = stringParam(target, "keyType") ?? KEYSCAN_TYPES[pinnedType ?? ""] ?? "ed25519";
      const signal = attemptSignal(context);
      const start = performance.now();
      const where = `${target.address}:${port}`;
      let socket: Socket | undefined;
      let banner: string;
      let connect: number;
      try {
        socket = await guardedConnect({ key: target.key, address: target.address, port }, options.allow, signal);
        connect = since(start);
        banner = await readBanner(socket, signal);
      } catch (error) {
        const { failure, detail } = classify(error, signal);
        return failed(failure, `${where}: ${detail}`, { total: since(start) });
      } finally {
        socket?.destroy();
      }
      if (!banner.startsWith("SSH-")) {
        return failed(
          "protocol",
          `${where}: not an SSH server: it said ${JSON.stringify(banner.slice(0, 80))}`,
          { connect, total: since(start) },
          { BANNER: banner.slice(0, 255) },
        );
      }
      // The guard again, at the argv of the tool that sends: keyscan opens its own connection.
      assertAllowed(target.key, target.address, options.allow);
      const seconds = String(Math.max(1, Math.ceil((context.timeoutMs - (performance.now() - start)) / 1000)));
      const run = await runTool(
        [...keyscan, "-4", "-T", seconds, "-p", String(port), "-t", keyType, target.address],
        signal,
        65_536,
        "install openssh-client (ssh-keyscan)",
        options.spawner,
        // The key exchange times nothing: it yields the CPU to fping and the timed probes beside it.
        UNTIMED_NICE,
      );
      const line = run.stdout
        .toString("utf8")
        .split("\n")
        .find((l) => l !== "" && !l.startsWith("#"));
      const [, type, body] = line?.split(/\s+/) ?? [];
      const timings = { connect, total: since(start) };
      if (type === undefined || body === undefined) {
        if (run.killed || signal.aborted)
          return failed("timeout", `${where}: no ${keyType} host key within ${context.timeoutMs} ms`, timings, { BANNER: banner });
        return failed(
          "protocol",
          `${where}: the server offers no ${keyType} host key (${run.stderr.trim().split("\n")[0] ?? "ssh-keyscan said nothing"})`,
          timings,
          { BANNER: banner },
        );
      }
      return {
        ok: true,
        timings,
        values: { BANNER: banner, HOST_KEY: fingerprintOf(Buffer.from(body, "base64")), HOST_KEY_TYPE: type, HOST_KEY_PUBLIC: `${type} ${body}` },
      };
    },
  };
}

/**
 * RFC 4253 lets a server send lines before its identification, but only if
 * they keep coming: a peer that said one non-SSH line and went quiet is not
 * SSH, and waiting for more would turn "speaks another protocol" into a
 * timeout. So lines are read while they are already there, up to a few.
 */
function readBanner(socket: Socket, signal: AbortSignal): Promise<string> {
  return readLine(socket, signal, (line, more) => line.startsWith("SSH-") || !more, MAX_PRELUDE_LINES);
}
