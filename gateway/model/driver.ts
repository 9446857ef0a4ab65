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
  close(): Promise<void>;
}
