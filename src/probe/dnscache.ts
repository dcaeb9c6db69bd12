import { lookup } from "node:dns/promises";

/**
 * One lookup per name per campaign: targets named by host name (not by an
 * inventory address) resolve once, and concurrent asks share the answer. A
 * failed lookup is cached too, so a dead resolver costs one timeout, not one
 * per target.
 */
export type Resolve = (name: string) => Promise<string>;

export class DnsCache {
  private readonly entries = new Map<string, Promise<{ address?: string; error?: string }>>();
  private readonly resolve: Resolve;
  lookups = 0;

  constructor(resolve: Resolve = async (name) => (await lookup(name, { family: 4 })).address) {
    this.resolve = resolve;
  }

  get(name: string): Promise<{ address?: string; error?: string }> {
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return Promise.resolve({ address: name });
    let entry = this.entries.get(name);
    if (entry === undefined) {
      this.lookups++;
      entry = this.resolve(name).then(
        (address) => ({ address }),
        (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }),
      );
      this.entries.set(name, entry);
    }
    return entry;
  }
}
