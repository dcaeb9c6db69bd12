import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { access, realpath } from "node:fs/promises";
import { delimiter, join } from "node:path";

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the program could not be started at all (ENOENT, EACCES, timeout). */
  readonly error?: string;
}

/** Run a program to completion, never throwing: a failure is a result. */
export function run(
  file: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      {
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 15_000,
        maxBuffer: 16 * 1024 * 1024,
        cwd: options.cwd,
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ code: 0, stdout, stderr });
          return;
        }
        const code = typeof error.code === "number" ? error.code : null;
        const failure = code === null ? { error: error.killed ? "timed out" : error.message } : {};
        resolve({ code, stdout, stderr, ...failure });
      },
    );
    child.stdin?.end(options.input);
  });
}

/** The first executable called `binary` on a PATH, resolved through links. */
export async function which(binary: string, path = process.env.PATH ?? ""): Promise<string | undefined> {
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, binary);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export interface GoBuildInfo {
  /** The Go release that built it, e.g. go1.26.8. */
  readonly go: string;
  /** The main package's import path. */
  readonly path: string;
  /** The main module and its version as recorded, e.g. github.com/pulumi/pulumi/pkg/v3 v3.276.0. */
  readonly mod: string;
  /** The main module's checksum (go.sum form), when recorded. */
  readonly sum?: string;
  /** The -ldflags the binary was built with, when recorded. */
  readonly ldflags?: string;
  /** Dependency versions of interest (the Pulumi modules). */
  readonly deps: Record<string, string>;
}

/**
 * Read the build information Go embeds in every binary (`go version -m`).
 * A wrapper module is the binary's main module, so the real program's module
 * and version are read from its dependencies.
 */
export function parseGoVersionM(text: string): GoBuildInfo | undefined {
  const lines = text.split("\n");
  const head = lines[0]?.match(/:\s+(go\S+)/);
  if (head?.[1] === undefined) return undefined;
  let path = "";
  let mod = "";
  let sum: string | undefined;
  let ldflags: string | undefined;
  const deps: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const [kind, a, b, c] = line.trim().split("\t");
    if (kind === "path" && a !== undefined) path = a;
    else if (kind === "mod" && a !== undefined) {
      mod = b === undefined ? a : `${a} ${b}`;
      sum = c;
    } else if (kind === "dep" && a !== undefined && b !== undefined && a.startsWith("github.com/pulumi/")) deps[a] = b;
    else if (kind === "build" && a?.startsWith("-ldflags=")) ldflags = a.slice("-ldflags=".length).replace(/^"(.*)"$/, "$1");
  }
  return { go: head[1], path, mod, ...(sum === undefined ? {} : { sum }), ...(ldflags === undefined ? {} : { ldflags }), deps };
}

export async function goBuildInfo(binaryPath: string, env: NodeJS.ProcessEnv = process.env): Promise<GoBuildInfo | undefined> {
  const go = await which("go", env.PATH);
  if (go === undefined) return undefined;
  const result = await run(go, ["version", "-m", binaryPath], { env });
  return result.code === 0 ? parseGoVersionM(result.stdout) : undefined;
}

export async function resolveLink(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return path;
  }
}
