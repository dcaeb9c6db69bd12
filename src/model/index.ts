/**
 * The inventory model: the one way other layers read the inventory.
 * See docs/adr/0002-model-contract.md for the contract.
 */
export { type LoadOptions, type LoadResult, loadInventory } from "./load.ts";
export { type Finding, formatFinding, hasErrors, type Location } from "./finding.ts";
export { RULES, type RuleId, type Severity } from "./rules.ts";
export { type Origin, Sources } from "./source.ts";
export { addDays, daysBetween, formatBoth, type IsoDate, midnightIn, parseDate, parseInstant, todayIn, toJalali } from "./dates.ts";
export { normalizeName } from "./normalize.ts";
export { ORGANISATIONS } from "./references.ts";
export { type WaiverLookup, waiverLookup, type WaiverMatch } from "./waivers.ts";
export { CRITERIA, MEDIA, LINK_STATES, ROLES, SITE_OWNERS, POP_KINDS } from "./schema/files.ts";
export type * from "./types.ts";
export { countingLinks, isBlindSpot, noDiversePair, popChain, popChainOf, popChains } from "./links.ts";
export { type Block, cidrContains, exactCover, formatBlock, formatIpv4, parseCidr, parseIpv4 } from "./net.ts";
export { type AllowList, type AllowRange, assertAllowed, checkAllowed, notAllowedError, parseAllow } from "./allow.ts";
export { fingerprintOf, isFingerprint, type KeyResult, parsePublicKey, signingKeys } from "./sshkey.ts";
export { type DeviceKeys, deviceFingerprint, deviceKeysText, readDeviceKeys } from "./devicekeys.ts";
export { type PinOverlay, readPins, serverReach, type ServerPin, type ServerReach } from "./pins.ts";
export * from "./stackfile.ts";
export { type MonitoringFiles, renderMonitoring } from "./monitoring.ts";
export {
  alertId,
  type AlertReceivers,
  type AlertTiming,
  type ExpectedAlert,
  expectedLinkAlerts,
  expectedServerAlert,
  SILENCE_TAG,
  SILENCE_TAG_GREP,
  SILENCE_TAG_PREFIX,
  linkProbePeriod,
  linkProberStaleAfter,
  LINK_ROUNDS_PER_SCRAPE,
  notificationBound,
  PRODUCTION_TIMING,
  REHEARSAL_LINK_PINGS_PER_S,
  REHEARSAL_TIMING,
  renderAlertmanager,
  renderAlertRules,
  RULE_SERIES,
  type Silence,
  silencesOf,
  stretchTiming,
  timingProblems,
} from "./alerting.ts";
export { githubAnnotation } from "./annotations.ts";
export { PROVINCE_NAMES, type ProvinceName, provinceName } from "./provinces.ts";
