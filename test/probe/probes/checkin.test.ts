// The check-in reader over a real sshd on 127.48.0.1: records, the cursor,
// a partial last line, rotation, and a gateway whose host key is not the pin.
import { appendFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProbeError } from "../../../src/lib/errors.ts";
import { parseAllow } from "../../../src/probe/allow.ts";
import { createProbes, parseRecord, type Probes } from "../../../src/probe/probes/index.ts";
import type { Target } from "../../../src/probe/types.ts";
import { behaviours, freePort, tcpListener } from "../../helpers/listeners.ts";
import { context, target } from "../../helpers/probe-target.ts";
import { startSshd, type Sshd } from "../../helpers/sshd.ts";

const FP_A = `SHA256:${"A".repeat(43)}`;
const FP_B = `SHA256:${"B".repeat(43)}`;

function record(over: Record<string, unknown>): string {
  return JSON.stringify({
    v: 1,
    time: "2026-11-21T20:00:00Z",
    serial: "DEV-0001",
    station: "PKD-0031",
    link: "PKD-0031-F",
    source: "10.20.3.4",
    gateway: "gw-teh-01",
    certFingerprint: FP_A,
    ...over,
  });
}

let sshd: Sshd;
let probes: Probes;
let log: string;
let gateway: Target;

beforeAll(async () => {
  sshd = await startSshd("127.48.0.1");
  log = join(sshd.dir, "checkin.jsonl");
  probes = createProbes({ allow: parseAllow(["127.48.0.0/16"], "test"), ssh: { identityFile: sshd.clientKeyFile, user: "root" } });
  gateway = target("checkin", sshd.address, sshd.port, { server: "gw-teh-01", params: { hostKey: sshd.hostKey, log } });
});
afterAll(async () => {
  await sshd.stop();
});

