// Real listeners on loopback for the probe tests, well-behaved and not: every
// 127.x address answers on lo, so each test file takes its own 127.N.0.0/16
// and each listener its own address. Every listener counts the connections it
// accepted (the proof that a refused probe sent nothing) and closes its
// sockets on close().
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";

export interface Listener {
  readonly address: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: () => number;
  close(): Promise<void>;
}

type Closable = Server;

async function listen(server: Closable, address: string, sockets: Set<Socket>): Promise<Listener> {
  let accepted = 0;
  server.on("connection", (socket: Socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: address, port: 0, exclusive: true }, () => resolve());
  });
  const bound = server.address();
  if (bound === null || typeof bound === "string") throw new Error("listener has no port");
  return {
    address,
    port: bound.port,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A free TCP port on an address (for programs that want a port in their config, like sshd). */
export async function freePort(address: string): Promise<number> {
  const server = createServer();
  const listener = await listen(server, address, new Set());
  await listener.close();
  return listener.port;
}

/** A raw TCP listener; `behave` decides what each accepted connection gets. */
export function tcpListener(address: string, behave: (socket: Socket) => void): Promise<Listener> {
  const sockets = new Set<Socket>();
  return listen(createServer(behave), address, sockets);
}

/** Misbehaviours, for tcpListener. */
export const behaviours = {
  /** Accepts and says nothing, ever: a TLS handshake or banner read must time out. */
  silent: (): void => undefined,
  /** Accepts, then resets the connection (RST, not FIN). */
  reset: (socket: Socket): void => {
    socket.resetAndDestroy();
  },
  /** Resets as soon as the client says anything (after a TLS ClientHello or HTTP request). */
  resetOnData: (socket: Socket): void => {
    socket.once("data", () => socket.resetAndDestroy());
  },
  /** Answers anything with text that is not TLS. */
  garbage: (socket: Socket): void => {
    socket.once("data", () => socket.write("HELLO this is not TLS at all\r\n\r\n".repeat(4)));
  },
  /** A banner line, then nothing. */
  banner:
    (line: string) =>
    (socket: Socket): void => {
      socket.write(`${line}\r\n`);
    },
  /** HTTP headers, then a body that drips one byte per second, forever. */
  drip: (socket: Socket): void => {
    socket.once("data", () => {
      socket.write("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n");
      const timer = setInterval(() => socket.write("1\r\nx\r\n"), 1000);
      socket.on("close", () => clearInterval(timer));
    });
  },
  /** Reads the request and never sends headers. */
  headersNever: (socket: Socket): void => {
    socket.on("data", () => undefined);
  },
};

/** A plain HTTP server. */
export function httpListener(address: string, handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listener> {
  const sockets = new Set<Socket>();
  const server = createHttpServer({ keepAlive: false }, handle);
  return listen(server, address, sockets);
}

export interface TlsIdentity {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** Client CAs to require (mTLS), if any. */
  readonly clientCa?: string | Buffer;
  /** Highest TLS version the server speaks (to test TLS_VERSION). */
  readonly maxVersion?: "TLSv1.2" | "TLSv1.3";
}

/** A TLS server presenting `identity`; `handle` gets each verified connection. */
export function tlsListener(address: string, identity: TlsIdentity, handle: (socket: TLSSocket) => void = (s) => s.end()): Promise<Listener> {
  const sockets = new Set<Socket>();
  const server = createTlsServer(
    {
      cert: identity.cert,
      key: identity.key,
      ...(identity.maxVersion === undefined ? {} : { maxVersion: identity.maxVersion }),
      ...(identity.clientCa === undefined ? {} : { ca: identity.clientCa, requestCert: true, rejectUnauthorized: true }),
    },
    handle,
  );
  server.on("tlsClientError", () => undefined);
  // The TLS server emits `connection` for the raw socket, which listen() counts.
  return listen(server as unknown as Server, address, sockets);
}

/** An HTTPS server (TLS + HTTP) for the https probe. */
export async function httpsListener(address: string, identity: TlsIdentity, handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listener> {
  const { createServer: createHttpsServer } = await import("node:https");
  const sockets = new Set<Socket>();
  const server = createHttpsServer({ cert: identity.cert, key: identity.key, keepAlive: false }, handle);
  server.on("tlsClientError", () => undefined);
  return listen(server as unknown as Server, address, sockets);
}
