// Unit: where a server's files and sockets are, as its configs and scripts name them.
import { describe, expect, it } from "vitest";
import { GATEWAY_FILES as G, REHEARSAL_SOCKETS, renderServer, rooted, SOCKET_PATH_MAX, socketPath } from "../../../src/model/render/index.ts";
import { sampleInventory } from "./helpers.ts";

const target = (root: string) => ({ root, environment: root === "" ? "production" : "rehearsal", address: "10.10.1.11" }) as const;
/** A rehearsal under a deep state directory, for a gateway with a long id: 112 bytes rooted, the length that failed. */
const DEEP = "/tmp/amadegi-bench-scale-d1qQov/2000/rehearsal/servers/gw-sistan-baluchestan-b01/root";

describe("socketPath", () => {
  it("is the production path in production, and the rooted path in a rehearsal when it fits", () => {
    expect(socketPath(target(""), G.socket)).toBe("/run/amadegi/checkin.sock");
    expect(socketPath(target("/srv/r/servers/gw-1/root"), G.socket)).toBe("/srv/r/servers/gw-1/root/run/amadegi/checkin.sock");
  });

  it("is a short path of the server's own when the rooted one is too long for a socket (the kernel's EINVAL)", () => {
    expect(Buffer.byteLength(rooted(target(DEEP), G.socket))).toBeGreaterThan(SOCKET_PATH_MAX);
    const short = socketPath(target(DEEP), G.socket);
    expect(short).toMatch(new RegExp(`^${REHEARSAL_SOCKETS}/[0-9a-f]{32}\\.sock$`));
    expect(Buffer.byteLength(short)).toBeLessThanOrEqual(SOCKET_PATH_MAX);
    // The same server, the same path (its start, stop and nginx agree); another server, another.
    expect(socketPath(target(DEEP), G.socket)).toBe(short);
    expect(socketPath(target(DEEP.replace("-b01", "-a01")), G.socket)).not.toBe(short);
  });

  it("counts bytes, not characters: a root in Persian is longer than it looks", () => {
    const root = `/srv/${"آمادگی".repeat(8)}/root`;
    expect(root.length + G.socket.length).toBeLessThanOrEqual(SOCKET_PATH_MAX);
    expect(socketPath(target(root), G.socket)).toMatch(new RegExp(`^${REHEARSAL_SOCKETS}/`));
  });

  it("refuses a production socket path too long to bind", () => {
    expect(() => socketPath(target(""), `/run/${"x".repeat(120)}.sock`)).toThrow(/at most 107 bytes/);
  });

  it("names the same short path in nginx's upstream, the recorder's command line, its start check and its stop", async () => {
    const inventory = await sampleInventory();
    const renders = renderServer(inventory, "gw-teh1-01", target(DEEP.replace("gw-sistan-baluchestan-b01", "gw-teh1-01-with-a-much-longer-id")));
    const gateway = renders.find((r) => r.role === "gateway");
    const short = socketPath(target(DEEP.replace("gw-sistan-baluchestan-b01", "gw-teh1-01-with-a-much-longer-id")), G.socket);
    expect(gateway?.files.find((f) => f.path === G.nginxConf)?.content).toContain(`server unix:${short};`);
    const recorder = gateway?.services.find((s) => s.name === "checkin-recorder");
    expect(recorder?.start).toContain(`--socket ${short} `);
    expect(recorder?.start).toMatch(new RegExp(`\\[ -S '?${short}'? \\]`));
    expect(recorder?.stop).toContain(short);
    expect(JSON.stringify(gateway)).not.toContain("/run/amadegi/checkin.sock");
  });
});
