/**
 * Exit codes. Each means one thing, for every command (ADR 0001).
 * - OK: ready / valid / nothing found.
 * - FINDINGS: the command ran and found something (not ready, invalid, missing tools).
 * - CANNOT_RUN: the command could not do its job (bad usage, unreadable input, a tool failed).
 * - INTERRUPTED: stopped by Ctrl-C (SIGINT) after what it ran stopped cleanly: 128 + 2, as a
 *   shell reports a command a SIGINT ended, so a script tells an interruption from a failure.
 */
export const ExitCode = {
  OK: 0,
  FINDINGS: 1,
  CANNOT_RUN: 2,
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
