// The check-in recorder (src/model/render/assets/checkin-recorder.js) run for
// real, as a gateway runs it: a node process on a unix socket in a temp dir.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { repoRoot } from "../../src/toolchain/paths.ts";

export const RECORDER = join(repoRoot, "src", "model", "render", "assets", "checkin-recorder.js");

export interface Recorder {
  readonly socket: string;
  readonly log: string;
  /** The table of the latest check-in per link (--table). */
  readonly table: string;
  readonly links: string;
  readonly pidFile: string;
  readonly child: ChildProcess;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** The log's lines, parsed as JSON. */
  lines(): unknown[];
  /** The table as last written (undefined while there is none). */
  readTable(): unknown;
  /** SIGTERM, and wait for it to exit: its exit code. */
  stop(): Promise<number | null>;
}

export type LinksFile = Record<string, { station: string; link: string; serial?: string; fingerprint?: string }>;

export async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A token as the gateway role makes it: an nginx snippet the recorder reads with --token. */
export function tokenSnippet(token: string): string {
  return `proxy_set_header X-Amadegi-Token "${token}";\n`;
}

export async function startRecorder(
  dir: string,
  links: LinksFile,
  gateway = "gw-test-01",
  name = "recorder",
  options: { readonly token?: string; readonly args?: readonly string[] } = {},
): Promise<Recorder> {
  const socket = join(dir, `${name}.sock`);
  const log = join(dir, `${name}`, "checkin.jsonl");
  const table = join(dir, `${name}`, "checkin-latest.json");
  const linksFile = join(dir, `${name}-links.json`);
  const pidFile = join(dir, `${name}.pid`);
  await writeFile(linksFile, JSON.stringify(links));
  const tokenFile = join(dir, `${name}-token.conf`);
  if (options.token !== undefined) await writeFile(tokenFile, options.token, { mode: 0o600 });
  const args = ["--socket", socket, "--log", log, "--links", linksFile, "--gateway", gateway, "--pid", pidFile, "--table", table, ...(options.args ?? [])];
  const child = spawn(process.execPath, [RECORDER, ...args, ...(options.token === undefined ? [] : ["--token", tokenFile])], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  // Its own pid in the file: a file left by an earlier, killed recorder does not count.
  const own = (): boolean => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() === String(child.pid);
  await waitFor(`the recorder's pid file ${pidFile} (stderr: ${stderr})`, () => own() || gone);
  if (gone) throw new Error(`the recorder exited at start: ${stderr}`);
  return {
    socket,
    log,
    table,
    links: linksFile,
    pidFile,
    child,
    stderr: () => stderr,
    lines: () =>
      existsSync(log)
        ? readFileSync(log, "utf8")
            .split("\n")
            .filter((l) => l !== "")
            .map((l) => JSON.parse(l) as unknown)
        : [],
    readTable: () => (existsSync(table) ? (JSON.parse(readFileSync(table, "utf8")) as unknown) : undefined),
    stop: async () => {
      if (!gone) child.kill("SIGTERM");
      return exited;
    },
  };
}

export interface Answer {
  readonly status: number;
  readonly body: string;
  readonly retryAfter?: string;
}

/** One HTTP request to the recorder's socket, as nginx would send it. */
export function post(socket: string, headers: Record<string, string>, options: { method?: string; path?: string; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        method: options.method ?? "POST",
        path: options.path ?? "/checkin",
        headers: { ...headers, "content-length": String(Buffer.byteLength(options.body ?? "")) },
      },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => {
          const retryAfter = res.headers["retry-after"];
          resolve({ status: res.statusCode ?? 0, body, ...(retryAfter === undefined ? {} : { retryAfter }) });
        });
      },
    );
    req.on("error", reject);
    req.end(options.body ?? "");
  });
}
