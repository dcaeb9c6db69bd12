import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { promisify } from "node:util";
import type * as Grpc from "@grpc/grpc-js";
import * as sdkSettings from "@pulumi/pulumi/runtime/settings.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineEnv, isolateEngineConnections, renderEnvScript } from "../../src/toolchain/env.ts";
import { toolDir } from "../../src/toolchain/paths.ts";

const exec = promisify(execFile);
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "amadegi-env-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("engineEnv", () => {
  it("keeps the engine offline, on a file backend under the state dir, with passphrase secrets", () => {
    const env = engineEnv({ AMADEGI_STATE_DIR: "/s", AMADEGI_CACHE: "/c", PATH: "/usr/bin" });
    expect(env).toMatchObject({
      PULUMI_BACKEND_URL: "file:///s/pulumi",
      PULUMI_CONFIG_PASSPHRASE_FILE: "/s/passphrase",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_DISABLE_REGISTRY_RESOLVE: "true",
    });
    const path = env.PATH?.split(":") ?? [];
    expect(path[0]).toBe(join(toolDir("pulumi", "v3.276.0", { AMADEGI_CACHE: "/c" }), "bin"));
    expect(path.at(-1)).toBe("/usr/bin");
  });

  it("leaves a backend or passphrase the user chose", () => {
    const env = engineEnv({ PULUMI_BACKEND_URL: "s3://bucket", PULUMI_CONFIG_PASSPHRASE_FILE: "/p" });
    expect(env.PULUMI_BACKEND_URL).toBe("s3://bucket");
    expect(env.PULUMI_CONFIG_PASSPHRASE_FILE).toBe("/p");
  });
});

describe("renderEnvScript", () => {
  it("is a script bash sources to the same values, even with a quote in a path", async () => {
    const state = join(dir, "it's state");
    const script = join(dir, "env.sh");
    await writeFile(script, renderEnvScript({ AMADEGI_STATE_DIR: state, AMADEGI_CACHE: "/c" }));
    const { stdout } = await exec("bash", ["-c", `PATH=/usr/bin:/bin; . "${script}"; echo "$PULUMI_BACKEND_URL"; echo "$PATH"`]);
    const [backend, path] = stdout.trim().split("\n");
    expect(backend).toBe(`file://${state}/pulumi`);
    expect(path?.endsWith(":/usr/bin:/bin")).toBe(true);
    expect(path?.startsWith("/c/tools/pulumi-v3.276.0/bin:")).toBe(true);
  });
});

describe("isolateEngineConnections", () => {
  // The SDK's own grpc-js, as its clients to the engine use it.
  const grpc = createRequire(createRequire(import.meta.url).resolve("@pulumi/pulumi/package.json"))("@grpc/grpc-js") as typeof Grpc;
  const identity = (b: Buffer) => b;
  const service = {
    ping: {
      path: "/amadegi.Test/Ping",
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  };
  const Client = grpc.makeGenericClientConstructor(service, "Test");
  const servers: Grpc.Server[] = [];
  afterAll(() => servers.forEach((s) => s.forceShutdown()));

  const serve = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const server = new grpc.Server();
      server.addService(service, { ping: (_call: unknown, done: (e: null, r: Buffer) => void) => done(null, Buffer.from("pong")) });
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, bound) => (e ? reject(e) : resolve(bound)));
      servers.push(server);
    });
  const ping = (client: Grpc.Client) =>
    new Promise<string>((resolve) =>
      (client as unknown as { ping: (b: Buffer, cb: (e: Grpc.ServiceError | null, r?: Buffer) => void) => void }).ping(Buffer.from("x"), (e, r) =>
        resolve(e ? `${e.code} ${e.details}` : String(r)),
      ),
    );

  /** An engine that served on a port and is gone (its client's connection failed), then a new engine on the same port. */
  async function secondEngineOnTheSamePort(options: Record<string, unknown>): Promise<string> {
    const port = await serve(0);
    const first = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options);
    expect(await ping(first)).toBe("pong");
    servers.pop()?.forceShutdown();
    expect(await ping(first)).toMatch(/^14 /);
    await serve(port);
    // The earlier run's client is never closed, as the SDK leaves an inline run's clients.
    return ping(new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options));
  }

  it("lets a run reach a new engine on a port an earlier engine used, which shared connections do not", async () => {
    // Without it (a long reconnect backoff, so the failed connection is still failed when reused):
    const slow = { "grpc.initial_reconnect_backoff_ms": 600_000 };
    expect(await secondEngineOnTheSamePort(slow)).toBe("14 No connection established. Last error: null. Resolution note: ");
    isolateEngineConnections();
    const sdk = (sdkSettings as unknown as { grpcClientOptions: Record<string, unknown> }).grpcClientOptions;
    expect(await secondEngineOnTheSamePort({ ...sdk, ...slow })).toBe("pong");
  });
});
