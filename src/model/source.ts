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
 * One inventory file after reading: its decoded text and, once parsed, its
 * event stream. Line starts are computed only when a finding needs a position.
 */
export class SourceFile {
  readonly path: string;
  readonly text: string;
  events: Event[] = [];
  private lineStarts: number[] | undefined;

  constructor(path: string, text: string) {
    this.path = path;
    this.text = text;
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

  /** Where the node opened by event `index` starts (before its quote, anchor or tag). */
  offsetOf(index: number): number {
    const event = this.events[index];
    if (event === undefined) return 0;
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

  at(index: number): Location {
    return this.position(this.offsetOf(index));
  }

  /** The index just past the node that starts at `index`. */
  skip(index: number): number {
    const event = this.events[index];
    if (event === undefined) return index + 1;
    if (event.type !== EVENT_ID.MAPPING && event.type !== EVENT_ID.SEQUENCE) return index + 1;
    let depth = 0;
    let i = index;
    for (; i < this.events.length; i++) {
      const type = this.events[i]?.type;
      if (type === EVENT_ID.MAPPING || type === EVENT_ID.SEQUENCE) depth++;
      else if (type === EVENT_ID.POP && --depth === 0) return i + 1;
    }
    return i;
  }

  /**
   * The node reached from `node` by a path of mapping keys and sequence
   * indexes; as deep as the path exists. With `key`, the last step gives the
   * key's node instead of its value.
   */
  find(node: number, path: readonly (string | number)[], key = false): number {
    let current = node;
    for (let step = 0; step < path.length; step++) {
      const part = path[step];
      const event = this.events[current];
      if (event === undefined) return current;
      let i = current + 1;
      let found = -1;
      if (event.type === EVENT_ID.MAPPING && typeof part === "string") {
        while (this.events[i] !== undefined && this.events[i]?.type !== EVENT_ID.POP) {
          const k = this.events[i];
          const valueAt = this.skip(i);
          if (k?.type === EVENT_ID.SCALAR && getScalarValue(this.text, k) === part) {
            found = key && step === path.length - 1 ? i : valueAt;
            break;
          }
          i = this.skip(valueAt);
        }
      } else if (event.type === EVENT_ID.SEQUENCE && typeof part === "number") {
        for (let n = 0; this.events[i] !== undefined && this.events[i]?.type !== EVENT_ID.POP; n++) {
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
