// The role renderers on the sample inventory: what each gateway is configured
// for, what DNS answers, and that production and the rehearsal differ only
// where they must (paths, users, how daemons are run).
import { describe, expect, it } from "vitest";
import { cidrContains, parseCidr, parseIpv4 } from "../../../src/model/net.ts";
import {
  clientRanges,
  DNS_FILES,
  GATEWAY_FILES,
  linksOf,
  LOCAL_STRATUM,
  NTP_FILES,
  REHEARSAL_PLUMBING,
  REHEARSAL_STRATUM,
  renderServer,
  type RoleRender,
  SERVER_FILE,
  stationsOf,
  TLS_FILES,
} from "../../../src/model/render/index.ts";
import { aggregate, formatBlock } from "../../../src/model/net.ts";
import { copyFixture, edit, load } from "../fixture.ts";
import { sampleInventory } from "./helpers.ts";

const ROOT = "/srv/rehearsal/servers/x/root";

async function both(serverId: string): Promise<{ rehearsal: RoleRender[]; production: RoleRender[] }> {
  const inventory = await sampleInventory();
  const address = inventory.serversById.get(serverId)?.address ?? "";
  return {
    rehearsal: renderServer(inventory, serverId, { root: ROOT, environment: "rehearsal", address }),
    production: renderServer(inventory, serverId, { root: "", environment: "production", address }),
  };
}

function file(renders: readonly RoleRender[], path: string): string {
  const found = renders.flatMap((r) => r.files).find((f) => f.path === path);
  if (found === undefined)
    throw new Error(
      `no ${path} among ${renders
        .flatMap((r) => r.files)
        .map((f) => f.path)
        .join(", ")}`,
    );
  return found.content;
}

