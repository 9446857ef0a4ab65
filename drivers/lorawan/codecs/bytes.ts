// Byte readers shared by the codecs. docs/drivers/lorawan-codecs.md: every multi-byte integer is
// big-endian. Direct byte math on the Uint8Array (no DataView) works for any view, including a
// Buffer slice of Node's pool with a non-zero byteOffset, and allocates nothing.
// The caller (decodeFrame) has checked the frame length, so `?? 0` never fires; it only satisfies
// noUncheckedIndexedAccess without a non-null assertion per read.

export const u8 = (f: Uint8Array, i: number): number => f[i] ?? 0;
/** Two's complement: shift the byte into the sign position of an int32 and back. */
export const i8 = (f: Uint8Array, i: number): number => ((f[i] ?? 0) << 24) >> 24;
export const u16 = (f: Uint8Array, i: number): number => ((f[i] ?? 0) << 8) | (f[i + 1] ?? 0);
export const i16 = (f: Uint8Array, i: number): number => (u16(f, i) << 16) >> 16;
export const bit = (f: Uint8Array, i: number, n: number): boolean => ((f[i] ?? 0) & (1 << n)) !== 0;

/** The "no reading" value of a uint16 field (manhole water level and methane, waterlog depth). */
export const NO_READING_U16 = 0xffff;
