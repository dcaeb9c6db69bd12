import { type IsoDate, isTimeZone, parseDate } from "../dates.ts";
import { parseCidr, parseIpv4 } from "../net.ts";
import { asciiDigits } from "../normalize.ts";
import { isFingerprint, parsePublicKey } from "../sshkey.ts";
import { INVALID, type Schema, scalar } from "./core.ts";

/** The scalar types of the inventory, each with the finding its bad values get. */

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** An ASCII id: what every other layer refers to. */
export const id = (): Schema<string> =>
  scalar("an id", (value, r, node) => {
    if (ID.test(value)) return value;
    const ascii = asciiDigits(value);
    const hint =
      ascii !== value && ID.test(ascii)
        ? `write "${ascii}" (ids use ASCII digits)`
        : "ids are ASCII letters, digits, '.', '_' and '-', at most 64, starting with a letter or digit; names may be Persian";
    r.report("schema.bad-id", node, `"${value.slice(0, 40)}" is not a valid id`, hint);
    return INVALID;
  });

/** A calendar date, ISO or Jalali; the model keeps it as ISO. */
export const date = (): Schema<IsoDate> => {
  // A national inventory repeats a few hundred dates 100,000 times: convert each once.
  const cache = new Map<string, ReturnType<typeof parseDate>>();
  return scalar("a date", (value, r, node) => {
    let result = cache.get(value);
    if (result === undefined) {
      result = parseDate(value);
      if (cache.size < 10_000) cache.set(value, result);
    }
    if (result.ok) return result.iso;
    r.report("schema.bad-date", node, `"${value.slice(0, 40)}" is not a date: ${result.reason}`, "write 2027-02-25 or 1405-12-06 (Jalali)");
    return INVALID;
  });
};

export const ipv4 = (): Schema<string> =>
  scalar("an IPv4 address", (value, r, node) => {
    if (parseIpv4(value) !== undefined) return value;
    r.report(
      "schema.bad-address",
      node,
      `"${value.slice(0, 40)}" is not an IPv4 address`,
      "write four decimal numbers 0–255 without leading zeros, e.g. 10.41.3.2",
    );
    return INVALID;
  });

/**
 * A CIDR range. `widest` bounds how many addresses one range may hold (its
 * shortest prefix): a range that becomes an allow rule is never "the internet"
 * (issue 14) — `0.0.0.0/0`, `0.0.0.0/1` and the like are refused where written.
 */
export const cidr = (options: { widest?: number; why?: string } = {}): Schema<string> =>
  scalar("a CIDR", (value, r, node) => {
    const result = parseCidr(value);
    if (result.ok && options.widest !== undefined && result.bits < options.widest) {
      r.report(
        "schema.bad-value",
        node,
        `${value} is wider than /${options.widest}${options.why === undefined ? "" : `: ${options.why}`}`,
        `split it into ranges of /${options.widest} or narrower`,
      );
      return INVALID;
    }
    if (result.ok) return value;
    const hint = result.suggestion === undefined ? "write e.g. 10.20.0.0/16" : `did you mean ${result.suggestion}?`;
    r.report("schema.bad-address", node, `"${value.slice(0, 40)}" is not a CIDR: ${result.reason}`, hint);
    return INVALID;
  });

export const publicKey = (): Schema<string> =>
  scalar("an SSH public key", (value, r, node) => {
    const result = parsePublicKey(value);
    if (result.ok) return value.trim();
    const hint = "paste one line of the .pub file or of `ssh-keyscan`, e.g. ssh-ed25519 AAAA…";
    r.report("schema.bad-key", node, `not an SSH public key: ${result.reason}`, hint);
    return INVALID;
  });

export const fingerprint = (): Schema<string> =>
  scalar("a SHA256 fingerprint", (value, r, node) => {
    if (isFingerprint(value)) return value;
    r.report(
      "schema.bad-key",
      node,
      `"${value.slice(0, 60)}" is not a SHA256 key fingerprint`,
      "write SHA256: followed by 43 base64 characters, as `ssh-keygen -lf` prints it",
    );
    return INVALID;
  });

export const timeZone = (): Schema<string> =>
  scalar("a time zone", (value, r, node) => {
    if (isTimeZone(value)) return value;
    r.report("schema.bad-time-zone", node, `"${value.slice(0, 40)}" is not an IANA time zone`, "write e.g. Asia/Tehran");
    return INVALID;
  });

export const phone = (): Schema<string> =>
  scalar("a phone number", (value, r, node) => {
    if (/^\+?[0-9\u06F0-\u06F9][0-9\u06F0-\u06F9 -]{5,19}$/.test(value)) return asciiDigits(value);
    r.report("schema.bad-value", node, `"${value.slice(0, 40)}" is not a phone number`, "write digits, spaces and dashes, e.g. 021-36201234");
    return INVALID;
  });
