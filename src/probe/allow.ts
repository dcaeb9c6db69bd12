import { type AllowList, assertAllowed } from "../model/index.ts";
import type { Target } from "./types.ts";

// The guard's one home is src/model/allow.ts (provisioning and drift use it too); probes import it from here.
export { type AllowList, type AllowRange, assertAllowed, checkAllowed, notAllowedError, parseAllow } from "../model/index.ts";

/** The guard as a campaign takes it: one call per target, throwing for a refused one. */
export function guardFor(allow: AllowList): (target: Pick<Target, "key" | "address">) => void {
  return (target) => assertAllowed(target.key, target.address, allow);
}
