// The device responder for real: a "core" namespace with a real nginx as two
// gateways (mutual TLS, the header contract of the gateway role) in front of
// two check-in recorders, and an "operator" namespace answering two link
// addresses of one station (ip route add local … dev lo), from which the
// responder checks in over each link. Then one link is cut (nftables), then
// the primary gateway. Every packet stays inside the two namespaces.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CheckinRecord, parseRecord } from "../../src/probe/probes/checkin-record.ts";
import { deviceLayout, ensureDeviceKeys } from "../../src/rehearsal/devices.ts";
import { type LinkEvent, type LinkStatus, readResponderStatus, type ResponderSpec, ROUTERS_BACKLOG } from "../../src/rehearsal/responder.ts";
import { RESPONDER } from "../../src/rehearsal/responders.ts";
import { stopChild } from "../helpers/children.ts";
import { type Recorder, startRecorder, waitFor } from "../helpers/checkin-recorder.ts";
import { createNetns, type Netns, netnsAvailable } from "../helpers/netns.ts";
import { issueDevices, makeTestCa } from "./device-ca.ts";

const run = promisify(execFile);
const available = process.getuid?.() === 0 && (await netnsAvailable()) && existsSync("/usr/sbin/nginx");

// Documentation ranges only (RFC 5737), and only inside the test's namespaces.
const GW_A = { id: "gw-a", address: "192.0.2.11" };
const GW_B = { id: "gw-b", address: "192.0.2.12" };
const FIBER = { id: "TST-0001-F", address: "198.51.100.2" };
const MOBILE = { id: "TST-0001-M", address: "198.51.100.3" };
const SERIAL = "DEV-TST-0001";
const STATION = "TST-0001";

let dir = "";
let core: Netns;
let op: Netns;
let nginx: ChildProcess | undefined;
let responder: ChildProcess | undefined;
const recorders: Recorder[] = [];
let spec: ResponderSpec;
let fingerprint = "";

async function must(ns: Netns, argv: readonly string[], input?: string): Promise<string> {
  const result = await ns.exec(argv, input);
  if (result.code !== 0) throw new Error(`${argv.join(" ")} in ${ns.name}: ${result.stderr}`);
  return result.stdout;
}

function nginxConf(ca: string, gateways: readonly { address: string; cert: string; key: string; socket: string }[]): string {
  return [
    "worker_processes 1;",
    // Workers run as root here: the recorders' sockets are root's, mode 0660.
    "user root;",
    "daemon off;",
    `pid ${join(dir, "nginx.pid")};`,
    `error_log ${join(dir, "nginx-error.log")} info;`,
    "events { worker_connections 256; }",
    "http {",
    "  access_log off;",
    ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${join(dir, "nginx-tmp", t)};`),
    ...gateways.flatMap((g) => [
      "  server {",
      `    listen ${g.address}:443 ssl;`,
      `    ssl_certificate ${g.cert};`,
      `    ssl_certificate_key ${g.key};`,
      `    ssl_client_certificate ${ca};`,
      "    ssl_verify_client on;",
      "    ssl_protocols TLSv1.2 TLSv1.3;",
      "    location = /checkin {",
      `      proxy_pass http://unix:${g.socket}:/checkin;`,
      "      proxy_set_header X-Client-Cert $ssl_client_escaped_cert;",
      "      proxy_set_header X-Source-Address $remote_addr;",
      "      proxy_set_header X-TLS-Protocol $ssl_protocol;",
      "    }",
      "  }",
    ]),
    "}",
    "",
  ].join("\n");
}

function records(recorder: Recorder): CheckinRecord[] {
  return recorder.lines().map((l) => {
    const parsed = parseRecord(JSON.stringify(l));
    if (!parsed.ok) throw new Error(`not a record: ${JSON.stringify(l)}: ${parsed.reason}`);
    return parsed.record;
  });
}

function after(list: readonly CheckinRecord[], link: string, since: number): CheckinRecord[] {
  return list.filter((r) => r.sourceLink === link && Date.parse(r.time) >= since);
}

