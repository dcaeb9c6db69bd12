import { EVENT_ID, type Event, getScalarValue, SCALAR_STYLE } from "js-yaml";
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
 * A parsed file in the form that crosses threads (`model/parallel.ts`): its
 * text and the typed arrays of its nodes, which are transferred, not copied.
 * Enough for the schema stage and for every later finding's position.
 */
export interface CompactSource {
  readonly path: string;
  readonly text: string;
  readonly kinds: Uint8Array;
  readonly offsets: Int32Array;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  readonly styles: Uint8Array;
  /** The values of the scalars whose value is not their text as written (escapes, folds), by node. */
  readonly decoded: readonly (readonly [number, string])[];
}

/** In `styles`: the scalar's value is its text as written (js-yaml's `fast`). */
const FAST = 0x80;

/**
 * One inventory file after reading: its decoded text and, once parsed, its
 * event stream. The parse and value-scan stages walk the full events; they
 * are compacted at once into typed arrays (kind, offset; for scalars where
 * the value starts and ends, and its style), which the schema stage reads,
 * and which can be handed to another thread without a copy. Afterwards only
 * kind and offset are kept, so a national run keeps a few bytes per node, not
 * an object, for the positions later findings may need. Line starts are
 * computed only when a finding needs one.
 */
export class SourceFile {
  readonly path: string;
  readonly text: string;
  private full: Event[] = [];
  /** Each node's event type (EVENT_ID); read-only outside this class. */
  kinds: Uint8Array = new Uint8Array(0);
  /** Where each node starts (before a quote). */
  private offsets: Int32Array = new Int32Array(0);
  /** For scalars, where the value's text starts and ends (-1: no value, as in `key:`); until `release`. */
  starts: Int32Array = new Int32Array(0);
  ends: Int32Array = new Int32Array(0);
  /** For scalars, the style (SCALAR_STYLE), with FAST set when the value is the text as written; until `release`. */
  styles: Uint8Array = new Uint8Array(0);
  private decoded = new Map<number, string>();
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

  /** A file parsed elsewhere (another thread), ready for the schema stage. */
  static fromCompact(compact: CompactSource): SourceFile {
    const file = new SourceFile(compact.path, compact.text);
    file.kinds = compact.kinds;
    file.offsets = compact.offsets;
    file.starts = compact.starts;
    file.ends = compact.ends;
    file.styles = compact.styles;
    file.decoded = new Map(compact.decoded);
    return file;
  }

  /** This file for `fromCompact`, and the buffers to transfer rather than copy. */
  toCompact(): { compact: CompactSource; transfer: ArrayBuffer[] } {
    const { path, text, kinds, offsets, starts, ends, styles } = this;
    const compact: CompactSource = { path, text, kinds, offsets, starts, ends, styles, decoded: [...this.decoded] };
    const transfer = [kinds, offsets, starts, ends, styles].map((a) => a.buffer).filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
    return { compact, transfer };
  }

  /** The full events, for the parse and value-scan stages (empty for a file from `fromCompact`). */
  get events(): Event[] {
    return this.full;
  }

  set events(events: Event[]) {
    this.full = events;
    const n = events.length;
    this.kinds = new Uint8Array(n);
    this.offsets = new Int32Array(n);
    this.starts = new Int32Array(n).fill(-1);
    this.ends = new Int32Array(n).fill(-1);
    this.styles = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
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
          if (event.type !== EVENT_ID.SCALAR) break;
          this.starts[i] = event.valueStart;
          this.ends[i] = event.valueEnd;
          this.styles[i] = event.style | (event.fast ? FAST : 0);
          if (!event.fast && event.valueStart >= 0) this.decoded.set(i, getScalarValue(this.text, event));
          // An empty value (`name:`) has no position of its own: point at its key.
          if (event.valueStart < 0 && i > 0) this.offsets[i] = this.offsets[i - 1] ?? 0;
          else if (!event.fast || event.style !== SCALAR_STYLE.PLAIN) this.spelt.push(i);
      }
    }
  }

  /** A scalar's value (js-yaml's `getScalarValue`): its text as written, or decoded when escaped or folded. */
  value(i: number): string {
    const start = this.starts[i] ?? -1;
    if (start < 0) return "";
    if (((this.styles[i] ?? 0) & FAST) !== 0) return this.text.slice(start, this.ends[i]);
    return this.decoded.get(i) ?? this.text.slice(start, this.ends[i]);
  }

  /** A scalar's style (SCALAR_STYLE). */
  style(i: number): number {
    return (this.styles[i] ?? 0) & ~FAST;
  }

  /** Whether the scalar at `i` is written plain with its value as written: the text between `starts[i]` and `ends[i]` is the value. */
  plainAsWritten(i: number): boolean {
    return this.styles[i] === (SCALAR_STYLE.PLAIN | FAST);
  }

  /** Drop what only the parse and schema stages need once they are done with it. */
  release(): void {
    this.full = [];
    this.starts = new Int32Array(0);
    this.ends = new Int32Array(0);
    this.styles = new Uint8Array(0);
    this.decoded = new Map();
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
