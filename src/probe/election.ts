import type { Inventory } from "../model/index.ts";
import type { EvalContext } from "./catalog/evaluate.ts";

/**
 * What conditions need from the inventory when a campaign starts: the end of
 * election day (certificates must outlive it, plus the catalog's margin) and
 * the addresses of each server role (expected DNS answers).
 */
export function evalContext(inventory: Inventory, now: number): EvalContext {
  const byRole = new Map<string, string[]>();
  for (const server of inventory.servers) {
    for (const role of server.roles) {
      const list = byRole.get(role) ?? [];
      list.push(server.address);
      byRole.set(role, list);
    }
  }
  return {
    now,
    electionEnd: endOfDay(inventory.election.day, inventory.election.timeZone),
    roleAddresses: (role) => byRole.get(role) ?? [],
  };
}

/** Midnight after `day` (YYYY-MM-DD) in `timeZone`, as ms since the epoch. */
export function endOfDay(day: string, timeZone: string): number {
  const [y = 1970, m = 1, d = 1] = day.split("-").map(Number);
  const utcMidnight = Date.UTC(y, m - 1, d + 1);
  // The zone's offset at that instant (twice, in case the offset changes that night).
  let guess = utcMidnight;
  for (let i = 0; i < 2; i++) guess = utcMidnight - offsetOf(guess, timeZone);
  return guess;
}

function offsetOf(instant: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const local = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return local - Math.floor(instant / 1000) * 1000;
}
