// remote.Command and remote.CopyToRemote of the unchanged @pulumi/command SDK, through the real
// engine and amadegi's stand-in provider, over OpenSSH to a throwaway sshd on 127.0.0.1 only.
import { execFileSync } from "node:child_process";
import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyScript } from "../../../src/toolchain/commandprovider/remote.ts";
import {
  closeSharedConnections,
  connectionFailure,
  connectionOf,
  CREDENTIALS_DIR,
  knownHostsLine,
  runSsh,
  sshArgs,
} from "../../../src/toolchain/commandprovider/ssh.ts";
import { ASSET_SIG, SIG_KEY } from "../../../src/toolchain/commandprovider/wire.ts";
import { inlineStack, pulumiHomeWithCommandProvider, throwawayEnv } from "../../helpers/engine.ts";
import { keygen, type Sshd, startSshd } from "../../helpers/sshd.ts";

const ENGINE_TIMEOUT = 180_000;
const LOOPBACK = "127.0.0.1";

let sandbox: Awaited<ReturnType<typeof throwawayEnv>>;
let home: string;
let sshd: Sshd;
let privateKey: string;
beforeAll(async () => {
  sandbox = await throwawayEnv();
  home = await pulumiHomeWithCommandProvider(sandbox.dir);
  sshd = await startSshd(LOOPBACK, ["AcceptEnv GREETING PULUMI_COMMAND_STDOUT PULUMI_COMMAND_STDERR"]);
  privateKey = await readFile(sshd.clientKeyFile, "utf8");
});
afterAll(async () => {
  await sshd.stop();
  await sandbox.cleanup();
});

const connection = (overrides: Record<string, unknown> = {}) => ({
  host: LOOPBACK,
  port: sshd.port,
  user: "root",
  privateKey: pulumi.secret(privateKey),
  hostKey: sshd.hostKey,
  ...overrides,
});

