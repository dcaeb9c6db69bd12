import { EVENT_ID, type Event, SCALAR_STYLE } from "js-yaml";
import type { Location } from "./finding.ts";

/**
 * Where an item came from: its file and its node (the index of the event that
 * opens it in that file's parse). Opaque to other layers: turn it into a
 * `file:line:col` with `Sources.locate`.
 */
export interface Origin {
  readonly file: string;
  readonly node: number;
}

/**
 * One inventory file after reading: its decoded text and, once parsed, its
 * event stream. The schema stage walks the full events; afterwards they are
 * compacted to two typed arrays (kind, offset) so a national
 * run keeps a few bytes per node, not an object, for the positions later
 * findings may need. Line starts are computed only when a finding needs one.
 */
export class SourceFile {
  readonly path: string;
  readonly text: string;
  private full: Event[] = [];
  private kinds: Uint8Array = new Uint8Array(0);
  /** Where each node starts (before a quote); for scalars also where its text starts and ends. */
  private offsets: Int32Array = new Int32Array(0);
  private lineStarts: number[] | undefined;
  /** Set by the read stage from the bytes: false means the text scan for bidirectional controls can be skipped. */
  mayHoldBidi = true;
  /** Found while compacting, for the parse stage: documents, and nodes with an alias, anchor or tag. */
  documents = 0;
  aliases: number[] = [];
  anchors: number[] = [];
  tags: number[] = [];
  /** Scalars not written as plain single-line text (quoted, escaped, folded): the value scan's. */
  spelt: number[] = [];

  constructor(path: string, text: string) {
    this.path = path;
    this.text = text;
  }

  /** The full events, for the parse and schema stages. */
  get events(): Event[] {
    return this.full;
  }

  set events(events: Event[]) {
    this.full = events;
    this.kinds = new Uint8Array(events.length);
    this.offsets = new Int32Array(events.length);
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      if (event === undefined) continue;
      this.kinds[i] = event.type;
      switch (event.type) {
        case EVENT_ID.DOCUMENT:
          this.documents++;
          break;
        case EVENT_ID.ALIAS:
          this.aliases.push(i);
          this.offsets[i] = event.anchorStart - 1;
          break;
        case EVENT_ID.POP:
          break;
        default:
          this.offsets[i] = offsetOf(event);
          if (event.anchorStart >= 0) this.anchors.push(i);
          if (event.tagStart >= 0) this.tags.push(i);
          // An empty value (`name:`) has no position of its own: point at its key.
          if (event.type === EVENT_ID.SCALAR && event.valueStart < 0 && i > 0) this.offsets[i] = this.offsets[i - 1] ?? 0;
          else if (event.type === EVENT_ID.SCALAR && (!event.fast || event.style !== SCALAR_STYLE.PLAIN)) this.spelt.push(i);
      }
    }
  }

  /** Drop the full events once the schema stage is done with them. */
  release(): void {
    this.full = [];
  }

  /** 1-based line and column of a character offset; CRLF counts as one break. */
  position(offset: number): Location {
    const starts = this.lines();
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.path, line: lo + 1, col: offset - (starts[lo] ?? 0) + 1 };
  }

  at(index: number): Location {
    return this.position(this.offsets[index] ?? 0);
  }

  /** The index just past the node that starts at `index`. */
  skip(index: number): number {
    const kinds = this.kinds;
    const kind = kinds[index];
    if (kind !== EVENT_ID.MAPPING && kind !== EVENT_ID.SEQUENCE) return index + 1;
    let depth = 0;
    let i = index;
    for (; i < kinds.length; i++) {
      const k = kinds[i];
      if (k === EVENT_ID.MAPPING || k === EVENT_ID.SEQUENCE) depth++;
      else if (k === EVENT_ID.POP && --depth === 0) return i + 1;
    }
    return i;
  }

  /**
   * The node reached from `node` by a path of mapping keys and sequence
   * indexes; as deep as the path exists. With `key`, the last step gives the
   * key's node instead of its value. (Keys are compared as written: inventory
   * keys are plain ASCII.)
   */
  find(node: number, path: readonly (string | number)[], key = false): number {
    const kinds = this.kinds;
    let current = node;
    for (let step = 0; step < path.length; step++) {
      const part = path[step];
      const kind = kinds[current];
      let i = current + 1;
      let found = -1;
      if (kind === EVENT_ID.MAPPING && typeof part === "string") {
        while (i < kinds.length && kinds[i] !== EVENT_ID.POP) {
          const valueAt = this.skip(i);
          if (kinds[i] === EVENT_ID.SCALAR && this.isKey(i, part)) {
            found = key && step === path.length - 1 ? i : valueAt;
            break;
          }
          i = this.skip(valueAt);
        }
      } else if (kind === EVENT_ID.SEQUENCE && typeof part === "number") {
        for (let n = 0; i < kinds.length && kinds[i] !== EVENT_ID.POP; n++) {
          if (n === part) {
            found = i;
            break;
          }
          i = this.skip(i);
        }
      }
      if (found < 0) return current;
      current = found;
    }
    return current;
  }

  /** Whether the scalar at `i` is the key `name` (plain or quoted; inventory keys are ASCII words). */
  private isKey(i: number, name: string): boolean {
    const text = this.text;
    const at = this.offsets[i] ?? 0;
    const quote = text[at];
    const start = quote === '"' || quote === "'" ? at + 1 : at;
    if (!text.startsWith(name, start)) return false;
    const after = text[start + name.length];
    return after === undefined || after === ":" || after === quote || after === " " || after === "\t";
  }

  private lines(): number[] {
    if (this.lineStarts === undefined) {
      const starts = [0];
      const text = this.text;
      for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
      this.lineStarts = starts;
    }
    return this.lineStarts;
  }
}

