// Float32 values as people read them. Shared by every driver whose devices send IEEE 754 singles
// (Modbus registers, OPC UA Float), so 0.1 is shown as 0.1, not 0.10000000149011612.

/** The shortest decimal (≤ 9 significant digits, FLT_DECIMAL_DIG) that converts back to f's float32. */
export function shortestFloat32(f: number): number {
  if (!Number.isFinite(f)) return f;
  if (f === 0) return 0;
  for (let p = 1; p < 9; p++) {
    const d = Number(f.toPrecision(p));
    if (Math.fround(d) === f) return d;
  }
  return Number(f.toPrecision(9));
}
