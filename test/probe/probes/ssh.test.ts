// The ssh probe against a real sshd on 127.47.0.1, and against listeners that
// are not SSH at all.
import { execFile } from "node:child_process";
import { getPriority } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProbeError } from "../../../src/lib/errors.ts";
import { parseAllow } from "../../../src/probe/allow.ts";
import { createProbes } from "../../../src/probe/probes/index.ts";
import { fingerprintOf } from "../../../src/model/sshkey.ts";
import { behaviours, freePort, tcpListener, type Listener } from "../../helpers/listeners.ts";
import { context, target } from "../../helpers/probe-target.ts";
import { startSshd, type Sshd } from "../../helpers/sshd.ts";
import { notingNiceness } from "../../helpers/spawners.ts";
import { UNTIMED_NICE } from "../../../src/probe/spawner.ts";

const run = promisify(execFile);
const probes = createProbes({ allow: parseAllow(["127.47.0.0/16"], "test") });
let sshd: Sshd;
const listeners: Listener[] = [];

beforeAll(async () => {
  sshd = await startSshd("127.47.0.1");
});
afterAll(async () => {
  await Promise.all(listeners.map((l) => l.close()));
  await sshd.stop();
});

async function listener(address: string, behave: Parameters<typeof tcpListener>[1]): Promise<Listener> {
  const l = await tcpListener(address, behave);
  listeners.push(l);
  return l;
}

describe("ssh probe", () => {
  it("reads the banner and the host key's fingerprint, as ssh-keygen -lf prints it", async () => {
    const o = await probes.ssh.probe(target("ssh", sshd.address, sshd.port), context(5000));
    expect(o.ok).toBe(true);
    expect(o.values.BANNER).toMatch(/^SSH-2\.0-OpenSSH_9\.\d/);
    expect(o.values.HOST_KEY_PUBLIC).toBe(sshd.hostKey);
    expect(o.values.HOST_KEY_TYPE).toBe("ssh-ed25519");
    const { stdout } = await run("ssh-keygen", ["-lf", join(sshd.dir, "host_ed25519.pub")]);
    expect(o.values.HOST_KEY).toBe(stdout.split(/\s+/)[1]);
    // And it is not the other key: the catalog's comparison with a wrong pin would fail.
    expect(o.values.HOST_KEY).not.toBe(fingerprintOf(Buffer.from(sshd.otherHostKey.split(" ")[1] ?? "", "base64")));
  });

  it("runs ssh-keyscan at UNTIMED_NICE: the key exchange times nothing, and yields the CPU to fping and the timed probes", async () => {
    const seen = new Map<string, number>();
    const own = createProbes({ allow: parseAllow(["127.47.0.0/16"], "test"), spawner: notingNiceness(seen) });
    const o = await own.ssh.probe(target("ssh", sshd.address, sshd.port), context(5000));
    expect(o.ok).toBe(true);
    expect(seen.get("ssh-keyscan")).toBe(Math.max(UNTIMED_NICE, getPriority()));
  });

  it("a peer that is not SSH: protocol, with what it said", async () => {
    const l = await listener("127.47.1.1", behaviours.banner("220 mail.example ESMTP"));
    const o = await probes.ssh.probe(target("ssh", l.address, l.port), context(2000));
    expect(o).toMatchObject({ ok: false, failure: "protocol", values: { BANNER: "220 mail.example ESMTP" } });
  });

  it("lines before the identification are allowed (RFC 4253) when they come together", async () => {
    const l = await listener("127.47.1.5", behaviours.banner("Welcome to the gateway\r\nSSH-2.0-Prelude_1.0"));
    const o = await probes.ssh.probe(target("ssh", l.address, l.port), context(1500));
    // The banner is read; the fake server then never does a key exchange: timeout, banner kept.
    expect(o).toMatchObject({ ok: false, failure: "timeout", values: { BANNER: "SSH-2.0-Prelude_1.0" } });
    expect(o.detail).toContain("no ed25519 host key within 1500 ms");
  });

  it("silent: timeout; reset: reset; nothing listening: refused", async () => {
    const silent = await listener("127.47.1.2", behaviours.silent);
    const reset = await listener("127.47.1.3", behaviours.reset);
    const port = await freePort("127.47.1.4");
    expect(await probes.ssh.probe(target("ssh", silent.address, silent.port), context(300))).toMatchObject({ ok: false, failure: "timeout" });
    expect(await probes.ssh.probe(target("ssh", reset.address, reset.port), context(2000))).toMatchObject({ ok: false, failure: "reset" });
    expect(await probes.ssh.probe(target("ssh", "127.47.1.4", port), context(2000))).toMatchObject({ ok: false, failure: "refused" });
  });

  it("outside probe.allow: refused before any packet", async () => {
    const outside = await listener("127.147.0.1", behaviours.banner("SSH-2.0-Fake"));
    await expect(probes.ssh.probe(target("ssh", outside.address, outside.port), context(1000))).rejects.toThrow(ProbeError);
    expect(outside.connections()).toBe(0);
  });
});
