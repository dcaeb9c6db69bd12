import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatFinding, type Server } from "../../src/model/index.ts";
import { readPins } from "../../src/model/pins.ts";
import { parsePublicKey } from "../../src/model/sshkey.ts";
import { layout, writePins } from "../../src/rehearsal/sshd.ts";

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** A well-formed ed25519 public key whose 32 key bytes are all `byte`. */
function key(byte: number): string {
  const type = Buffer.from("ssh-ed25519");
  const blob = Buffer.alloc(4 + type.length + 4 + 32, byte);
  blob.writeUInt32BE(type.length, 0);
  type.copy(blob, 4);
  blob.writeUInt32BE(32, 4 + type.length);
  return `ssh-ed25519 ${blob.toString("base64")}`;
}

const servers: Pick<Server, "id" | "address" | "ssh">[] = [
  { id: "gw-a", address: "10.10.1.11", ssh: { user: "amadegi", port: 22, hostKey: key(1) } },
  { id: "dns-a", address: "10.10.1.12", ssh: { user: "amadegi", port: 2222 } },
];

const HEADER = 'stack: rehearsal\nprefix: "amadegi-r-"\ncontrolKey: "/x/keys/control_ed25519"\nservers:\n';
const GW = `  - id: "gw-a"\n    address: "10.10.1.11"\n    port: 22\n    user: "root"\n    hostKey: "${key(7)}"\n    root: "/x/servers/gw-a/root"\n`;
const DNS = `  - id: "dns-a"\n    address: "10.10.1.12"\n    port: 2222\n    user: "amadegi"\n    hostKey: "${key(8)}"\n    root: "/x/servers/dns-a/root"\n`;

async function overlay(text: string): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), "amadegi-pins-"));
  dirs.push(dir);
  const file = join(dir, "pins.yaml");
  await writeFile(file, text);
  return { dir, file };
}

async function read(text: string, stack?: string) {
  const { dir, file } = await overlay(text);
  const result = readPins(file, servers, stack === undefined ? {} : { stack });
  return { ...result, lines: result.findings.map((f) => formatFinding(f).replace(`${dir}/`, "")) };
}

describe("the pins overlay", () => {
  it("reads every server's host key and user, checked against the inventory", async () => {
    const result = await read(HEADER + GW + DNS, "rehearsal");
    expect(result.findings).toEqual([]);
    expect(result.pins).toEqual(
      new Map([
        ["gw-a", { hostKey: key(7), user: "root", address: "10.10.1.11", port: 22, root: "/x/servers/gw-a/root" }],
        ["dns-a", { hostKey: key(8), user: "amadegi", address: "10.10.1.12", port: 2222, root: "/x/servers/dns-a/root" }],
      ]),
    );
  });

  it("reads what `amadegi rehearsal up` writes (writePins)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "amadegi-pins-"));
    dirs.push(dir);
    const state = layout(dir);
    await writePins(state, "amadegi-r-", [
      { id: "gw-a", address: "10.10.1.11", port: 22, user: "root", hostKey: key(9), root: join(dir, "servers", "gw-a", "root") },
      { id: "dns-a", address: "10.10.1.12", port: 2222, user: "root", hostKey: key(10), root: join(dir, "servers", "dns-a", "root") },
    ]);
    const result = readPins(state.pins, servers, { stack: "rehearsal" });
    expect(result.findings).toEqual([]);
    expect(result.pins?.get("gw-a")).toEqual({ hostKey: key(9), user: "root", address: "10.10.1.11", port: 22, root: join(dir, "servers", "gw-a", "root") });
    expect(result.controlKey).toBe(state.controlKey);
    // Each build of the servers has its own generation (a stack re-provisions a new one).
    expect(result.generation).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(parsePublicKey(result.pins?.get("dns-a")?.hostKey ?? "").ok).toBe(true);
  });

  it("only id and hostKey are required", async () => {
    const result = await read(`servers:\n  - { id: gw-a, hostKey: "${key(3)}" }\n  - { id: dns-a, hostKey: "${key(4)}" }\n`);
    expect(result.findings).toEqual([]);
    expect(result.pins?.get("gw-a")).toEqual({ hostKey: key(3) });
  });

  const bad: [string, string, RegExp][] = [
    [
      "a server the inventory does not have",
      HEADER + GW + DNS + GW.replace('"gw-a"', '"gw-aa"'),
      /^pins\.yaml:17:9 error reference\.unknown gw-aa: server "gw-aa" is not in the inventory \(did you mean "gw-a"\?\)/m,
    ],
    [
      "a malformed host key",
      HEADER + GW.replace(key(7), key(7).slice(0, 40)) + DNS,
      /^pins\.yaml:9:14 error schema\.bad-key gw-a: not an SSH public key: an ed25519 key is 32 bytes/m,
    ],
    [
      "a host key of no SSH type",
      HEADER + GW.replace(key(7), "ssh-foo AAAA") + DNS,
      /error schema\.bad-key gw-a: not an SSH public key: "ssh-foo" is not an SSH public key type/,
    ],
    [
      "a typo in a field",
      HEADER + GW.replace("hostKey:", "hostkey:") + DNS,
      /^pins\.yaml:9:5 error schema\.unknown-field gw-a: unknown field "hostkey" \(did you mean "hostKey"\?\)/m,
    ],
    ["no host key", HEADER + GW.replace(/ {4}hostKey: .*\n/, "") + DNS, /error schema\.missing-field gw-a: missing field "hostKey"/],
    [
      "an inventory server with no pin",
      HEADER + GW,
      /^pins\.yaml:4:1 error schema\.missing-field dns-a: server "dns-a" of the inventory has no pin in the overlay/m,
    ],
    ["a server pinned twice", HEADER + GW + DNS + GW, /error uniqueness\.id gw-a: server "gw-a" is pinned twice/],
    [
      "another address than the inventory's",
      HEADER + GW.replace('"10.10.1.11"', '"10.10.1.99"') + DNS,
      /^pins\.yaml:6:14 error schema\.bad-value gw-a: address 10\.10\.1\.99 is not the inventory's \(10\.10\.1\.11\)/m,
    ],
    [
      "another port than the inventory's",
      HEADER + GW + DNS.replace("port: 2222", "port: 22"),
      /error schema\.bad-value dns-a: port 22 is not the inventory's ssh\.port \(2222\)/,
    ],
    [
      "written for another stack",
      HEADER.replace("stack: rehearsal", "stack: other") + GW + DNS,
      /^pins\.yaml:1:8 error schema\.bad-value -: the overlay was written for stack "other", not "rehearsal"/m,
    ],
    ["not a mapping", "- gw-a\n", /error schema\.wrong-type -: expected a mapping/],
    ["YAML that does not parse", "servers: [\n", /error yaml\.syntax/],
  ];
  it.each(bad)("%s is refused with its position", async (_, text, expected) => {
    const result = await read(text, "rehearsal");
    expect(result.pins).toBeUndefined();
    expect(result.lines.join("\n")).toMatch(expected);
  });

  it("a file that does not exist is an error naming it", () => {
    const file = join(tmpdir(), `amadegi-no-pins-${process.pid}.yaml`);
    expect(() => readPins(file, servers)).toThrow(
      expect.objectContaining({ name: "InventoryError", file, message: expect.stringContaining(`no pins overlay ${file}`) }),
    );
  });
});
