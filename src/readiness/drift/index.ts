/**
 * Drift (declared ↔ provisioned ↔ observed): the one way other modules use it.
 *
 *   types.ts        the report: kinds, items, counts, verdict
 *   declared.ts     what the inventory declares of a server, in the provisioned state's terms
 *   compare.ts      computeDrift: the comparison, pure
 *   provisioned.ts  the provisioned state, read at the boundary
 *   latest.ts       the newest results of a stack; each stack's latest report (the gate reads it)
 *   run.ts          runDrift: reads, SSH, history, the latest file
 */
export {
  DRIFT_KINDS,
  DRIFT_RULES,
  DRIFT_TITLES,
  type DriftChanges,
  type DriftCounts,
  type DriftItem,
  type DriftKind,
  type DriftReport,
  type DriftVerdict,
  emptyCounts,
  type FactsSummary,
} from "./types.ts";
export { declaredServer, factsExpectation } from "./declared.ts";
export { computeDrift, type DriftInput } from "./compare.ts";
export { crlNextUpdate, parseProvisioned } from "./provisioned.ts";
export { type LatestDrift, readLatestDrift, writeLatestDrift } from "./latest.ts";
export { type DriftOutcome, type DriftRunOptions, runDrift } from "./run.ts";
