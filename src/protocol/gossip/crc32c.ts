/**
 * CRC32C (Castagnoli, RFC 3720 Appendix B.4): reflected polynomial 0x82F63B78, initial value
 * and final XOR 0xFFFFFFFF. BOLT 7 uses it for the `channel_update` checksums of
 * `reply_channel_range`. Table-driven, one byte at a time (a few hundred bytes per update).
 */
const TABLE = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

/** The CRC32C of `bytes` as an unsigned 32-bit number. */
export const crc32c = (bytes: Uint8Array, start = 0, end = bytes.length): number => {
  let c = 0xffffffff
  for (let i = start; i < end; i++) c = (TABLE[(c ^ (bytes[i] ?? 0)) & 0xff] ?? 0) ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