function status(link: string): LinkStatus | undefined {
  return readResponderStatus(spec.status)?.links.find((l) => l.link === link);
}

function events(): LinkEvent[] {
  return existsSync(spec.events)
    ? readFileSync(spec.events, "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as LinkEvent)
    : [];
}

async function nft(ruleset: string): Promise<void> {
  await must(op, ["nft", "-f", "-"], ruleset);
}

describe.skipIf(!available)("device responder (root, namespaces, a real nginx and recorders)", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "amadegi-t-responder-"));
    core = await createNetns("dcore");
    op = await createNetns("dop");
    // One veth, created in the core with its peer put straight into the operator's namespace.
    await run("ip", ["-n", core.name, "link", "add", "op0", "type", "veth", "peer", "name", "core0", "netns", op.name]);
    await must(
      core,
      ["ip", "-batch", "-"],
      [
        `address add ${GW_A.address}/32 dev lo`,
        `address add ${GW_B.address}/32 dev lo`,
        "address add 203.0.113.0/31 dev op0",
        "link set op0 up",
        "route add 198.51.100.0/24 via 203.0.113.1 dev op0",
        "",
      ].join("\n"),
    );
    await must(
      op,
      ["ip", "-batch", "-"],
      [
        "address add 203.0.113.1/31 dev core0",
        "link set core0 up",
        "route add 192.0.2.0/24 via 203.0.113.0 dev core0",
        // The station's link addresses are local here, as in the rehearsal's operator namespaces.
        "route add local 198.51.100.2/31 dev lo",
        "",
      ].join("\n"),
    );

    const state = join(dir, "state");
    const layout = deviceLayout(state);
    await ensureDeviceKeys(state, [SERIAL]);
    const ca = await makeTestCa(join(dir, "ca"));
    await issueDevices(ca, layout.dir, [SERIAL]);
    const { stdout } = await run("sh", ["-c", `openssl pkey -in "${layout.key(SERIAL)}" -pubout -outform DER | openssl dgst -sha256 -binary | base64`]);
    fingerprint = `SHA256:${stdout.trim().replace(/=+$/, "")}`;

    const links = { [FIBER.address]: { station: STATION, link: FIBER.id }, [MOBILE.address]: { station: STATION, link: MOBILE.id } };
    const gateways = [];
    for (const gw of [GW_A, GW_B]) {
      const recorder = await startRecorder(dir, links, gw.id, gw.id);
      recorders.push(recorder);
      gateways.push({ address: gw.address, ...(await ca.gateway(gw.id, gw.address)), socket: recorder.socket });
    }
    for (const t of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) await mkdir(join(dir, "nginx-tmp", t), { recursive: true });
    await writeFile(join(dir, "nginx.conf"), nginxConf(layout.ca, gateways));
    nginx = spawn("ip", ["netns", "exec", core.name, "/usr/sbin/nginx", "-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "nginx-error.log")], {
      stdio: "ignore",
    });
    const until = Date.now() + 10_000;
    for (;;) {
      const listening = await must(core, ["ss", "-Hltn"]);
      if (listening.includes(`${GW_A.address}:443`) && listening.includes(`${GW_B.address}:443`)) break;
      if (Date.now() > until) throw new Error(`nginx does not listen: ${readFileSync(join(dir, "nginx-error.log"), "utf8")}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    await mkdir(layout.run, { recursive: true });
    spec = {
      version: 1,
      operator: "testop",
      ca: layout.ca,
      status: join(layout.run, "testop.status.jsonl"),
      events: join(layout.run, "testop.events.jsonl"),
      intervalMs: 400,
      jitter: 0.2,
      maxInFlight: 4,
      timeoutMs: 800,
      statusEveryMs: 100,
      gateways: [
        { ...GW_A, port: 443 },
        { ...GW_B, port: 443 },
      ],
      devices: [{ serial: SERIAL, station: STATION, key: layout.key(SERIAL), cert: layout.cert(SERIAL), gateways: [GW_A.id, GW_B.id], links: [FIBER, MOBILE] }],
    };
    const specFile = join(layout.run, "testop.json");
    await writeFile(specFile, JSON.stringify(spec));
    responder = spawn("ip", ["netns", "exec", op.name, process.execPath, RESPONDER, specFile], { stdio: ["ignore", "ignore", "pipe"] });
    responder.stderr?.on("data", () => undefined);
  }, 60_000);

  afterAll(async () => {
    responder?.kill("SIGKILL");
    if (nginx !== undefined) await stopChild(nginx);
    for (const r of recorders) await r.stop();
    await op?.remove();
    await core?.remove();
    await rm(dir, { recursive: true, force: true });
  });

  it("its routers' port keeps a deep accept queue: a campaign's SYNs are not dropped while the loop makes check-ins", async () => {
    // ss shows a listening socket's backlog as its Send-Q; node's default would be 511.
    let listening = "";
    for (let i = 0; i < 50 && !listening.includes(":22 "); i++) {
      listening = (await run("ip", ["netns", "exec", op.name, "ss", "-Hltn", "sport = :22"], { encoding: "utf8" })).stdout;
      if (!listening.includes(":22 ")) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(listening.trim().split(/\s+/).slice(0, 3)).toEqual(["LISTEN", "0", String(ROUTERS_BACKLOG)]);
    expect(ROUTERS_BACKLOG).toBeGreaterThan(511);
  });

  it("checks in over both links, each from its own address, through nginx's mutual TLS, into the primary's log", async () => {
    const [primary] = recorders;
    if (primary === undefined) throw new Error("no recorder");
    await waitFor(
      "two check-ins over each link at the primary",
      () => {
        const list = records(primary);
        return after(list, FIBER.id, 0).length >= 2 && after(list, MOBILE.id, 0).length >= 2;
      },
      15_000,
    );
    for (const link of [FIBER, MOBILE]) {
      const record = after(records(primary), link.id, 0)[0];
      expect(record).toEqual({
        v: 1,
        time: record?.time,
        serial: SERIAL,
        station: STATION,
        link: link.id,
        sourceLink: link.id,
        source: link.address,
        gateway: GW_A.id,
        certFingerprint: fingerprint,
        tlsVersion: "TLSv1.3",
      });
    }
    await waitFor("the status file", () => status(FIBER.id)?.state === "ok" && status(MOBILE.id)?.state === "ok");
    expect(status(FIBER.id)?.last).toMatchObject({ ok: true, gateway: GW_A.id, status: 204 });
    expect(readResponderStatus(spec.status)?.header).toMatchObject({ type: "responder", operator: "testop", links: 2, stopped: false });
    expect(
      events()
        .filter((e) => e.event === "ok")
        .map((e) => e.link)
        .sort(),
    ).toEqual([FIBER.id, MOBILE.id]);
    // Nothing reached the secondary while the primary answered.
    expect(recorders[1]?.lines()).toEqual([]);
  }, 30_000);

  it("a cut link stops checking in while the other goes on", async () => {
    const [primary] = recorders;
    if (primary === undefined) throw new Error("no recorder");
    await nft(`table ip cut {\n  chain output {\n    type filter hook output priority 0;\n    ip saddr ${MOBILE.address} drop\n  }\n}\n`);
    const cut = Date.now();
    // A check-in already past its handshake may still land just after the cut.
    const settled = cut + 1_000;
    await waitFor("three fiber check-ins after the cut", () => after(records(primary), FIBER.id, settled).length >= 3, 15_000);
    expect(after(records(primary), MOBILE.id, settled)).toEqual([]);
    expect(after(records(recorders[1] ?? primary), MOBILE.id, settled)).toEqual([]);
    await waitFor("the mobile link failing in the status", () => status(MOBILE.id)?.state === "failing", 10_000);
    const mobile = status(MOBILE.id);
    expect(mobile?.last).toMatchObject({ ok: false, failure: "timeout", gateway: GW_B.id, primaryFailed: { gateway: GW_A.id, failure: "timeout" } });
    expect(Date.parse(mobile?.failedAt ?? "")).toBeGreaterThanOrEqual(cut - 1_000);
    expect(status(FIBER.id)?.state).toBe("ok");
    expect(events().find((e) => e.link === MOBILE.id && e.event === "failed")).toMatchObject({ failure: "timeout", address: MOBILE.address });
  }, 30_000);

  it("with the primary gateway cut, both links fail over to the secondary; the mended link's recovery is timed", async () => {
    const [primary, secondary] = recorders;
    if (primary === undefined || secondary === undefined) throw new Error("no recorders");
    await nft(
      `delete table ip cut\ntable ip primary {\n  chain output {\n    type filter hook output priority 0;\n    ip daddr ${GW_A.address} drop\n  }\n}\n`,
    );
    const mended = Date.now();
    await waitFor(
      "both links at the secondary",
      () => after(records(secondary), FIBER.id, mended).length >= 1 && after(records(secondary), MOBILE.id, mended).length >= 1,
      20_000,
    );
    for (const link of [FIBER, MOBILE])
      expect(after(records(secondary), link.id, mended)[0]).toMatchObject({ gateway: GW_B.id, source: link.address, certFingerprint: fingerprint });
    await waitFor("the mobile link recovered in the status", () => status(MOBILE.id)?.state === "ok", 10_000);
    const mobile = status(MOBILE.id);
    expect(mobile?.last).toMatchObject({ ok: true, gateway: GW_B.id, primaryFailed: { gateway: GW_A.id, failure: "timeout" } });
    expect(Date.parse(mobile?.recoveredAt ?? "")).toBeGreaterThan(Date.parse(mobile?.failedAt ?? ""));
    // Recovered when the check-in that reached the secondary came back: after the gateway recorded it.
    const landed = after(records(secondary), MOBILE.id, mended)[0]?.time ?? "";
    expect(Date.parse(mobile?.recoveredAt ?? "")).toBeGreaterThanOrEqual(Date.parse(landed));
    expect(Date.parse(mobile?.recoveredAt ?? "") - Date.parse(landed)).toBeLessThan(1_000);
    expect(events().find((e) => e.link === MOBILE.id && e.event === "recovered")).toMatchObject({ gateway: GW_B.id, failedAt: mobile?.failedAt });
    // The responder writes its event once the check-in's answer is back: after the gateway recorded it, so waited for.
    await waitFor("the fiber link's gateway event", () => events().some((e) => e.link === FIBER.id && e.event === "gateway"));
    const gatewayEvent = events().find((e) => e.link === FIBER.id && e.event === "gateway");
    expect(gatewayEvent).toMatchObject({ gateway: GW_B.id });
    // The fiber link never failed: its failover shows as the first success through the secondary.
    await waitFor("the fiber link's gateway in the status", () => status(FIBER.id)?.gateway === GW_B.id);
    expect(status(FIBER.id)?.gatewaySince).toBe(gatewayEvent?.at);
    expect(Date.parse(status(FIBER.id)?.gatewaySince ?? "")).toBeGreaterThanOrEqual(Date.parse(after(records(secondary), FIBER.id, mended)[0]?.time ?? ""));
  }, 40_000);

  it("SIGTERM stops it and writes the status a last time, though a peer holds a connection open", async () => {
    // A client of the routers' port that never closes (as a probe cut off mid-connection would): the
    // responder must not wait for it, or `devices stop` kills it after its grace (issue 20).
    const holder = spawn(
      "ip",
      [
        "netns",
        "exec",
        op.name,
        process.execPath,
        "-e",
        // allowHalfOpen: the router's end does not close this side.
        "const s = require('net').connect({ port: 22, host: '127.0.0.1', allowHalfOpen: true });" +
          "s.on('data', () => console.log('held')); setInterval(() => {}, 1000)",
      ],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    try {
      await new Promise<void>((resolve) => holder.stdout?.once("data", () => resolve()));
      const exited = new Promise<number | null>((resolve) => responder?.on("exit", (code) => resolve(code)));
      responder?.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(readResponderStatus(spec.status)?.header.stopped).toBe(true);
    } finally {
      await stopChild(holder);
    }
  }, 20_000);
});
