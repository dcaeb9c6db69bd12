/**
 * From the dynamic-provider program (ADR 0006) to the `@pulumi/command` one (ADR 0007).
 *
 * A stack brought up before ADR 0007 holds `pulumi-nodejs:dynamic:Resource`s whose serialised code
 * names the checkout that ran `up`. Left to the engine, the new program would create its resources
 * (the same files, written in place; the services restarted) and then delete the old ones — and an
 * old delete stops the services and removes the files its successor just wrote, or, when that
 * checkout is gone, fails. So the old resources are *forgotten* (as `pulumi state delete` does),
 * not deleted: the new resources take their files and services over in place, and a server is down
 * only while its services restart. Their components (`amadegi:central:Server`, `amadegi:pki:Pki`)
 * keep their URNs and stay.
 *
 * Pure: a deployment (the Automation API's `exportStack().deployment`) in, one without the old
 * resources out.
 */

/** The type of every resource of the dynamic-provider program, and of its provider. */
export const SUPERSEDED_TYPES: readonly string[] = ["pulumi-nodejs:dynamic:Resource", "pulumi:providers:pulumi-nodejs"];

interface StateResource {
  readonly urn: string;
  readonly type: string;
  readonly dependencies?: readonly string[];
  readonly propertyDependencies?: Readonly<Record<string, readonly string[]>>;
  readonly deletedWith?: string;
  readonly [key: string]: unknown;
}

export interface Superseded {
  /** The deployment without the old resources, for `importStack`. */
  readonly deployment: Record<string, unknown>;
  /** The URNs forgotten, in state order. */
  readonly forgotten: readonly string[];
}

function isResource(value: unknown): value is StateResource {
  return typeof value === "object" && value !== null && typeof (value as StateResource).urn === "string" && typeof (value as StateResource).type === "string";
}

/** The deployment without the dynamic-provider program's resources, and which were dropped; none dropped: `forgotten` is empty. */
export function withoutSuperseded(deployment: Readonly<Record<string, unknown>>): Superseded {
  const resources = Array.isArray(deployment.resources) ? (deployment.resources as unknown[]) : [];
  const forgotten = resources.filter((r) => isResource(r) && SUPERSEDED_TYPES.includes(r.type)).map((r) => (r as StateResource).urn);
  if (forgotten.length === 0) return { deployment: { ...deployment }, forgotten };
  const gone = new Set(forgotten);
  const kept = resources
    .filter((r) => !(isResource(r) && gone.has(r.urn)))
    .map((r) => {
      if (!isResource(r)) return r;
      const { deletedWith, ...rest } = r;
      const propertyDependencies =
        r.propertyDependencies === undefined
          ? undefined
          : Object.fromEntries(Object.entries(r.propertyDependencies).map(([key, urns]) => [key, urns.filter((u) => !gone.has(u))]));
      return {
        ...rest,
        ...(r.dependencies === undefined ? {} : { dependencies: r.dependencies.filter((u) => !gone.has(u)) }),
        ...(propertyDependencies === undefined ? {} : { propertyDependencies }),
        ...(deletedWith === undefined || gone.has(deletedWith) ? {} : { deletedWith }),
      };
    });
  return { deployment: { ...deployment, resources: kept }, forgotten };
}