describe("check-in reader", () => {
  let first: Awaited<ReturnType<Probes["checkin"]["read"]>>;
  const lines = [
    record({}),
    record({ time: "2026-11-21T21:00:00Z", link: "PKD-0031-M", sourceLink: "PKD-0031-M", source: "10.120.7.8" }),
    "this is not json",
    record({ time: "2026-11-21T22:00:00Z" }),
  ];
  const complete = `${lines.join("\n")}\n`;
  const partial = record({ serial: "DEV-0002", station: "PKD-0032", link: "PKD-0032-F", certFingerprint: FP_B });

  it("reads the new records, skips a bad line with its offset, and stops before a partial line", async () => {
    await writeFile(log, complete + partial.slice(0, 40));
    first = await probes.checkin.read(gateway, undefined, context(10_000));
    expect(first.observation).toMatchObject({ ok: true, values: { CHECKIN_RECORDS: 3, CHECKIN_REJECTED: 1, CHECKIN_ROTATED: false, CHECKIN_MORE: true } });
    expect(first.records.map((r) => r.time)).toEqual(["2026-11-21T20:00:00Z", "2026-11-21T21:00:00Z", "2026-11-21T22:00:00Z"]);
    expect(first.cursor?.offset).toBe(Buffer.byteLength(complete));
    expect(first.rejected).toEqual({ count: 1, examples: [`byte ${Buffer.byteLength(`${lines[0]}\n${lines[1]}\n`)}: not JSON`] });
    // One observation per station and link: the latest record wins.
    expect([...first.observations.keys()].sort()).toEqual(["PKD-0031/PKD-0031-F", "PKD-0031/PKD-0031-M"]);
    expect(first.observations.get("PKD-0031/PKD-0031-F")?.values).toMatchObject({
      CHECKIN_AT: "2026-11-21T22:00:00Z",
      SERIAL: "DEV-0001",
      CERT_FINGERPRINT: FP_A,
      SOURCE: "10.20.3.4",
      GATEWAY: "gw-teh-01",
      LINK_REPORTED: "PKD-0031-F",
      LINK_CONSISTENT: true,
    });
    expect(first.observations.get("PKD-0031/PKD-0031-M")?.values).toMatchObject({ LINK_BY_SOURCE: "PKD-0031-M" });
    const age = first.observations.get("PKD-0031/PKD-0031-F")?.values.CHECKIN_AGE as number;
    expect(Math.abs(age - (Date.now() - Date.parse("2026-11-21T22:00:00Z")) / 3_600_000)).toBeLessThan(0.05);
  });

  it("continues from the cursor: only what was appended, the finished partial line included", async () => {
    await appendFile(log, `${partial.slice(40)}\n${record({ time: "2026-11-22T01:00:00Z", link: "PKD-0031-F", sourceLink: "PKD-0031-M" })}\n`);
    const next = await probes.checkin.read(gateway, first.cursor, context(10_000));
    expect(next.observation.values).toMatchObject({ CHECKIN_RECORDS: 2, CHECKIN_REJECTED: 0, CHECKIN_MORE: false, CHECKIN_ROTATED: false });
    expect(next.records.map((r) => r.serial)).toEqual(["DEV-0002", "DEV-0001"]);
    expect(next.cursor?.inode).toBe(first.cursor?.inode);
    expect(next.cursor?.offset).toBeGreaterThan(first.cursor?.offset ?? 0);
    // The gateway saw the connection come from the mobile pool while the device claimed fiber.
    expect(next.observations.get("PKD-0031/PKD-0031-M")?.values).toMatchObject({
      LINK_REPORTED: "PKD-0031-F",
      LINK_BY_SOURCE: "PKD-0031-M",
      LINK_CONSISTENT: false,
    });
    const again = await probes.checkin.read(gateway, next.cursor, context(10_000));
    expect(again.records).toEqual([]);
    expect(again.cursor).toEqual(next.cursor);
    first = again;
  });

  it("a rotated log (new inode) is read from its start", async () => {
    await writeFile(`${log}.new`, `${record({ station: "PKD-0040", link: "PKD-0040-F" })}\n`);
    await rename(`${log}.new`, log);
    const rotated = await probes.checkin.read(gateway, first.cursor, context(10_000));
    expect(rotated.observation.values).toMatchObject({ CHECKIN_ROTATED: true, CHECKIN_RECORDS: 1 });
    expect(rotated.records[0]?.station).toBe("PKD-0040");
    expect(rotated.cursor?.inode).not.toBe(first.cursor?.inode);
  });

  it("keeps rejected attempts apart (security events, never check-ins), by the link of their source, with the ones the recorder suppressed", async () => {
    const attempt = (over: Record<string, unknown>) =>
      JSON.stringify({
        v: 1,
        kind: "rejected",
        time: "2026-11-22T02:00:00Z",
        reason: "other-device",
        detail: "the client certificate is device DEV-0009's; station PKD-0031's device is DEV-0001",
        serial: "DEV-0009",
        claimedStation: "PKD-0031",
        station: "PKD-0031",
        sourceLink: "PKD-0031-F",
        source: "10.20.3.4",
        gateway: "gw-teh-01",
        certFingerprint: FP_B,
        ...over,
      });
    await writeFile(
      `${log}.new`,
      [
        record({ station: "PKD-0031", link: "PKD-0031-F" }),
        attempt({}),
        attempt({ time: "2026-11-22T02:01:00Z", suppressed: 4 }),
        attempt({ reason: "unlisted-source", station: undefined, sourceLink: undefined, source: "10.99.0.1" }),
        attempt({ reason: "made-up" }),
        "",
      ].join("\n"),
    );
    await rename(`${log}.new`, log);
    const read = await probes.checkin.read(gateway, undefined, context(10_000));
    expect(read.observation.values).toMatchObject({ CHECKIN_RECORDS: 1, CHECKIN_REJECTED: 1, CHECKIN_ATTEMPTS_REJECTED: 7 });
    expect(read.records.map((r) => r.serial)).toEqual(["DEV-0001"]);
    // An attempt line with a reason the reader does not know is neither: counted with the bad lines.
    expect(read.rejected.examples[0]).toMatch(/: link is missing or not a short string$/);
    expect(read.attempts.get("PKD-0031/PKD-0031-F")).toMatchObject({ count: 6, latest: { time: "2026-11-22T02:01:00Z", serial: "DEV-0009" } });
    expect(read.attempts.get("?/10.99.0.1")).toMatchObject({ count: 1, latest: { reason: "unlisted-source" } });
    first = read;
  });

  it("a gateway whose host key is not the pinned one is refused: assertion, nothing read, cursor kept", async () => {
    const impostor = { ...gateway, params: { ...gateway.params, hostKey: sshd.otherHostKey } };
    const result = await probes.checkin.read(impostor, first.cursor, context(10_000));
    expect(result.observation).toMatchObject({ ok: false, failure: "assertion", values: { HOST_KEY_VERIFIED: false } });
    expect(result.observation.detail).toContain("not the pinned one");
    expect(result.records).toEqual([]);
    expect(result.cursor).toBe(first.cursor);
  });

  it("no log on the gateway: protocol", async () => {
    const missing = { ...gateway, params: { ...gateway.params, log: join(sshd.dir, "no such.jsonl") } };
    const result = await probes.checkin.read(missing, undefined, context(10_000));
    expect(result.observation).toMatchObject({ ok: false, failure: "protocol" });
    expect(result.observation.detail).toContain("no check-in log at");
  });

  it("nothing listening on the SSH port: refused", async () => {
    const port = await freePort("127.48.0.2");
    const result = await probes.checkin.read({ ...gateway, address: "127.48.0.2", port }, undefined, context(5000));
    expect(result.observation).toMatchObject({ ok: false, failure: "refused" });
  });

  it("a gateway without a pinned key is not contacted", async () => {
    const unpinned = { ...gateway, params: { log } };
    await expect(probes.checkin.read(unpinned, undefined, context(5000))).rejects.toThrow("no pinned SSH host key");
  });

  it("outside probe.allow: refused before ssh is started", async () => {
    const outside = await tcpListener("127.148.0.1", behaviours.banner("SSH-2.0-Fake"));
    try {
      await expect(probes.checkin.read({ ...gateway, address: outside.address, port: outside.port }, undefined, context(5000))).rejects.toThrow(ProbeError);
      expect(outside.connections()).toBe(0);
    } finally {
      await outside.close();
    }
  });
});

describe("check-in records", () => {
  it.each([
    [record({}), "ok"],
    [record({ v: 2 }), "unknown format version 2 (expected 1)"],
    [record({ time: "yesterday" }), 'time "yesterday" is not an ISO 8601 time with a zone'],
    [record({ time: "2026-11-21T20:00:00" }), "is not an ISO 8601 time with a zone"],
    [record({ source: "10.20.3" }), 'source "10.20.3" is not an IPv4 address'],
    [record({ serial: "" }), "serial is missing or not a short string"],
    [record({ certFingerprint: "ab:cd" }), "certFingerprint is not SHA256:<43 base64 characters>"],
    ["[1,2]", "not a JSON object"],
    ["{", "not JSON"],
  ])("%s → %s", (line, expected) => {
    const result = parseRecord(line);
    if (expected === "ok") expect(result.ok).toBe(true);
    else expect(result.ok ? "ok" : result.reason).toContain(expected);
  });
});
