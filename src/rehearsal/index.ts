/**
 * The rehearsal: the election network in miniature on this machine, in
 * network namespaces the project makes (docs/rehearsal.md).
 */
export { planFor, rehearsalDown, rehearsalUp, type DownResult, type RehearsalOptions, type UpResult } from "./lifecycle.ts";
export { DEFAULT_PREFIX, PLUMBING_RANGE, WEAK_DBM, lossPercent, namespaceNames, planRehearsal, type Plan } from "./plan.ts";
export { layout } from "./sshd.ts";
export { rehearsalStatus, type RehearsalStatus } from "./status.ts";