async function checkpoint(stackName: string): Promise<string> {
  return readFile(join(sandbox.dir, "pulumi", ".pulumi", "stacks", "amadegi-command-test", `${stackName}.json`), "utf8");
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe("ssh, alone", () => {
  it("pins the host key in its own known_hosts and never puts the private key on the command line", () => {
    const conn = connectionOf({ host: "h", port: 2222, user: "u", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----x", hostKey: "ssh-ed25519 AAAA c" });
    const args = sshArgs(conn, "/tmp/d", ["GREETING"], "uptime");
    expect(args.join(" ")).not.toContain("PRIVATE KEY");
    expect(args).toEqual(
      expect.arrayContaining(["StrictHostKeyChecking=yes", "UserKnownHostsFile=/tmp/d/target_known_hosts", "IdentityFile=/tmp/d/target_key"]),
    );
    expect(args).toEqual(expect.arrayContaining(["GlobalKnownHostsFile=/dev/null", "SendEnv=GREETING", "-F", "/dev/null"]));
    expect(args.slice(-3)).toEqual(["--", "h", "uptime"]);
    expect(knownHostsLine("amadegi-pinned-target", "ssh-ed25519 AAAA comment")).toBe("amadegi-pinned-target ssh-ed25519 AAAA\n");
  });

  it("refuses a connection without a host key before running anything", () => {
    expect(() => connectionOf({ host: "h" })).toThrow("connection.hostKey is not set for h: amadegi never connects to a server whose host key is not pinned");
  });

  it("runs a command on the loopback sshd and leaves no credentials behind", async () => {
    const before = (await readdir(tmpdir())).filter((f) => f.startsWith("amadegi-ssh-"));
    const conn = connectionOf({ host: LOOPBACK, port: sshd.port, user: "root", privateKey, hostKey: sshd.hostKey });
    const run = await runSsh(conn, "echo $GREETING; cat", { environment: { GREETING: "salam" }, stdin: "in" });
    expect(run).toMatchObject({ code: 0, stdout: "salam\nin" });
    // The shared connections' directory stays until they are closed (ADR 0020); a run's own is gone at once.
    await closeSharedConnections();
    expect((await readdir(tmpdir())).filter((f) => f.startsWith("amadegi-ssh-"))).toEqual(before);
  });

  it("writes a copy script that makes the parents of a text asset's path", async () => {
    const script = await copyScript({ [SIG_KEY]: ASSET_SIG, hash: "x", text: "hi" }, "/srv/a b/c.txt");
    expect(script).toContain("dest='/srv/a b/c.txt'");
    expect(script).toContain('mkdir -p -- "$(dirname -- "$dest")"');
    expect(script).toContain(`base64 -d > "$dest" <<'__AMADEGI_EOF__'\naGk=\n__AMADEGI_EOF__`);
  });
});

describe("ssh, one connection per server (ADR 0020)", () => {
  let shared: Sshd;
  let conn: ReturnType<typeof connectionOf>;
  const accepted = () => (shared.log().match(/Accepted publickey for root/g) ?? []).length;
  const ours = async () => (await readdir(tmpdir())).filter((f) => f.startsWith(`amadegi-ssh-${process.pid}-`));
  beforeAll(async () => {
    // Logs each login; refuses a seventh session in one connection (OpenSSH's default is 10).
    shared = await startSshd(LOOPBACK, ["LogLevel INFO", "MaxSessions 6", "AcceptEnv GREETING"]);
    conn = connectionOf({ host: LOOPBACK, port: shared.port, user: "root", privateKey: await readFile(shared.clientKeyFile, "utf8"), hostKey: shared.hostKey });
  });
  afterAll(async () => {
    await closeSharedConnections();
    await shared.stop();
  });

  it("twelve commands at once on one server: one login, each its own exit code, stdin, stdout and stderr, nothing from ssh itself", async () => {
    const runs = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        runSsh(conn, `read line; echo "$GREETING $line"; echo "err ${i}" >&2; exit ${i % 3}`, { environment: { GREETING: "salam" }, stdin: `in ${i}\n` }),
      ),
    );
    expect(runs.map((r) => [r.code, r.stdout, r.stderr])).toEqual(Array.from({ length: 12 }, (_, i) => [i % 3, `salam in ${i}\n`, `err ${i}\n`]));
    expect(accepted()).toBe(1);
    expect(await runSsh(conn, "echo again")).toMatchObject({ code: 0, stdout: "again\n" });
    expect(accepted()).toBe(1);
  });

  it("a command with another pin or another key never rides on the connection: refused as it would be alone", async () => {
    await runSsh(conn, "true");
    const before = accepted();
    const marker = join(shared.dir, "should-not-run");
    const wrongPin = await runSsh({ ...conn, hostKey: shared.otherHostKey }, `touch ${marker}`);
    expect(connectionFailure(conn, wrongPin)).toMatch(/host key is not the pinned connection\.hostKey/);
    const stranger = join(shared.dir, "stranger_ed25519");
    await keygen(stranger);
    const wrongKey = await runSsh({ ...conn, privateKey: await readFile(stranger, "utf8") }, `touch ${marker}`);
    expect(connectionFailure(conn, wrongKey)).toMatch(/the server refused the credentials/);
    expect(await exists(marker)).toBe(false);
    expect(accepted()).toBe(before);
  });

  it("closing ends every shared connection and removes their directory", async () => {
    await runSsh(conn, "true");
    const [dir] = await ours();
    expect(dir).toMatch(CREDENTIALS_DIR);
    const masters = () =>
      execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
        .split("\n")
        .filter((a) => a.includes(join(tmpdir(), dir ?? "none")));
    expect(masters().length).toBeGreaterThan(0);
    await closeSharedConnections();
    expect(await ours()).toEqual([]);
    expect(masters()).toEqual([]);
  });
});

describe("remote.Command through the real engine", () => {
  it(
    "creates, updates with the previous output and deletes over ssh, with environment and stdin, and keeps the key out of the state",
    async () => {
      const { remote } = await import("@pulumi/command");
      const dir = join(sandbox.dir, "remote-side");
      await mkdir(dir);
      let create = 'echo "$GREETING $(cat)"';
      const stack = await inlineStack(sandbox, home, "remote-lifecycle", async () => {
        const c = new remote.Command("hello", {
          connection: connection(),
          create,
          delete: `echo "deleted [$PULUMI_COMMAND_STDOUT]" > ${dir}/deleted`,
          environment: { GREETING: "salam" },
          stdin: "from stdin",
        });
        return { stdout: c.stdout, connection: c.connection };
      });
      const up = await stack.up({ color: "never" });
      expect(up.outputs.stdout).toEqual({ value: "salam from stdin", secret: false });
      expect(up.outputs.connection?.secret).toBe(true);
      expect(await checkpoint("remote-lifecycle")).not.toContain("PRIVATE KEY");

      create = 'echo "was [$PULUMI_COMMAND_STDOUT]"';
      expect((await stack.up({ color: "never" })).outputs.stdout?.value).toBe("was [salam from stdin]");

      await stack.destroy({ color: "never" });
      expect(await readFile(join(dir, "deleted"), "utf8")).toBe("deleted [was [salam from stdin]]\n");
    },
    ENGINE_TIMEOUT,
  );

  it(
    "reaches the server through a proxy, each with its own pinned key",
    async () => {
      const { remote } = await import("@pulumi/command");
      const stack = await inlineStack(sandbox, home, "remote-proxy", async () => {
        const proxy = { host: LOOPBACK, port: sshd.port, user: "root", privateKey: pulumi.secret(privateKey), hostKey: sshd.hostKey };
        return { stdout: new remote.Command("via", { connection: connection({ proxy }), create: "echo through" }).stdout };
      });
      expect((await stack.up({ color: "never" })).outputs.stdout?.value).toBe("through");
      await stack.destroy({ color: "never" });
      const marker = join(sandbox.dir, "wrong-proxy-ran");
      const wrong = await inlineStack(sandbox, home, "remote-proxy-wrong", async () => {
        const proxy = { host: LOOPBACK, port: sshd.port, user: "root", privateKey: pulumi.secret(privateKey), hostKey: sshd.otherHostKey };
        new remote.Command("via", { connection: connection({ proxy }), create: `touch ${marker}` });
      });
      await expect(wrong.up({ color: "never" })).rejects.toThrow(/Host key verification failed/);
      expect(await exists(marker)).toBe(false);
    },
    ENGINE_TIMEOUT,
  );

  it(
    "refuses a server whose host key is not the pinned one, and runs nothing",
    async () => {
      const { remote } = await import("@pulumi/command");
      const marker = join(sandbox.dir, "wrong-key-ran");
      const stack = await inlineStack(sandbox, home, "remote-wrong-key", async () => {
        new remote.Command("impostor", { connection: connection({ hostKey: sshd.otherHostKey }), create: `touch ${marker}` });
      });
      const failure = String(await stack.up({ color: "never" }).catch((e: unknown) => e));
      expect(failure).toContain(`ssh to root@${LOOPBACK}:${sshd.port}: the server's host key is not the pinned connection.hostKey`);
      expect(await exists(marker)).toBe(false);
    },
    ENGINE_TIMEOUT,
  );

  it(
    "refuses a connection without hostKey in the preview, before anything is sent",
    async () => {
      const { remote } = await import("@pulumi/command");
      // A listener that counts who connects: the refusal must come before any connection.
      let connections = 0;
      const listener: Server = createServer((s) => {
        connections++;
        s.destroy();
      });
      const port = await new Promise<number>((resolve) => listener.listen(0, LOOPBACK, () => resolve((listener.address() as { port: number }).port)));
      try {
        const stack = await inlineStack(sandbox, home, "remote-no-key", async () => {
          new remote.Command("unpinned", { connection: { host: LOOPBACK, port, privateKey: pulumi.secret(privateKey) }, create: "true" });
        });
        await expect(stack.preview({ color: "never" })).rejects.toThrow(
          /connection\.hostKey is not set: amadegi never connects to a server whose host key is not pinned/,
        );
        await expect(stack.up({ color: "never" })).rejects.toThrow(/connection\.hostKey is not set/);
        expect(connections).toBe(0);
      } finally {
        listener.close();
      }
    },
    ENGINE_TIMEOUT,
  );
});

describe("remote.CopyToRemote through the real engine", () => {
  it(
    "copies a StringAsset, a FileAsset and a directory archive (itself, or its contents after a /), sets no mode, copies again on change, deletes nothing",
    async () => {
      const { remote } = await import("@pulumi/command");
      const local = join(sandbox.dir, "to-copy");
      await mkdir(join(local, "conf", "sub"), { recursive: true });
      await writeFile(join(local, "conf", "a.txt"), "alpha\n");
      await writeFile(join(local, "conf", "sub", "b.bin"), Buffer.from([0, 1, 2, 255]));
      await writeFile(join(local, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
      await chmod(join(local, "run.sh"), 0o755);
      const target = join(sandbox.dir, "server");
      await mkdir(join(target, "bin"), { recursive: true });
      let text = "first\n";
      const stack = await inlineStack(sandbox, home, "copy", async () => {
        new remote.CopyToRemote("text", {
          connection: connection(),
          source: new pulumi.asset.StringAsset(text),
          remotePath: join(target, "etc", "deep", "t.txt"),
        });
        new remote.CopyToRemote("file", {
          connection: connection(),
          source: new pulumi.asset.FileAsset(join(local, "run.sh")),
          remotePath: join(target, "bin"),
        });
        new remote.CopyToRemote("tree", {
          connection: connection(),
          source: new pulumi.asset.FileArchive(join(local, "conf")),
          remotePath: join(target, "opt"),
        });
        // A role's archive (ADR 0012): the directory's contents into the server's root.
        new remote.CopyToRemote("contents", {
          connection: connection(),
          source: new pulumi.asset.FileArchive(`${join(local, "conf")}/`),
          remotePath: join(target, "root"),
        });
      });
      await stack.up({ color: "never" });
      expect(await readFile(join(target, "etc", "deep", "t.txt"), "utf8")).toBe("first\n");
      expect(await readFile(join(target, "opt", "conf", "a.txt"), "utf8")).toBe("alpha\n");
      expect([...(await readFile(join(target, "opt", "conf", "sub", "b.bin")))]).toEqual([0, 1, 2, 255]);
      expect(await readFile(join(target, "root", "a.txt"), "utf8")).toBe("alpha\n");
      expect([...(await readFile(join(target, "root", "sub", "b.bin")))]).toEqual([0, 1, 2, 255]);
      expect(await exists(join(target, "root", "conf"))).toBe(false);
      // Into the existing directory under its own name, with the server's default mode, not the source's.
      expect((await stat(join(target, "bin", "run.sh"))).mode & 0o777).toBe(0o644);
      expect(await checkpoint("copy")).not.toContain("PRIVATE KEY");

      text = "second\n";
      const updated = await stack.up({ color: "never" });
      expect(updated.summary.resourceChanges?.update).toBe(1);
      expect(await readFile(join(target, "etc", "deep", "t.txt"), "utf8")).toBe("second\n");

      await stack.destroy({ color: "never" });
      expect(await exists(join(target, "opt", "conf", "a.txt"))).toBe(true);
    },
    ENGINE_TIMEOUT,
  );

  it(
    "refuses a text asset aimed at a directory, naming it",
    async () => {
      const { remote } = await import("@pulumi/command");
      const dir = join(sandbox.dir, "a-directory");
      await mkdir(dir, { recursive: true });
      const stack = await inlineStack(sandbox, home, "copy-into-dir", async () => {
        new remote.CopyToRemote("text", { connection: connection(), source: new pulumi.asset.StringAsset("x"), remotePath: dir });
      });
      await expect(stack.up({ color: "never" })).rejects.toThrow(`remote path ${dir} is a directory; when using a text asset, remotePath must be a file path`);
    },
    ENGINE_TIMEOUT,
  );
});
