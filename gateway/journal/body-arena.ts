// Where the SQLite journal keeps the bodies of appended batches until their commit: UTF-8 bytes in
// one reused buffer outside V8's heap, not strings in it.
//
// A body waits up to `commit_ms` (250 ms) for its commit; under load V8 scavenges its young
// generation every ~175 ms, so most bodies lived through two scavenges and were promoted to the old
// generation, where they stayed as garbage until the next full collection: measured at 10,000
// points/s (bench:modbus, --trace-gc-nvp), 88 KB promoted per scavenge, 0.5 MB/s, the largest part
// of the gateway's old-generation growth. Copied here at once, the string dies young.

const INITIAL_BYTES = 1 << 20;

export class BodyArena {
  #buf = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  #used = 0;

  /** Copies `text` in; the returned offset and `byteLength` of it find it again. */
  put(text: string): { off: number; len: number } {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const room = this.#used + 3 * text.length;
    if (room > this.#buf.length) this.#grow(room);
    const off = this.#used;
    const len = this.#buf.write(text, off, 'utf8');
    this.#used += len;
    return { off, len };
  }

  /** The bytes put at `off`: a view, valid until the next `clear`. */
  view(off: number, len: number): Buffer {
    return this.#buf.subarray(off, off + len);
  }

  text(off: number, len: number): string {
    return this.#buf.toString('utf8', off, off + len);
  }

  /** Everything put so far is done with. A buffer grown for an unusually large batch is given back. */
  clear(): void {
    this.#used = 0;
    if (this.#buf.length > 4 * INITIAL_BYTES) this.#buf = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  }

  #grow(atLeast: number): void {
    let size = this.#buf.length;
    while (size < atLeast) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.#buf.copy(next, 0, 0, this.#used);
    this.#buf = next;
  }
}
