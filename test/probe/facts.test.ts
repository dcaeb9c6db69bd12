// Facts over a real sshd on 127.51.0.1: real files under a server root (one
// changed by hand, one missing, one that is a directory), real listeners on
// loopback, version commands; a wrong pin, a refused port, an address outside
// the allow-list; and the strict parser against answers that are not framed.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProbeError } from "../../src/lib/errors.ts";
import { parseAllow } from "../../src/probe/allow.ts";
import { startSpawner } from "../../src/probe/spawner.ts";
import { collectAllFacts, collectFacts, factsScript, type FactsServer, listensOn, parseFacts, parseSsLine } from "../../src/probe/facts.ts";
import { startAlertmanager } from "../helpers/alertmanager.ts";
import { freePort } from "../helpers/listeners.ts";
import { startSshd, type Sshd } from "../helpers/sshd.ts";

const ADDRESS = "127.51.0.1";
const allow = parseAllow(["127.51.0.0/16"], "test");
const run = promisify(execFile);
const sha = (text: string) => createHash("sha256").update(text).digest("hex");

let sshd: Sshd;
let root: string;
let server: FactsServer;
let tcp: Server;
let udp: UdpSocket;
let tcpPort: number;
let udpPort: number;

const FILES = ["/etc/app/app.conf", "/etc/app/it's here.conf", "/etc/app/missing.conf"];
const SERVICES = [
  { name: "app", version: "echo 'app version 1.2.3'; echo second line" },
  { name: "stderr", version: "echo 'nginx version: nginx/1.22.1' >&2" },
  { name: "broken", version: "echo cannot; exit 3" },
  { name: "syntax", version: "echo ((" },
];

beforeAll(async () => {
  sshd = await startSshd(ADDRESS);
  root = await mkdtemp(join(tmpdir(), "amadegi-t-facts-"));
  await mkdir(join(root, "etc", "app"), { recursive: true });
  await writeFile(join(root, "etc/app/app.conf"), "listen 443;\n");
  await writeFile(join(root, "etc/app/it's here.conf"), "quoted\n");
  server = { id: "gw-a", address: sshd.address, port: sshd.port, user: "root", hostKey: sshd.hostKey, root };
  tcpPort = await freePort(ADDRESS);
  tcp = createServer((s) => s.end());
  await new Promise<void>((resolve) => tcp.listen(tcpPort, ADDRESS, resolve));
  udpPort = await freePort(ADDRESS);
  udp = createSocket("udp4");
  await new Promise<void>((resolve) => udp.bind(udpPort, ADDRESS, resolve));
});

afterAll(async () => {
  await new Promise((resolve) => tcp.close(resolve));
  await new Promise<void>((resolve) => udp.close(resolve));
  await sshd.stop();
  await rm(root, { recursive: true, force: true });
});

const options = () => ({ allow, identityFile: sshd.clientKeyFile, timeoutMs: 10_000 });