describe("gateway", () => {
  it("is configured for exactly the stations that name it primary or secondary", async () => {
    const inventory = await sampleInventory();
    const gateways = inventory.servers.filter((s) => s.roles.includes("gateway"));
    let total = 0;
    for (const gw of gateways) {
      const [render] = renderServer(inventory, gw.id, { root: "", environment: "production", address: gw.address });
      const expected = inventory.stations.filter((s) => s.gateways.primary === gw.id || s.gateways.secondary === gw.id).map((s) => s.id);
      expect(render?.stations).toEqual([...expected].sort());
      total += render?.stations.length ?? 0;
    }
    // Every station is on two gateways, never twice on one.
    expect(total).toBe(inventory.stations.length * 2);
    expect(stationsOf(inventory, "gw-teh1-01")).toContain("PKD-0001");
    expect(stationsOf(inventory, "gw-krj-01")).toContain("PKD-0001");
    expect(stationsOf(inventory, "gw-teh2-01")).not.toContain("PKD-0001");
  });

  it("links.json maps every addressed link of its stations to station, link, the station's device serial and key and its district, nothing else", async () => {
    const inventory = await sampleInventory();
    const { production } = await both("gw-teh1-01");
    const links = JSON.parse(file(production, GATEWAY_FILES.links)) as Record<string, { station: string; link: string; serial: string }>;
    // One address a line, in the addresses' numeric order (10.0.0.9 before 10.0.0.10), so a diff is stable.
    const value = (a: string) => a.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
    const addresses = Object.keys(links);
    expect(addresses.length).toBeGreaterThan(10);
    expect(addresses).toEqual([...addresses].sort((a, b) => value(a) - value(b)));
    const stations = new Set(production[0]?.stations);
    const expected = inventory.stations
      .filter((s) => stations.has(s.id))
      .flatMap((s) =>
        s.links
          .filter((l) => l.address !== undefined)
          .map((l) => [l.address, { station: s.id, link: l.id, serial: s.device.serial, fingerprint: s.device.fingerprint, district: s.district }] as const),
      );
    expect(Object.keys(links).length).toBe(expected.length);
    expect(links).toEqual(Object.fromEntries(expected));
    const pkd1 = inventory.stationsById.get("PKD-0001")?.device.fingerprint;
    expect(pkd1).toMatch(/^SHA256:/);
    expect(links["10.41.0.3"]).toEqual({ station: "PKD-0001", link: "PKD-0001-F", serial: "AHV-PKD-0001", fingerprint: pkd1, district: "pakdasht" });
    expect(links["10.141.0.2"]).toEqual({ station: "PKD-0001", link: "PKD-0001-M", serial: "AHV-PKD-0001", fingerprint: pkd1, district: "pakdasht" });
    // In address order, so the same inventory gives the same file.
    const keys = Object.keys(links).map((a) => parseIpv4(a) ?? 0);
    expect(keys).toEqual([...keys].sort((a, b) => a - b));
  });

  it("links.json names a device-keys overlay's fingerprint in place of the inventory's (the rehearsal's devices' own keys)", async () => {
    const inventory = await sampleInventory();
    const address = inventory.serversById.get("gw-teh1-01")?.address ?? "";
    const own = `SHA256:${"Q".repeat(43)}`;
    const deviceKeys = new Map([["AHV-PKD-0001", own]]);
    const renders = renderServer(inventory, "gw-teh1-01", { root: ROOT, environment: "rehearsal", address, deviceKeys });
    const links = JSON.parse(file(renders, GATEWAY_FILES.links)) as Record<string, { serial: string; fingerprint: string }>;
    expect(links["10.41.0.3"]?.fingerprint).toBe(own);
    expect(links["10.141.0.2"]?.fingerprint).toBe(own);
    // A station the overlay does not name keeps the inventory's (readDeviceKeys refuses such an overlay before rendering).
    const other = Object.values(links).find((l) => l.serial !== "AHV-PKD-0001");
    expect(other?.fingerprint).toBe([...inventory.stations].find((s) => s.device.serial === other?.serial)?.device.fingerprint);
  });

  it("refuses a link address shared by two stations, naming both", async () => {
    const inventory = await sampleInventory();
    const [a, b] = stationsOf(inventory, "gw-teh1-01");
    const twin = { ...inventory, stationsById: new Map(inventory.stationsById) };
    const sa = inventory.stationsById.get(a ?? "");
    const sb = inventory.stationsById.get(b ?? "");
    if (sa === undefined || sb === undefined) throw new Error("sample has no stations");
    const address = sa.links.find((l) => l.address !== undefined)?.address;
    if (address === undefined) throw new Error(`${sa.id} has no addressed link`);
    twin.stationsById.set(sb.id, { ...sb, links: sb.links.map((l, i) => (i === 0 ? { ...l, address } : l)) });
    expect(() => linksOf(twin, [sa.id, sb.id])).toThrow(new RegExp(`both have address ${address.replace(/\./g, "\\.")}`));
  });

  it("nginx listens on the server's address only, with TLS 1.2/1.3, optional client certificates, /health and a guarded /checkin", async () => {
    const { production } = await both("gw-teh1-01");
    const conf = file(production, GATEWAY_FILES.nginxConf);
    expect(conf).toMatch(/^\s*listen 10\.10\.1\.11:443 ssl;$/m);
    expect(conf.match(/^\s*listen /gm)).toHaveLength(1);
    expect(conf).toMatch(/^\s*ssl_protocols TLSv1\.2 TLSv1\.3;$/m);
    expect(conf).toContain(`ssl_certificate ${TLS_FILES.serverCert};`);
    expect(conf).toContain(`ssl_certificate_key ${TLS_FILES.serverKey};`);
    expect(conf).toContain(`ssl_client_certificate ${TLS_FILES.devicesCa};`);
    expect(conf).toMatch(/ssl_verify_client optional;/);
    const checkin = /location = \/checkin \{([\s\S]*?)\n {8}\}/.exec(conf)?.[1] ?? "";
    expect(checkin).toMatch(/if \(\$ssl_client_verify != SUCCESS\) \{\s*return 403;/);
    expect(checkin).toContain("proxy_pass http://checkin_recorder;");
    // What reaches the recorder is set at the server level (inherited by /checkin and by the unverified certificates' location):
    // no location sets a header of its own, which would drop the inherited ones.
    const server = conf.slice(conf.indexOf("server {"));
    for (const header of [
      "X-Client-Cert $ssl_client_escaped_cert",
      "X-Client-Verify $ssl_client_verify",
      "X-Source-Address $remote_addr",
      "X-TLS-Protocol $ssl_protocol",
      "X-Amadegi-Station $http_x_amadegi_station",
      "X-Amadegi-Link $http_x_amadegi_link",
    ]) {
      expect(server.slice(0, server.indexOf("location = /checkin"))).toContain(`proxy_set_header ${header};`);
    }
    expect(checkin).not.toContain("proxy_set_header");
    // Revocation (ADR 0008): the CRL is loaded, sessions are never resumed, and a certificate nginx could not verify goes to the recorder.
    expect(conf).toContain(`ssl_crl ${TLS_FILES.devicesCrl};`);
    expect(conf).toMatch(/ssl_session_cache off;/);
    expect(conf).toMatch(/ssl_session_tickets off;/);
    expect(conf).toMatch(/ssl_early_data off;/);
    expect(conf).toMatch(/error_page 495 = @unverified;\s*location @unverified \{\s*proxy_pass http:\/\/checkin_recorder;\s*\}/);
    expect(conf).toContain(`server unix:${GATEWAY_FILES.socket};`);
  });

  it("runs the recorder with the command line helper C's program expects", async () => {
    const { rehearsal } = await both("gw-teh1-01");
    const recorder = rehearsal[0]?.services.find((s) => s.name === "checkin-recorder");
    expect(recorder?.start).toContain(
      `setsid -f node --max-semi-space-size=1 ${ROOT}/opt/amadegi/checkin-recorder.js ` +
        `--socket ${ROOT}/run/amadegi/checkin.sock --log ${ROOT}/var/log/amadegi/checkin.jsonl ` +
        `--links ${ROOT}/etc/amadegi/gateway/links.json --gateway gw-teh1-01 --pid ${ROOT}/run/amadegi/checkin-recorder.pid ` +
        `--token ${ROOT}/etc/amadegi/gateway/recorder-token.conf --ca ${ROOT}/etc/amadegi/tls/devices-ca.crt --crl ${ROOT}/etc/amadegi/tls/devices.crl ` +
        `--table ${ROOT}/var/lib/amadegi/checkin/checkin-latest.json >>"$log" 2>&1`,
    );
    // Its table's directory exists before it starts, and is the one it may write besides its run and log directories.
    expect(recorder?.start).toContain(`${ROOT}/var/lib/amadegi/checkin`);
    expect(recorder?.start).toContain(`log=${ROOT}/var/log/amadegi/checkin-recorder.log`);
    expect(rehearsal[0]?.services.map((s) => s.name)).toEqual(["checkin-recorder", "nginx"]);
    // A gateway of its own keeps node's default heap: only the rehearsal, hundreds of recorders on one machine, shrinks it.
    const { production } = await both("gw-teh1-01");
    const unit = production[0]?.files.find((f) => f.path.endsWith("/amadegi-checkin-recorder.service"))?.content ?? "";
    expect(unit).toMatch(/^ExecStart=.* \/opt\/amadegi\/checkin-recorder\.js /m);
    expect(unit).not.toContain("--max-semi-space-size");
    expect(rehearsal[0]?.services.find((s) => s.name === "nginx")?.listens).toEqual([{ proto: "tcp", address: "10.10.1.11", port: 443 }]);
  });
});

describe("dns", () => {
  it("answers auth.election.ir with exactly the auth servers' addresses, and one name per gateway", async () => {
    const inventory = await sampleInventory();
    const { production } = await both("dns-teh1-01");
    const conf = file(production, DNS_FILES.conf);
    const data = [...conf.matchAll(/^\s*local-data: "([^ ]+)\. 60 IN A ([0-9.]+)"$/gm)].map((m) => [m[1], m[2]] as const);
    const auth = data
      .filter(([name]) => name === "auth.election.ir")
      .map(([, a]) => a)
      .sort();
    expect(auth).toEqual(
      inventory.servers
        .filter((s) => s.roles.includes("auth"))
        .map((s) => s.address)
        .sort(),
    );
    expect(auth.length).toBeGreaterThan(0);
    for (const gw of inventory.servers.filter((s) => s.roles.includes("gateway"))) {
      expect(data).toContainEqual([`${gw.id}.gw.election.ir`, gw.address]);
    }
  });

  it("never recurses and listens on its address over UDP and TCP", async () => {
    const { production } = await both("dns-teh1-01");
    const conf = file(production, DNS_FILES.conf);
    expect(conf).toMatch(/^\s*local-zone: "\." refuse$/m);
    expect(conf).not.toMatch(/forward-zone|root-hints|stub-zone/);
    expect(conf).toMatch(/^\s*interface: 10\.10\.0\.53@53$/m);
    expect(production[0]?.services[0]?.listens).toEqual([
      { proto: "udp", address: "10.10.0.53", port: 53 },
      { proto: "tcp", address: "10.10.0.53", port: 53 },
    ]);
  });

  it("lets every station link, every central server (and in the rehearsal its plumbing) ask, nobody else", async () => {
    const inventory = await sampleInventory();
    const { rehearsal, production } = await both("dns-teh1-01");
    const allowed = (conf: string): string[] => [...conf.matchAll(/^\s*access-control: (\S+) allow$/gm)].map((m) => m[1] ?? "");
    const ranges = allowed(file(production, DNS_FILES.conf))
      .map((c) => parseCidr(c))
      .filter((c) => c.ok);
    const covered = (address: string): boolean => ranges.some((c) => cidrContains(c, parseIpv4(address) ?? 0));
    for (const station of inventory.stations)
      for (const link of station.links) if (link.address !== undefined) expect(covered(link.address), link.id).toBe(true);
    for (const server of inventory.servers) expect(covered(server.address), server.id).toBe(true);
    expect(covered("192.0.2.1")).toBe(false);
    expect(file(production, DNS_FILES.conf)).toMatch(/^\s*access-control: 0\.0\.0\.0\/0 refuse$/m);
    expect(allowed(file(rehearsal, DNS_FILES.conf))).toContain(REHEARSAL_PLUMBING);
    expect(allowed(file(production, DNS_FILES.conf))).not.toContain(REHEARSAL_PLUMBING);
    expect(clientRanges(inventory, { root: "", environment: "production", address: "10.10.0.53" }).length).toBeLessThan(40);
  });
});

describe("ntp", () => {
  it("serves its own clock (production: at a poor stratum; rehearsal: one the catalog accepts), never setting this machine's clock", async () => {
    const { rehearsal, production } = await both("ntp-teh1-01");
    const conf = file(production, NTP_FILES.conf);
    expect(conf).toMatch(/^bindaddress 10\.10\.0\.123$/m);
    expect(conf).toMatch(new RegExp(`^local stratum ${LOCAL_STRATUM}$`, "m"));
    // The rehearsal's clock is this machine's: served at a stratum the catalog's check accepts.
    expect(file(rehearsal, NTP_FILES.conf)).toMatch(new RegExp(`^local stratum ${REHEARSAL_STRATUM}$`, "m"));
    expect(REHEARSAL_STRATUM).toBeLessThanOrEqual(4);
    expect(conf).toMatch(/^cmdport 0$/m);
    expect(conf).not.toMatch(/^(server|pool|peer) /m);
    expect(rehearsal[0]?.services[0]?.start).toMatch(/chronyd -x -f \S+chrony\.conf/);
    expect(file(production, "/etc/systemd/system/amadegi-chronyd.service")).toMatch(/^ExecStart=\S+ chronyd -x -f \/etc\/amadegi\/chrony\/chrony\.conf$/m);
  });
});

describe("every server", () => {
  it("gets /etc/amadegi/server.json once, with its first role; unprovisioned roles get nothing else", async () => {
    const inventory = await sampleInventory();
    for (const server of inventory.servers) {
      const renders = renderServer(inventory, server.id, { root: "", environment: "staging", address: server.address });
      expect(renders.map((r) => r.role)).toEqual(server.roles);
      const bases = renders.flatMap((r) => r.files).filter((f) => f.path === SERVER_FILE);
      expect(bases).toHaveLength(1);
      expect(renders[0]?.files[0]?.path).toBe(SERVER_FILE);
      expect(JSON.parse(bases[0]?.content ?? "")).toEqual({ id: server.id, roles: server.roles, site: server.site, environment: "staging" });
    }
    const auth = renderServer(inventory, "auth-teh1-01", { root: "", environment: "production", address: "10.10.2.10" });
    expect(auth.flatMap((r) => r.files).map((f) => f.path)).toEqual([SERVER_FILE]);
    expect(auth.flatMap((r) => r.services)).toEqual([]);
  });

  it("a server with two roles gets both, the base file once", async () => {
    const root = await copyFixture();
    await edit(root, "inventory/servers.yaml", "roles: [dns]", "roles: [dns, ntp]");
    const { inventory } = await load(root);
    if (inventory === undefined) throw new Error("the edited fixture does not load");
    const renders = renderServer(inventory, "dns-a", { root: "", environment: "production", address: "10.0.0.3" });
    expect(renders.map((r) => r.role)).toEqual(["dns", "ntp"]);
    const paths = renders.flatMap((r) => r.files).map((f) => f.path);
    expect(paths.filter((p) => p === SERVER_FILE)).toHaveLength(1);
    expect(new Set(paths).size).toBe(paths.length);
  });

  it("an unknown server, or a production address other than the inventory's, is refused by name", async () => {
    const inventory = await sampleInventory();
    expect(() => renderServer(inventory, "gw-nowhere", { root: "", environment: "production", address: "10.0.0.1" })).toThrow(/no server "gw-nowhere"/);
    expect(() => renderServer(inventory, "gw-teh1-01", { root: "", environment: "production", address: "10.9.9.9" })).toThrow(
      /gw-teh1-01 has address 10\.10\.1\.11/,
    );
  });

  it("is deterministic: the same inventory and target give the same bytes", async () => {
    const inventory = await sampleInventory();
    const again = await sampleInventory();
    for (const id of ["gw-teh1-01", "dns-teh2-01", "ntp-teh1-01", "mon-teh1-01", "pki-teh1-01"]) {
      const address = inventory.serversById.get(id)?.address ?? "";
      for (const target of [{ root: ROOT, environment: "rehearsal", address } as const, { root: "", environment: "production", address } as const]) {
        const a = JSON.stringify(renderServer(inventory, id, target).map((r) => ({ ...r, files: r.files.map((f) => ({ ...f })) })));
        const b = JSON.stringify(renderServer(again, id, target).map((r) => ({ ...r, files: r.files.map((f) => ({ ...f })) })));
        expect(a).toBe(b);
        expect(a.length).toBeGreaterThan(100);
      }
    }
  });

  it("rehearsal configs and commands name only files under the root; production has its systemd units", async () => {
    for (const id of ["gw-teh1-01", "dns-teh1-01", "ntp-teh1-01", "mon-teh1-01"]) {
      const { rehearsal, production } = await both(id);
      // A production path not preceded by the root (or by another path's characters).
      const bare = /(?<![\w.-])\/(etc|run|var|opt)\/amadegi\b/;
      for (const f of rehearsal.flatMap((r) => r.files)) {
        if (f.path === GATEWAY_FILES.recorder) continue; // the program: its usage text names no files of ours
        expect(f.content, `${id} ${f.path}`).not.toMatch(bare);
      }
      for (const s of rehearsal.flatMap((r) => r.services)) {
        expect(s.start, `${id} ${s.name} start`).not.toMatch(bare);
        expect(s.stop, `${id} ${s.name} stop`).not.toMatch(bare);
        expect(s.start).toContain(ROOT);
        expect(s.start).not.toContain("systemctl");
      }
      expect(rehearsal.flatMap((r) => r.files).filter((f) => f.path.startsWith("/etc/systemd/"))).toEqual([]);
      const units = production
        .flatMap((r) => r.files)
        .filter((f) => f.path.startsWith("/etc/systemd/system/amadegi-"))
        .map((f) => f.path);
      expect(units).toEqual(production.flatMap((r) => r.services).map((s) => `/etc/systemd/system/amadegi-${s.name}.service`));
      for (const s of production.flatMap((r) => r.services)) {
        expect(s.start).toMatch(new RegExp(`systemctl (reload-or-restart|restart|start) amadegi-${s.name}\\.service`));
        expect(s.start).not.toContain(ROOT);
      }
      // The same files either way, but for the units.
      const paths = (renders: RoleRender[]): string[] =>
        renders
          .flatMap((r) => r.files)
          .map((f) => f.path)
          .filter((p) => !p.startsWith("/etc/systemd/"));
      expect(paths(rehearsal)).toEqual(paths(production));
    }
  });
});

describe("ranges", () => {
  const block = (cidr: string): { base: number; bits: number } => {
    const c = parseCidr(cidr);
    if (!c.ok) throw new Error(cidr);
    return { base: c.base, bits: c.bits };
  };
  it.each([
    [["10.0.0.0/24", "10.0.1.0/24"], ["10.0.0.0/23"]],
    [
      ["10.0.1.0/24", "10.0.2.0/24"],
      ["10.0.1.0/24", "10.0.2.0/24"],
    ],
    [["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"], ["10.0.0.0/22"]],
    [
      ["10.0.0.0/16", "10.0.5.0/24", "10.1.0.0/24"],
      ["10.0.0.0/16", "10.1.0.0/24"],
    ],
    [["198.51.100.128/25", "198.51.100.0/25"], ["198.51.100.0/24"]],
    [["10.0.3.0/24", "10.0.3.0/24"], ["10.0.3.0/24"]],
  ])("%j → %j", (input, output) => {
    expect(aggregate(input.map(block)).map(formatBlock)).toEqual(output);
  });
});
