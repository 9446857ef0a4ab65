// The one interface the scheduler sees. A driver reads its device; it never publishes, journals or
// judges. One driver instance per device.
import type { Sample, Value } from './sample.ts';
import type { CodedError } from './errors.ts';

export interface ScanResult {
  /** One sample per configured tag, in configuration order: bad quality where the read failed. */
  readonly samples: Sample[];
  /** Requests sent during this scan (for metrics and the read-plan check). */
  readonly requests: number;
  /** Set when the device as a whole did not answer (connect failure, timeout): every tag is bad. */
  readonly error?: CodedError;
  /** Why individual tags are bad (isolated address, decode failure), by tag name. */
  readonly tagErrors?: ReadonlyMap<string, CodedError>;
}

export interface DeviceDriver {
  readonly deviceId: string;
  /** Reads every tag once. Device faults are reported in the result, not thrown. */
  scan(signal: AbortSignal): Promise<ScanResult>;
  /** Human lines describing the requests of one scan (`cityedge check`). */
  readPlan(): string[];
  /** Requests one healthy scan sends. */
  readonly requestsPerScan: number;
  /**
   * Drivers whose devices take writes: a tag marked writable, within its limits, written and read
   * back; resolves with the value the device holds afterwards. Refusals are coded errors.
   */
  write?(tag: string, value: Value): Promise<Value | null>;
  /**
   * Drivers fed by pushed messages (sensors): the scheduler hands them a function that starts a
   * scan now. They call it when what they hold reaches HANDOFF_SAMPLES, so a flood is passed on in
   * small batches instead of piling up until the next poll (and living long enough to be promoted
   * to the old generation: 800 MB under a network server replaying its queue, before this).
   */
  wakeWith?(wake: () => void): void;
  close(): Promise<void>;
}

/** Samples a pushed driver holds before it asks for an early scan. */
export const HANDOFF_SAMPLES = 2000;
