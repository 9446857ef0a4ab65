// OPC UA values and status codes into the gateway's samples. StatusCode severity is the top two
// bits (Part 4 §7.34.1): 00 Good, 01 Uncertain, 10 Bad; the value of a Bad reading is not passed on
// as if it were one. Pure: it takes the library's DataValue shape, not the library.
import { shortestFloat32, type Quality, type Value } from '../../gateway/model/index.ts';

/** The parts of node-opcua's DataValue this needs. */
export interface DataValueLike {
  value?: { dataType: number; arrayType?: number; value: unknown } | null;
  statusCode?: { value: number } | null;
  sourceTimestamp?: Date | null;
  serverTimestamp?: Date | null;
}

/** Part 6 §5.1.2 built-in types, as node-opcua numbers them. */
const DT = { Null: 0, Boolean: 1, Int64: 8, UInt64: 9, Float: 10, String: 12, DateTime: 13, Guid: 14, ByteString: 15, NodeId: 17, StatusCode: 19, QualifiedName: 20, LocalizedText: 21 } as const;

export function qualityOf(statusCode: number): Quality {
  const severity = statusCode >>> 30;
  return severity === 0 ? 'good' : severity === 1 ? 'uncertain' : 'bad';
}

/** node-opcua gives Int64 / UInt64 as [high, low] 32-bit words. Exact up to 2^53, like Modbus int64. */
function int64(v: unknown, signed: boolean): number {
  if (!Array.isArray(v) || v.length !== 2) return Number(v);
  const [hi, lo] = v as [number, number];
  const high = signed && hi & 0x8000_0000 ? hi - 0x1_0000_0000 : hi;
  return high * 0x1_0000_0000 + (lo >>> 0);
}

/** One scalar; arrays and structures come out as JSON text, so they are carried, not lost. */
export function valueOf(variant: DataValueLike['value']): Value | null {
  if (!variant || variant.dataType === DT.Null) return null;
  const v = variant.value;
  if (variant.arrayType !== undefined && variant.arrayType !== 0) return JSON.stringify(Array.from(v as ArrayLike<unknown>, (x) => scalar(variant.dataType, x)));
  return scalar(variant.dataType, v);
}

function scalar(dataType: number, v: unknown): Value | null {
  if (v === null || v === undefined) return null;
  switch (dataType) {
    case DT.Boolean: return Boolean(v);
    case DT.Int64: return int64(v, true);
    case DT.UInt64: return int64(v, false);
    case DT.Float: return shortestFloat32(v as number);
    case DT.DateTime: return (v as Date).getTime();
    case DT.String: return v as string;
    case DT.LocalizedText: return (v as { text?: string | null }).text ?? null;
    case DT.ByteString: return Buffer.isBuffer(v) ? v.toString('base64') : String(v);
    case DT.StatusCode: return (v as { value: number }).value;
    default:
      if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
      return String(v);
  }
}

/** The sample's time: the timestamp chosen, else the other one, else the time of receipt. */
export function timeOf(dv: DataValueLike, which: 'source' | 'server', received: number): number {
  const first = which === 'source' ? dv.sourceTimestamp : dv.serverTimestamp;
  const second = which === 'source' ? dv.serverTimestamp : dv.sourceTimestamp;
  const t = first?.getTime() ?? second?.getTime();
  // node-opcua decodes a missing timestamp as the epoch or year 1601: not a time anyone measured.
  return t !== undefined && t > 946_684_800_000 ? t : received;
}
