/**
 * A growable byte writer for Bitcoin's little-endian serialization (integers, CompactSize,
 * length-prefixed byte strings). Internal to the transaction/sighash code.
 */
export class ByteWriter {
  private buf: Uint8Array
  private len = 0

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity)
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return
    let cap = this.buf.length * 2
    while (cap < this.len + extra) cap *= 2
    const next = new Uint8Array(cap)
    next.set(this.buf.subarray(0, this.len))
    this.buf = next
  }

  u8(value: number): this {
    this.ensure(1)
    this.buf[this.len++] = value & 0xff
    return this
  }

  u32le(value: number): this {
    this.ensure(4)
    const v = value >>> 0
    this.buf[this.len++] = v & 0xff
    this.buf[this.len++] = (v >>> 8) & 0xff
    this.buf[this.len++] = (v >>> 16) & 0xff
    this.buf[this.len++] = (v >>> 24) & 0xff
    return this
  }

  u64le(value: bigint): this {
    this.ensure(8)
    let v = BigInt.asUintN(64, value)
    for (let i = 0; i < 8; i++) {
      this.buf[this.len++] = Number(v & 0xffn)
      v >>= 8n
    }
    return this
  }

  /** Bitcoin CompactSize ("varint"). */
  compactSize(value: number): this {
    if (value < 0xfd) return this.u8(value)
    if (value <= 0xffff) return this.u8(0xfd).u8(value).u8(value >>> 8)
    if (value <= 0xffffffff) return this.u8(0xfe).u32le(value)
    return this.u8(0xff).u64le(BigInt(value))
  }

  bytes(data: Uint8Array): this {
    this.ensure(data.length)
    this.buf.set(data, this.len)
    this.len += data.length
    return this
  }

  /** CompactSize length followed by the bytes. */
  varBytes(data: Uint8Array): this {
    return this.compactSize(data.length).bytes(data)
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len)
  }
}

export const compactSizeLength = (value: number): number =>
  value < 0xfd ? 1 : value <= 0xffff ? 3 : value <= 0xffffffff ? 5 : 9
