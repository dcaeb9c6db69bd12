/**
 * The project's error family. Each error names the item it is about and what
 * to do; the CLI prints `message` and `hint` and maps the error to exit code 2.
 * Findings about the inventory or a probe are results, not errors: only a
 * failure to do the job is thrown.
 */
export interface ErrorDetails {
  /** What to do about it, one sentence. */
  readonly hint?: string;
  /** The file the error is about, if any. */
  readonly file?: string;
  /** What the message counts, one item a line (e.g. each problem of a refused merge). */
  readonly details?: readonly string[];
  readonly cause?: unknown;
}

export class AmadegiError extends Error {
  override readonly name: string = "AmadegiError";
  readonly hint: string | undefined;
  readonly file: string | undefined;
  readonly details: readonly string[];

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.hint = details.hint;
    this.file = details.file;
    this.details = details.details ?? [];
  }
}

/** The inventory could not be read at all (missing directory, unreadable file). */
export class InventoryError extends AmadegiError {
  override readonly name = "InventoryError";
}

/** A tool the project relies on is missing or failed (pulumi, go, fping, ssh…). */
export class ToolError extends AmadegiError {
  override readonly name = "ToolError";
}

/** Provisioning through the Pulumi engine failed. */
export class ProvisionError extends AmadegiError {
  override readonly name = "ProvisionError";
}

/** A probe campaign could not run (not a failed target: that is a result). */
export class ProbeError extends AmadegiError {
  override readonly name = "ProbeError";
}

/** Bad command-line usage. */
export class UsageError extends AmadegiError {
  override readonly name = "UsageError";
}

/**
 * An error for a person, a line each: the message, each detail, then what to do.
 * Each line is the caller's to encode for its sink (the CLI: src/lib/encode.ts's
 * logText), so a line break inside a quoted value never makes a line of its own.
 */
export function errorLines(error: unknown): string[] {
  if (error instanceof AmadegiError) {
    const where = error.file === undefined ? "" : `${error.file}: `;
    return [`${error.name}: ${where}${error.message}`, ...error.details.map((d) => `  - ${d}`), ...(error.hint === undefined ? [] : [`  → ${error.hint}`])];
  }
  if (error instanceof Error) return [`${error.name}: ${error.message}`];
  return [String(error)];
}

/** The same as one string (logs, tests). */
export function describeError(error: unknown): string {
  return errorLines(error).join("\n");
}
