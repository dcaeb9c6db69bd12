import { readStackConfig } from "./config.ts";

/**
 * The Pulumi program. The server roles (pki, gateway, dns, ntp, monitor) are
 * added here as components by the stacks work; today the program reads and
 * checks its stack's settings and exports them, so both ways in (plain
 * `pulumi` and the Automation API) are exercised end to end.
 */
export async function program(): Promise<Record<string, unknown>> {
  const config = readStackConfig();
  return { environment: config.environment, inventory: config.inventory };
}
