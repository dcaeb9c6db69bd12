// Targets and contexts for the probe tests.
import type { ProbeContext, ProbeKind, Target } from "../../src/probe/types.ts";

export function target(kind: ProbeKind, address: string, port: number | undefined, extra: Partial<Target> = {}): Target {
  return {
    key: `t-${kind}/${address}${port === undefined ? "" : `:${port}`}`,
    check: `t-${kind}`,
    kind,
    address,
    ...(port === undefined ? {} : { port }),
    params: {},
    ...extra,
  };
}

export function context(timeoutMs: number, signal: AbortSignal = new AbortController().signal): ProbeContext {
  return { signal, timeoutMs };
}
