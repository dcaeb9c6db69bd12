/**
 * Drills: a fault injected into the rehearsal as kernel or process state, the
 * pipeline's campaign during it, what it concluded beside what was injected,
 * the devices' failover, and the restore (docs/rehearsal.md "Drills").
 */
export { attribute, compare, type Attribution, type Cause, type ExpectedFault, type ObjectRef } from "./attribution.ts";
export { formatReport, type DrillReport } from "./report.ts";
export { restoreLeftovers, runDrill, type DrillOptions } from "./run.ts";
export { parseShare, SCENARIO_HELP, SCENARIOS, type Scenario } from "./scenarios.ts";
