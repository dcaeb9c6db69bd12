/**
 * Exit codes. Each means one thing, for every command (ADR 0001).
 * - OK: ready / valid / nothing found.
 * - FINDINGS: the command ran and found something (not ready, invalid, missing tools).
 * - CANNOT_RUN: the command could not do its job (bad usage, unreadable input, a tool failed).
 */
export const ExitCode = {
  OK: 0,
  FINDINGS: 1,
  CANNOT_RUN: 2,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