describe("collectFacts over a real sshd", () => {
  it("hashes the files under the server's root, null for a missing one; lists the listeners; one version line per service", async () => {
    const facts = await collectFacts(server, { files: FILES, services: SERVICES }, options());
    expect(facts.error).toBeUndefined();
    expect(facts.reachable).toBe(true);
    expect(facts.files).toEqual({
      "/etc/app/app.conf": sha("listen 443;\n"),
      "/etc/app/it's here.conf": sha("quoted\n"),
      "/etc/app/missing.conf": null,
    });
    // The listeners this test started, and sshd itself, on their loopback address.
    expect(facts.listening).toContainEqual({ proto: "tcp", address: ADDRESS, port: tcpPort });
    expect(facts.listening).toContainEqual({ proto: "udp", address: ADDRESS, port: udpPort });
    expect(facts.listening).toContainEqual({ proto: "tcp", address: ADDRESS, port: sshd.port });
    expect(facts.versions).toEqual({ app: "app version 1.2.3", stderr: "nginx version: nginx/1.22.1", broken: null, syntax: null });
    expect(Date.now() - Date.parse(facts.at)).toBeLessThan(60_000);
  });

  it("sees a file changed by hand, and one removed", async () => {
    await writeFile(join(root, "etc/app/app.conf"), "listen 8443; # changed by hand\n");
    await rm(join(root, "etc/app/it's here.conf"));
    const facts = await collectFacts(server, { files: FILES, services: [] }, options());
    expect(facts.files).toEqual({
      "/etc/app/app.conf": sha("listen 8443; # changed by hand\n"),
      "/etc/app/it's here.conf": null,
      "/etc/app/missing.conf": null,
    });
    expect(facts.versions).toEqual({});
  });

  it("sees a listener stop", async () => {
    const port = await freePort(ADDRESS);
    const extra = createServer();
    await new Promise<void>((resolve) => extra.listen(port, ADDRESS, resolve));
    const before = await collectFacts(server, { files: [], services: [] }, options());
    await new Promise((resolve) => extra.close(resolve));
    const after = await collectFacts(server, { files: [], services: [] }, options());
    expect(before.listening).toContainEqual({ proto: "tcp", address: ADDRESS, port });
    expect(after.listening).not.toContainEqual({ proto: "tcp", address: ADDRESS, port });
  });

  it("a path that exists but cannot be hashed (a directory) means the facts could not be collected", async () => {
    const facts = await collectFacts(server, { files: ["/etc/app"], services: [] }, options());
    expect(facts.reachable).toBe(false);
    expect(facts.error).toMatch(/cannot read 1 file the stack wrote: \/etc\/app: .*Is a directory/);
    expect(facts.files).toEqual({});
  });

  it("a server whose host key is not the pin: unreachable, nothing read", async () => {
    const facts = await collectFacts({ ...server, hostKey: sshd.otherHostKey }, { files: FILES, services: [] }, options());
    expect(facts).toMatchObject({ server: "gw-a", reachable: false, files: {}, listening: [], versions: {} });
    expect(facts.error).toMatch(/host key is not the pinned one/);
  });

  it("no pin: not contacted", async () => {
    const facts = await collectFacts({ ...server, hostKey: undefined }, { files: FILES, services: [] }, options());
    expect(facts.reachable).toBe(false);
    expect(facts.error).toMatch(/no pinned SSH host key; not contacted/);
  });

  it("a refused port: unreachable with ssh's reason", async () => {
    const port = await freePort(ADDRESS);
    const facts = await collectFacts({ ...server, port }, { files: [], services: [] }, options());
    expect(facts.reachable).toBe(false);
    expect(facts.error).toMatch(/Connection refused/);
  });

  it("an address outside the allow-list: refused before ssh runs", async () => {
    const facts = await collectFacts(
      { ...server, address: "127.52.9.9" },
      { files: [], services: [] },
      { ...options(), allow: parseAllow(["127.51.0.0/16"], "test allow") },
    );
    expect(facts.reachable).toBe(false);
    expect(facts.error).toMatch(/outside probe\.allow.*nothing was sent/);
  });

  it("many servers: each its own answer, in the order asked, a few at a time", async () => {
    const ids = ["s1", "s2", "s3", "s4", "s5"];
    const all = await collectAllFacts(
      ids.map((id, i) => ({
        server: { ...server, id, hostKey: i === 2 ? sshd.otherHostKey : sshd.hostKey },
        expected: { files: ["/etc/app/app.conf"], services: [] },
      })),
      { ...options(), concurrency: 2 },
    );
    expect(all.map((f) => [f.server, f.reachable])).toEqual([
      ["s1", true],
      ["s2", true],
      ["s3", false],
      ["s4", true],
      ["s5", true],
    ]);
  });

  it("with a broker, ssh is started by the broker, not by this process (whose spawns would fork all it holds)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-t-facts-ppid-"));
    const parents = join(dir, "parents");
    // ssh's parent, written down by a shell that then becomes ssh.
    const ssh = ["sh", "-c", 'echo "$PPID" >> "$0"; exec ssh "$@"', parents];
    const broker = await startSpawner();
    try {
      const requests = ["s1", "s2", "s3"].map((id) => ({ server: { ...server, id }, expected: { files: ["/etc/app/app.conf"], services: [] } }));
      const all = await collectAllFacts(requests, { ...options(), ssh, spawner: broker });
      // (Another test changes app.conf: its hash here is any.)
      expect(all.map((f) => [f.server, f.reachable, /^[0-9a-f]{64}$/.test(f.files["/etc/app/app.conf"] ?? "")])).toEqual([
        ["s1", true, true],
        ["s2", true, true],
        ["s3", true, true],
      ]);
      const pids = (await readFile(parents, "utf8")).trim().split("\n").map(Number);
      expect(pids).toHaveLength(3);
      expect(new Set(pids).size).toBe(1);
      expect(pids[0]).not.toBe(process.pid);
      // Without one, this process starts it.
      await collectAllFacts(requests.slice(0, 1), { ...options(), ssh });
      expect((await readFile(parents, "utf8")).trim().split("\n").map(Number).at(-1)).toBe(process.pid);
    } finally {
      await broker.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("collectFacts: a monitor's silences, read by amtool on the server", () => {
  it("lists the tags of amadegi's silences in its Alertmanager (others are not its own); an Alertmanager that does not answer is an error", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-t-facts-am-"));
    const am = await startAlertmanager(dir);
    try {
      const end = new Date(Date.now() + 86_400_000).toISOString();
      const add = async (comment: string, station: string) =>
        run("amtool", [
          `--alertmanager.url=${am.url}`,
          "silence",
          "add",
          "--author=t",
          `--comment=${comment}`,
          `--end=${end}`,
          "alertname=AmadegiLinkDown",
          `station=${station}`,
        ]);
      await add("amadegi-waiver-W-9-0123456789ab: redundancy.fixed-diversity on R-1", "R-1");
      await add("a technician's own silence", "R-2");
      const facts = await collectFacts(server, { files: [], services: [], silences: { url: am.url } }, options());
      expect(facts.error).toBeUndefined();
      expect(facts.silences).toEqual({ tags: ["amadegi-waiver-W-9-0123456789ab"] });
      await am.stop();
      const gone = await collectFacts(server, { files: [], services: [], silences: { url: am.url } }, options());
      expect(gone.reachable).toBe(true);
      expect(gone.silences).toMatchObject({ error: expect.stringMatching(new RegExp(`^amtool silence query at ${am.url} failed \\(exit \\d+\\): .+`)) });
    } finally {
      await am.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("parseFacts: strict", () => {
  const expected = { files: ["/a", "/b"], services: [{ name: "x", version: "x --version" }] };
  const good = (m: string) =>
    [
      `@${m} facts 1`,
      `F 0 ${"a".repeat(64)}`,
      "F 1 -",
      `@${m} ss`,
      "tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*",
      `@${m} ss-exit 0`,
      `@${m} version 0`,
      "x 1.0",
      `@${m} version-exit 0 0`,
      `@${m} end`,
      "",
    ].join("\n");

  it("reads a well-framed answer", () => {
    expect(parseFacts(good("n1"), expected, "n1")).toEqual({
      files: { "/a": "a".repeat(64), "/b": null },
      listening: [{ proto: "tcp", address: "0.0.0.0", port: 22 }],
      versions: { x: "x 1.0" },
    });
  });

  it.each([
    ["another marker", (t: string) => t.replaceAll("@n1", "@n2"), /expected "@… facts 1"/],
    ["a short hash", (t: string) => t.replace("a".repeat(64), "abc"), /sha256.*\/a/],
    ["files out of order", (t: string) => t.replace("F 1 -", "F 2 -"), /hash of file 1 \(\/b\)/],
    ["an ss line that is not a socket", (t: string) => t.replace("tcp LISTEN", "garbage"), /not a socket/],
    ["ss failed", (t: string) => t.replace("ss-exit 0", "ss-exit 1"), /ss -Hltnu failed/],
    ["a truncated answer", (t: string) => t.slice(0, t.indexOf("@n1 version 0")), /ended/],
    ["something after the end", (t: string) => `${t}extra\n`, /nothing after the end/],
    ["a missing version exit", (t: string) => t.replace("@n1 version-exit 0 0\n", ""), /exit code of x's version command/],
  ])("refuses %s", (_name, change, message) => {
    expect(() => parseFacts(change(good("n1")), expected, "n1")).toThrow(ProbeError);
    expect(() => parseFacts(change(good("n1")), expected, "n1")).toThrow(message);
  });

  it("reads a monitor's silences section: amadegi's tags, or amtool's failure; refuses a line that is no tag of amadegi's", () => {
    const withSilences = { ...expected, silences: { url: "http://10.0.0.9:9093" } };
    const answer = (m: string, body: string[], exit: number) =>
      good(m).replace(`@${m} end\n`, [`@${m} silences`, ...body, `@${m} silences-exit ${exit}`, `@${m} end`, ""].join("\n"));
    expect(parseFacts(answer("n1", ["amadegi-waiver-W-1-0123456789ab"], 0), withSilences, "n1").silences).toEqual({
      tags: ["amadegi-waiver-W-1-0123456789ab"],
    });
    expect(parseFacts(answer("n1", [], 0), withSilences, "n1").silences).toEqual({ tags: [] });
    expect(parseFacts(answer("n1", ["connection refused"], 1), withSilences, "n1").silences).toEqual({
      error: "amtool silence query at http://10.0.0.9:9093 failed (exit 1): connection refused",
    });
    expect(() => parseFacts(answer("n1", ["rm -rf /"], 0), withSilences, "n1")).toThrow(/not one of amadegi's/);
    // Asked for, not answered.
    expect(() => parseFacts(good("n1"), withSilences, "n1")).toThrow(/"@… silences"/);
  });

  it("reads ss's address forms", () => {
    expect(parseSsLine("tcp LISTEN 0 511 [::]:443 [::]:*")).toEqual({ proto: "tcp", address: "::", port: 443 });
    expect(parseSsLine("udp UNCONN 0 0 127.0.0.53%lo:53 0.0.0.0:*")).toEqual({ proto: "udp", address: "127.0.0.53", port: 53 });
    expect(parseSsLine("tcp LISTEN 0 511 *:80 *:*")).toEqual({ proto: "tcp", address: "*", port: 80 });
    expect(parseSsLine("tcp LISTEN 0 511 [fe80::1%eth0]:8080 [::]:*")).toEqual({ proto: "tcp", address: "fe80::1", port: 8080 });
    expect(parseSsLine("raw UNCONN 0 0 0.0.0.0:1 0.0.0.0:*")).toBeUndefined();
    expect(parseSsLine("tcp LISTEN 0 511 10.0.0.1:99999 0.0.0.0:*")).toBeUndefined();
  });

  it("a declared listen is served by its own address or a wildcard, same protocol and port", () => {
    const want = { proto: "tcp", address: "10.1.0.1", port: 443 } as const;
    expect(listensOn({ proto: "tcp", address: "10.1.0.1", port: 443 }, want)).toBe(true);
    expect(listensOn({ proto: "tcp", address: "0.0.0.0", port: 443 }, want)).toBe(true);
    expect(listensOn({ proto: "tcp", address: "*", port: 443 }, want)).toBe(true);
    expect(listensOn({ proto: "tcp", address: "10.1.0.2", port: 443 }, want)).toBe(false);
    expect(listensOn({ proto: "udp", address: "10.1.0.1", port: 443 }, want)).toBe(false);
    expect(listensOn({ proto: "tcp", address: "10.1.0.1", port: 444 }, want)).toBe(false);
  });

  it("the script names every path under the root, quoted", () => {
    const script = factsScript("/srv/r o'ot", { files: ["/etc/x"], services: [] }, "m");
    expect(script.startsWith("exec sh -c '")).toBe(true);
    expect(script).toContain("/srv/r o");
  });
});
