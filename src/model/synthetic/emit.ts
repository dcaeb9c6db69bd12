/**
 * Write inventory files as a person would keep them: block style, one item
 * per paragraph, small mappings in flow style, comments where they help.
 * Text is written plain when YAML reads it back unchanged, quoted otherwise.
 */
export interface LinkOut {
  id: string;
  medium: string;
  operator: string;
  pop: string;
  circuit?: string;
  address?: string;
  survey?: { signalDbm: number; date?: string };
  lifecycle: { state: string; committed?: string; owner: string };
  comment?: string;
}

export interface StationOut {
  id: string;
  name: string;
  kind: "fixed" | "mobile";
  setting: "urban" | "rural";
  lat: number;
  lon: number;
  siteOwner: string;
  primary: string;
  secondary: string;
  serial: string;
  fingerprint: string;
  spares: number;
  ups: boolean;
  links: LinkOut[];
  comment?: string;
}

export interface DistrictOut {
  id: string;
  name: string;
  province: string;
  county: { id: string; name: string };
  technicians: { name: string; phone: string; role?: string }[];
  stations: StationOut[];
  header?: string;
}

const PLAIN = /^[^\s\-?:,[\]{}#&*!|>'"%@`][^:#]*$/;
const RESERVED = /^(true|false|null|~|yes|no|on|off|[-+]?[\d._]+([eE][-+]?\d+)?)$/i;

/** A scalar as YAML text. */
export function q(text: string): string {
  return PLAIN.test(text) && !RESERVED.test(text) && text.trim() === text ? text : JSON.stringify(text);
}

function flow(pairs: Record<string, string | number | boolean | undefined>): string {
  const parts = Object.entries(pairs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? q(v) : String(v)}`);
  return `{ ${parts.join(", ")} }`;
}

export function emitLink(l: LinkOut): string {
  const lines = [];
  if (l.comment !== undefined) lines.push(`      # ${l.comment}`);
  lines.push(`      - id: ${q(l.id)}`, `        medium: ${l.medium}`, `        operator: ${l.operator}`, `        pop: ${q(l.pop)}`);
  if (l.circuit !== undefined) lines.push(`        circuit: ${q(l.circuit)}`);
  if (l.address !== undefined) lines.push(`        address: ${l.address}`);
  if (l.survey !== undefined) lines.push(`        survey: ${flow(l.survey)}`);
  lines.push(`        lifecycle: ${flow(l.lifecycle)}`);
  return lines.join("\n");
}

export function emitStation(s: StationOut): string {
  const lines = [];
  if (s.comment !== undefined) lines.push(`  # ${s.comment}`);
  lines.push(
    `  - id: ${q(s.id)}`,
    `    name: ${q(s.name)}`,
    `    kind: ${s.kind}`,
    `    setting: ${s.setting}`,
    `    location: ${flow({ lat: s.lat, lon: s.lon })}`,
    `    siteOwner: ${s.siteOwner}`,
    `    gateways: ${flow({ primary: s.primary, secondary: s.secondary })}`,
    `    device: ${flow({ serial: s.serial, fingerprint: s.fingerprint, spares: s.spares, ups: s.ups })}`,
    "    links:",
    ...s.links.map(emitLink),
  );
  return lines.join("\n");
}

export function emitDistrict(d: DistrictOut): string {
  const head = d.header === undefined ? [] : d.header.split("\n").map((l) => (l === "" ? "#" : `# ${l}`));
  const techs = d.technicians.map((t) => `    - ${flow({ name: t.name, phone: t.phone, role: t.role })}`);
  return [
    ...head,
    "district:",
    `  id: ${q(d.id)}`,
    `  name: ${q(d.name)}`,
    `  province: ${q(d.province)}`,
    `  county: ${flow(d.county)}`,
    "  technicians:",
    ...techs,
    "",
    "stations:",
    d.stations.map(emitStation).join("\n\n"),
    "",
  ].join("\n");
}
