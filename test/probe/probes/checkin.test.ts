// The check-in readers over a real sshd on 127.48.0.1: the table a campaign reads
// (the latest check-in and rejected attempts per link; one the real recorder wrote
// too), and the log a drill reads from a cursor (a partial last line, rotation);
// a gateway whose host key is not the pin, none listening, none pinned, outside the list.
import { appendFile, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { getPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProbeError } from "../../../src/lib/errors.ts";
import { parseAllow } from "../../../src/probe/allow.ts";
import { checkinLogReader } from "../../../src/probe/probes/checkin.ts";
import { createProbes, parseRecord, type Probes } from "../../../src/probe/probes/index.ts";
import type { Target } from "../../../src/probe/types.ts";
import { post, startRecorder, tokenSnippet, waitFor } from "../../helpers/checkin-recorder.ts";
import { behaviours, freePort, tcpListener } from "../../helpers/listeners.ts";
import { makePki } from "../../helpers/pki.ts";
import { context, target } from "../../helpers/probe-target.ts";
import { startSshd, type Sshd } from "../../helpers/sshd.ts";
import { notingNiceness } from "../../helpers/spawners.ts";
import { UNTIMED_NICE } from "../../../src/probe/spawner.ts";

const FP_A = `SHA256:${"A".repeat(43)}`;
const FP_B = `SHA256:${"B".repeat(43)}`;

function fields(over: Record<string, unknown>): Record<string, unknown> {
  return {
    v: 1,
    time: "2026-11-21T20:00:00Z",
    serial: "DEV-0001",
    station: "PKD-0031",
    link: "PKD-0031-F",
    source: "10.20.3.4",
    gateway: "gw-teh-01",
    certFingerprint: FP_A,
    ...over,
  };
}

function record(over: Record<string, unknown>): string {
  return JSON.stringify(fields(over));
}

function attempt(over: Record<string, unknown>): Record<string, unknown> {
  return {
    v: 1,
    kind: "rejected",
    time: new Date(Date.now() - 60_000).toISOString(),
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
  };
}

let sshd: Sshd;
let probes: Probes;
let log: string;
let table: string;
let gateway: Target;

beforeAll(async () => {
  sshd = await startSshd("127.48.0.1");
  log = join(sshd.dir, "checkin.jsonl");
  table = join(sshd.dir, "checkin-latest.json");
  probes = createProbes({ allow: parseAllow(["127.48.0.0/16"], "test"), ssh: { identityFile: sshd.clientKeyFile, user: "root" } });
  gateway = target("checkin", sshd.address, sshd.port, { server: "gw-teh-01", params: { hostKey: sshd.hostKey, table, log } });
});
afterAll(async () => {
  await sshd.stop();
});

describe("check-in reader (the table)", () => {
  const write = (doc: Record<string, unknown>) =>
    writeFile(table, `${JSON.stringify({ v: 1, kind: "checkin-table", gateway: "gw-teh-01", written: "2026-11-22T03:00:00.000Z", ...doc })}\n`);

  it("reads the latest check-in per station/link from the table, one observation each", async () => {
    await write({
      links: [
        { station: "PKD-0031", link: "PKD-0031-F", checkin: fields({ time: "2026-11-21T22:00:00Z", sourceLink: "PKD-0031-F", tlsVersion: "TLSv1.3" }) },
        // The gateway saw the connection come from the mobile pool while the device claimed fiber.
        { station: "PKD-0031", link: "PKD-0031-M", checkin: fields({ time: "2026-11-21T21:00:00Z", sourceLink: "PKD-0031-M", source: "10.120.7.8" }) },
      ],
    });
    const read = await probes.checkin.read(gateway, context(10_000));
    expect(read.observation).toMatchObject({
      ok: true,
      values: { CHECKIN_LINKS: 2, CHECKIN_REJECTED: 0, CHECKIN_ATTEMPTS_REJECTED: 0, CHECKIN_TABLE_AT: "2026-11-22T03:00:00.000Z" },
    });
    expect([...read.observations.keys()]).toEqual(["PKD-0031/PKD-0031-F", "PKD-0031/PKD-0031-M"]);
    expect(read.observations.get("PKD-0031/PKD-0031-F")?.values).toMatchObject({
      CHECKIN_AT: "2026-11-21T22:00:00Z",
      SERIAL: "DEV-0001",
      CERT_FINGERPRINT: FP_A,
      SOURCE: "10.20.3.4",
      GATEWAY: "gw-teh-01",
      LINK_REPORTED: "PKD-0031-F",
      LINK_BY_SOURCE: "PKD-0031-F",
      LINK_CONSISTENT: true,
      TLS_VERSION: "TLSv1.3",
    });
    expect(read.observations.get("PKD-0031/PKD-0031-M")?.values).toMatchObject({
      LINK_REPORTED: "PKD-0031-F",
      LINK_BY_SOURCE: "PKD-0031-M",
      LINK_CONSISTENT: false,
    });
    const age = read.observations.get("PKD-0031/PKD-0031-F")?.values.CHECKIN_AGE as number;
    expect(Math.abs(age - (Date.now() - Date.parse("2026-11-21T22:00:00Z")) / 3_600_000)).toBeLessThan(0.05);
  });

  it("keeps rejected attempts apart (security events, never check-ins): a day's per link and the unlisted sources' summary; bad entries counted", async () => {
    const old = new Date(Date.now() - 25 * 3_600_000).toISOString();
    await write({
      links: [
        { station: "PKD-0031", link: "PKD-0031-F", checkin: fields({ sourceLink: "PKD-0031-F" }), rejected: { count: 6, since: old, latest: attempt({}) } },
        {
          station: "PKD-0032",
          link: "PKD-0032-F",
          rejected: { count: 2, since: old, latest: attempt({ time: old, station: "PKD-0032", sourceLink: "PKD-0032-F" }) },
        },
        { station: "PKD-0033", link: "PKD-0033-F", checkin: fields({ station: "PKD-0031", sourceLink: "PKD-0031-F" }) },
        { station: "PKD-0034", link: "PKD-0034-F", checkin: fields({ station: "PKD-0034", sourceLink: "PKD-0034-F", time: "yesterday" }) },
        { station: "PKD-0035", link: "PKD-0035-F", rejected: { count: 1, since: old, latest: attempt({ reason: "made-up" }) } },
        "not an entry",
      ],
      unlisted: { count: 30, since: old, latest: attempt({ reason: "unlisted-source", station: undefined, sourceLink: undefined, source: "10.99.0.1" }) },
    });
    const read = await probes.checkin.read(gateway, context(10_000));
    expect(read.observation.values).toMatchObject({ CHECKIN_LINKS: 1, CHECKIN_REJECTED: 4, CHECKIN_ATTEMPTS_REJECTED: 36 });
    expect([...read.observations.keys()]).toEqual(["PKD-0031/PKD-0031-F"]);
    expect(read.attempts.get("PKD-0031/PKD-0031-F")).toMatchObject({ count: 6, latest: { reason: "other-device", serial: "DEV-0009" } });
    // The latest over a day old: not tonight's security event.
    expect(read.attempts.has("PKD-0032/PKD-0032-F")).toBe(false);
    expect(read.attempts.get("?/unlisted")).toMatchObject({ count: 30, latest: { reason: "unlisted-source", source: "10.99.0.1" } });
    expect(read.rejected.examples).toEqual([
      "links[2] (PKD-0033/PKD-0033-F): checkin is another link's",
      'links[3] (PKD-0034/PKD-0034-F): checkin: time "yesterday" is not an ISO 8601 time with a zone',
      'links[4] (PKD-0035/PKD-0035-F): rejected.latest: reason "made-up" is not one of unlisted-source, other-station, other-device, other-key, flood, revoked',
      "links[5]: station or link is missing",
    ]);
  });

  it("refuses a table that is not one, is another gateway's, or is larger than maxBytes: protocol, nothing read", async () => {
    await writeFile(table, "{ not json");
    expect((await probes.checkin.read(gateway, context(10_000))).observation).toMatchObject({
      ok: false,
      failure: "protocol",
      detail: expect.stringContaining("is not JSON"),
    });
    await write({ gateway: "gw-teh-02", links: [{ station: "PKD-0031", link: "PKD-0031-F", checkin: fields({ sourceLink: "PKD-0031-F" }) }] });
    const other = await probes.checkin.read(gateway, context(10_000));
    expect(other.observation).toMatchObject({ ok: false, failure: "protocol", detail: expect.stringContaining(`"gw-teh-02"'s, not gw-teh-01's`) });
    expect(other.observations.size).toBe(0);
    await write({ links: [{ station: "PKD-0031", link: "PKD-0031-F", checkin: fields({ sourceLink: "PKD-0031-F" }) }] });
    const small = { ...gateway, params: { ...gateway.params, maxBytes: 100 } };
    expect((await probes.checkin.read(small, context(10_000))).observation).toMatchObject({
      ok: false,
      detail: expect.stringContaining("larger than 100 bytes"),
    });
    expect((await probes.checkin.read(gateway, context(10_000))).observation.ok).toBe(true);
  });

  it("no table on the gateway (its recorder never ran): protocol, naming the path and where to look", async () => {
    const missing = { ...gateway, params: { ...gateway.params, table: join(sshd.dir, "no such.json") } };
    const result = await probes.checkin.read(missing, context(10_000));
    expect(result.observation).toMatchObject({ ok: false, failure: "protocol" });
    expect(result.observation.detail).toContain(`no check-in table at ${join(sshd.dir, "no such.json")} (its check-in recorder has not run`);
  });

  it("reads the table the real recorder wrote: every link's latest check-in and a flood at its link", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-t-checkin-table-"));
    const pki = await makePki("gw.reader");
    const token = "7".repeat(64);
    const links = {
      "10.41.0.3": { station: "PKD-0001", link: "PKD-0001-F", serial: "DEV-0001" },
      "10.141.0.2": { station: "PKD-0001", link: "PKD-0001-M", serial: "DEV-0001" },
    };
    const recorder = await startRecorder(dir, links, "gw-teh-01", "gw", { token: tokenSnippet(token), args: ["--burst", "2"] });
    try {
      const send = (source: string) =>
        post(recorder.socket, {
          "X-Amadegi-Token": token,
          "X-Client-Cert": encodeURIComponent(pki.client.cert.toString("utf8")),
          "X-Source-Address": source,
          "X-Amadegi-Station": "PKD-0001",
          "X-Amadegi-Link": "PKD-0001-F",
        });
      expect([(await send("10.41.0.3")).status, (await send("10.141.0.2")).status, (await send("10.141.0.2")).status]).toEqual([204, 204, 429]);
      await waitFor("the table", () => JSON.stringify(recorder.readTable()).includes('"flood"'));
      const at = { ...gateway, params: { ...gateway.params, table: recorder.table } };
      const read = await probes.checkin.read(at, context(10_000));
      expect(read.observation).toMatchObject({ ok: true, values: { CHECKIN_LINKS: 2, CHECKIN_REJECTED: 0, CHECKIN_ATTEMPTS_REJECTED: 1 } });
      expect(read.observations.get("PKD-0001/PKD-0001-M")?.values).toMatchObject({ SOURCE: "10.141.0.2", LINK_CONSISTENT: false, GATEWAY: "gw-teh-01" });
      expect(read.attempts.get("PKD-0001/PKD-0001-M")).toMatchObject({ count: 1, latest: { reason: "flood", serial: "DEV-0001" } });
    } finally {
      await recorder.stop();
      await pki.remove();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a gateway whose host key is not the pinned one is refused: assertion, nothing read", async () => {
    const impostor = { ...gateway, params: { ...gateway.params, hostKey: sshd.otherHostKey } };
    const result = await probes.checkin.read(impostor, context(10_000));
    expect(result.observation).toMatchObject({ ok: false, failure: "assertion", values: { HOST_KEY_VERIFIED: false } });
    expect(result.observation.detail).toContain("not the pinned one");
    expect(result.observations.size).toBe(0);
  });

  it("reads over curve25519, not the post-quantum exchange (the table goes into results in the clear); a gateway offering only that is read", async () => {
    const table = {
      v: 1,
      kind: "checkin-table",
      gateway: "gw-teh-01",
      written: "2026-11-22T03:00:00.000Z",
      links: [{ station: "PKD-0031", link: "PKD-0031-F", checkin: fields({ sourceLink: "PKD-0031-F" }) }],
    };
    for (const [config, expected] of [
      [["LogLevel DEBUG1"], "curve25519-sha256"],
      [["LogLevel DEBUG1", "KexAlgorithms sntrup761x25519-sha512@openssh.com"], "sntrup761x25519-sha512@openssh.com"],
    ] as const) {
      const server = await startSshd("127.48.0.3", config);
      try {
        const path = join(server.dir, "checkin-latest.json");
        await writeFile(path, `${JSON.stringify(table)}\n`);
        const own = createProbes({ allow: parseAllow(["127.48.0.0/16"], "test"), ssh: { identityFile: server.clientKeyFile, user: "root" } });
        const result = await own.checkin.read(
          target("checkin", server.address, server.port, { server: "gw-teh-01", params: { hostKey: server.hostKey, table: path } }),
          context(10_000),
        );
        expect(result.observation.ok, result.observation.detail).toBe(true);
        expect(result.observations.size).toBe(1);
        expect(/kex: algorithm: (\S+)/.exec(server.log())?.[1]).toBe(expected);
      } finally {
        await server.stop();
      }
    }
  });

  it("runs ssh at UNTIMED_NICE: a read times nothing, and yields the CPU to fping and the timed probes beside it", async () => {
    await write({ links: [] });
    const seen = new Map<string, number>();
    const own = createProbes({
      allow: parseAllow(["127.48.0.0/16"], "test"),
      ssh: { identityFile: sshd.clientKeyFile, user: "root" },
      spawner: notingNiceness(seen),
    });
    expect((await own.checkin.read(gateway, context(10_000))).observation.ok).toBe(true);
    expect(seen.get("ssh")).toBe(Math.max(UNTIMED_NICE, getPriority()));
  });

  it("nothing listening on the SSH port: refused", async () => {
    const port = await freePort("127.48.0.2");
    const result = await probes.checkin.read({ ...gateway, address: "127.48.0.2", port }, context(5000));
    expect(result.observation).toMatchObject({ ok: false, failure: "refused" });
  });

  it("a gateway without a pinned key is not contacted", async () => {
    const unpinned = { ...gateway, params: { table } };
    await expect(probes.checkin.read(unpinned, context(5000))).rejects.toThrow("no pinned SSH host key");
  });

  it("outside probe.allow: refused before ssh is started", async () => {
    const outside = await tcpListener("127.148.0.1", behaviours.banner("SSH-2.0-Fake"));
    try {
      await expect(probes.checkin.read({ ...gateway, address: outside.address, port: outside.port }, context(5000))).rejects.toThrow(ProbeError);
      expect(outside.connections()).toBe(0);
    } finally {
      await outside.close();
    }
  });
});

describe("check-in log reader (a drill's: the log from a cursor)", () => {
  const reader = () => checkinLogReader({ allow: parseAllow(["127.48.0.0/16"], "test"), ssh: { identityFile: sshd.clientKeyFile, user: "root" } });
  let first: Awaited<ReturnType<ReturnType<typeof checkinLogReader>["read"]>>;
  const lines = [
    record({}),
    record({ time: "2026-11-21T21:00:00Z", link: "PKD-0031-M", sourceLink: "PKD-0031-M", source: "10.120.7.8" }),
    "this is not json",
    JSON.stringify(attempt({})),
    record({ time: "2026-11-21T22:00:00Z" }),
  ];
  const complete = `${lines.join("\n")}\n`;
  const partial = record({ serial: "DEV-0002", station: "PKD-0032", link: "PKD-0032-F", certFingerprint: FP_B });

  it("reads the new records, skips a bad line and the rejected attempts, and stops before a partial line", async () => {
    await writeFile(log, complete + partial.slice(0, 40));
    first = await reader().read(gateway, undefined, context(10_000));
    expect(first.observation).toMatchObject({ ok: true, values: { CHECKIN_RECORDS: 3, CHECKIN_REJECTED: 1, CHECKIN_ROTATED: false, CHECKIN_MORE: true } });
    expect(first.records.map((r) => r.time)).toEqual(["2026-11-21T20:00:00Z", "2026-11-21T21:00:00Z", "2026-11-21T22:00:00Z"]);
    expect(first.cursor?.offset).toBe(Buffer.byteLength(complete));
  });

  it("continues from the cursor: only what was appended, the finished partial line included", async () => {
    await appendFile(log, `${partial.slice(40)}\n${record({ time: "2026-11-22T01:00:00Z", link: "PKD-0031-F", sourceLink: "PKD-0031-M" })}\n`);
    const next = await reader().read(gateway, first.cursor, context(10_000));
    expect(next.observation.values).toMatchObject({ CHECKIN_RECORDS: 2, CHECKIN_REJECTED: 0, CHECKIN_MORE: false, CHECKIN_ROTATED: false });
    expect(next.records.map((r) => r.serial)).toEqual(["DEV-0002", "DEV-0001"]);
    expect(next.cursor?.inode).toBe(first.cursor?.inode);
    expect(next.cursor?.offset).toBeGreaterThan(first.cursor?.offset ?? 0);
    const again = await reader().read(gateway, next.cursor, context(10_000));
    expect(again.records).toEqual([]);
    expect(again.cursor).toEqual(next.cursor);
    first = again;
  });

  it("a rotated log (new inode) is read from its start", async () => {
    await writeFile(`${log}.new`, `${record({ station: "PKD-0040", link: "PKD-0040-F" })}\n`);
    await rename(`${log}.new`, log);
    const rotated = await reader().read(gateway, first.cursor, context(10_000));
    expect(rotated.observation.values).toMatchObject({ CHECKIN_ROTATED: true, CHECKIN_RECORDS: 1 });
    expect(rotated.records[0]?.station).toBe("PKD-0040");
    expect(rotated.cursor?.inode).not.toBe(first.cursor?.inode);
  });

  it("no log on the gateway: protocol, the cursor kept", async () => {
    const missing = { ...gateway, params: { ...gateway.params, log: join(sshd.dir, "no such.jsonl") } };
    const result = await reader().read(missing, first.cursor, context(10_000));
    expect(result.observation).toMatchObject({ ok: false, failure: "protocol" });
    expect(result.observation.detail).toContain("no check-in log at");
    expect(result.cursor).toBe(first.cursor);
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