/** Where a node starts in the text: before its quote, anchor or tag. */
function offsetOf(event: Event): number {
  switch (event.type) {
    case EVENT_ID.MAPPING:
    case EVENT_ID.SEQUENCE:
      return earliest(event.start, event.anchorStart - 1, event.tagStart);
    case EVENT_ID.SCALAR: {
      const quoted = event.style === SCALAR_STYLE.SINGLE_QUOTED || event.style === SCALAR_STYLE.DOUBLE_QUOTED;
      return earliest(quoted ? event.valueStart - 1 : event.valueStart, event.anchorStart - 1, event.tagStart);
    }
    case EVENT_ID.ALIAS:
      return event.anchorStart - 1;
    default:
      return 0;
  }
}

function earliest(...offsets: number[]): number {
  let best = Number.POSITIVE_INFINITY;
  for (const o of offsets) if (o >= 0 && o < best) best = o;
  return Number.isFinite(best) ? best : 0;
}

/** Every file of a run, by path; locates origins lazily. */
export class Sources {
  private readonly files = new Map<string, SourceFile>();

  add(file: SourceFile): void {
    this.files.set(file.path, file);
  }

  get size(): number {
    return this.files.size;
  }

  get(path: string): SourceFile | undefined {
    return this.files.get(path);
  }

  /** `file:line:col` of an item, or of one of its fields (`locate(o, "links", 0, "operator")`). */
  locate(origin: Origin, ...path: (string | number)[]): Location {
    const file = this.files.get(origin.file);
    if (file === undefined) return { file: origin.file, line: 1, col: 1 };
    return file.at(file.find(origin.node, path));
  }

  /** Like `locate`, but the last step names the key itself (for an unknown or duplicate key). */
  locateKey(origin: Origin, ...path: (string | number)[]): Location {
    const file = this.files.get(origin.file);
    if (file === undefined) return { file: origin.file, line: 1, col: 1 };
    return file.at(file.find(origin.node, path, true));
  }
}
