// The benchmark's targets, one process (pinned to its own core by the caller):
// TCP (accept, close), HTTP and HTTPS (200 "ok", Connection: close, no
// session tickets or cache) on each given address, or on every address
// (0.0.0.0) inside a benchmark namespace. Prints "ready" when listening.
import { readFileSync } from "node:fs";
import { createServer as createHttp } from "node:http";
import { createServer as createHttps } from "node:https";
import { createServer as createTcp, type Server } from "node:net";
import { constants } from "node:crypto";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    addresses: { type: "string" },
    block: { type: "string" },
    count: { type: "string" },
    tcp: { type: "string" },
    http: { type: "string" },
    https: { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
  },
});

// `--block B --count N`: 127.B.x.y, N addresses (the same layout as the benchmark's hosts).
const addresses =
  values.block === undefined
    ? (values.addresses ?? "0.0.0.0").split(",").filter((a) => a !== "")
    : Array.from({ length: Number(values.count ?? 1) }, (_, i) => `127.${values.block}.${Math.floor(i / 250)}.${(i % 250) + 1}`);
const servers: Promise<void>[] = [];

function listen(server: Server, port: number, address: string): void {
  servers.push(new Promise((resolve, reject) => server.once("error", reject).listen({ port, host: address, backlog: 4096 }, resolve)));
}

const reply = (_req: unknown, res: { setHeader(k: string, v: string): void; end(b: string): void }) => {
  res.setHeader("connection", "close");
  res.end("ok");
};

for (const address of addresses) {
  if (values.tcp !== undefined)
    listen(
      createTcp((s) => s.destroy()),
      Number(values.tcp),
      address,
    );
  if (values.http !== undefined) {
    const server = createHttp({ keepAlive: false }, reply);
    server.keepAliveTimeout = 0;
    listen(server, Number(values.http), address);
  }
  if (values.https !== undefined && values.cert !== undefined && values.key !== undefined) {
    // No tickets and no session cache: every handshake is a full one.
    const server = createHttps(
      { cert: readFileSync(values.cert), key: readFileSync(values.key), secureOptions: constants.SSL_OP_NO_TICKET, sessionTimeout: 0, keepAlive: false },
      reply,
    );
    server.keepAliveTimeout = 0;
    listen(server, Number(values.https), address);
  }
}

await Promise.all(servers);
// Runs until the benchmark sends SIGTERM.
process.stdout.write("ready\n");
