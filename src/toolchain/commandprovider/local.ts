/**
 * local.Command's run, as pulumi-command 1.2.1 does it (provider/pkg/provider/local/commandOutputs.go):
 * the interpreter (default `/bin/sh -c`) with the command as its last argument, in `dir` (default the
 * provider's working directory, which the engine sets to the program's), the provider's environment
 * plus `environment` plus PULUMI_COMMAND_STDOUT/STDERR from the previous run (unless
 * addPreviousOutputInEnv is false; only when not empty), `stdin` only when not empty; stdout and
 * stderr captured apart, each without one trailing newline, and logged line by line as `logging` says.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { stat } from "node:fs/promises";

export interface RunOptions {
  readonly command: string;
  readonly interpreter?: readonly string[];
  readonly dir?: string;
  readonly environment?: Readonly<Record<string, string>>;
  readonly stdin?: string;
  /** The outputs of the previous create or update, for PULUMI_COMMAND_STDOUT/STDERR. */
  readonly previous?: { readonly stdout: string; readonly stderr: string };
  readonly addPreviousOutputInEnv?: boolean;
  readonly logging?: string;
  /** One line of output, to log. */
  readonly onLine?: (line: string) => void;
  readonly running?: Set<ChildProcess>;
}

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** A failed command: its message names the command and carries its output, as Pulumi's does. */
export class CommandFailed extends Error {
  readonly exitCode: number | null;
  constructor(message: string, exitCode: number | null) {
    super(message);
    this.exitCode = exitCode;
  }
}

export function shouldLog(logging: string | undefined, stream: "stdout" | "stderr"): boolean {
  return logging === undefined || logging === stream || logging === "stdoutAndStderr";
}

export function trimOneNewline(text: string): string {
  return text.endsWith("\n") ? text.slice(0, -1) : text;
}

/** Feeds text to `emit` a line at a time; `flush` emits the last, unterminated line. */
export function lineSplitter(emit: (line: string) => void): { push: (chunk: string) => void; flush: () => void } {
  let pending = "";
  return {
    push: (chunk) => {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop() ?? "";
      lines.forEach(emit);
    },
    flush: () => {
      if (pending !== "") emit(pending);
      pending = "";
    },
  };
}

/** Go's os/exec error text for how a process ended: "exit status 2", "signal: killed". */
export function exitText(code: number | null, signal: string | null): string {
  if (code !== null) return `exit status ${code}`;
  const names: Record<string, string> = { SIGKILL: "killed", SIGTERM: "terminated", SIGINT: "interrupt", SIGHUP: "hangup", SIGPIPE: "broken pipe" };
  return `signal: ${(signal !== null ? names[signal] : undefined) ?? signal ?? "unknown"}`;
}

export function previousOutputEnv(options: Pick<RunOptions, "previous" | "addPreviousOutputInEnv">): Record<string, string> {
  const env: Record<string, string> = {};
  if (options.addPreviousOutputInEnv === false || options.previous === undefined) return env;
  if (options.previous.stdout !== "") env.PULUMI_COMMAND_STDOUT = options.previous.stdout;
  if (options.previous.stderr !== "") env.PULUMI_COMMAND_STDERR = options.previous.stderr;
  return env;
}

export async function runLocal(options: RunOptions): Promise<RunResult> {
  const argv = options.interpreter !== undefined && options.interpreter.length > 0 ? [...options.interpreter] : ["/bin/sh", "-c"];
  argv.push(options.command);
  const dir = options.dir ?? process.cwd();
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
    throw new CommandFailed(`chdir ${dir}: no such file or directory (the command's dir must exist): running ${JSON.stringify(options.command)}`, null);
  }
  const env = { ...process.env, ...options.environment, ...previousOutputEnv(options) };
  const [file = "/bin/sh", ...args] = argv;
  let run: Captured;
  try {
    run = await capture(file, args, { cwd: dir, env }, options);
  } catch (error) {
    throw new CommandFailed(`${(error as Error).message}: running ${JSON.stringify(options.command)}`, null);
  }
  if (run.code === 0) return { stdout: trimOneNewline(run.stdout), stderr: trimOneNewline(run.stderr) };
  throw new CommandFailed(`${exitText(run.code, run.signal)}: running ${JSON.stringify(options.command)}:\n${run.both}`, run.code);
}

/** What a process printed and how it ended. */
export interface Captured {
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr as they came, for error messages. */
  readonly both: string;
  readonly code: number | null;
  readonly signal: string | null;
}

/**
 * Run `file` with `args`, `stdin` fed (only when not empty) and closed, stdout and stderr captured
 * apart and together, each line logged as `logging` says; the one way local.Command and the SSH
 * transport run a process. Rejects only when the process could not be started.
 */
export function capture(
  file: string,
  args: readonly string[],
  spawnOptions: { readonly cwd?: string; readonly env: NodeJS.ProcessEnv },
  options: Pick<RunOptions, "logging" | "onLine" | "running"> & { readonly stdin?: string | Buffer | undefined },
): Promise<Captured> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...spawnOptions, stdio: ["pipe", "pipe", "pipe"] });
    options.running?.add(child);
    let stdout = "";
    let stderr = "";
    let both = "";
    const log = (stream: "stdout" | "stderr") => lineSplitter((line) => (shouldLog(options.logging, stream) ? options.onLine?.(line) : undefined));
    const logs = { stdout: log("stdout"), stderr: log("stderr") };
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
      both += c;
      logs.stdout.push(c);
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
      both += c;
      logs.stderr.push(c);
    });
    child.stdin.on("error", () => {}); // a command that does not read its stdin
    child.stdin.end(options.stdin !== undefined && options.stdin.length > 0 ? options.stdin : undefined);
    child.on("error", (error) => {
      options.running?.delete(child);
      reject(error);
    });
    child.on("close", (code, signal) => {
      options.running?.delete(child);
      logs.stdout.flush();
      logs.stderr.flush();
      resolve({ stdout, stderr, both, code, signal });
    });
  });
}
