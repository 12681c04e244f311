/**
 * Address descriptors (BOLT 7 `node_announcement`, reused by `init`'s `remote_addr`, BOLT 1):
 * 1 = IPv4, 2 = IPv6, 3 = Tor v2 (deprecated, kept opaque), 4 = Tor v3, 5 = DNS hostname.
 * Addresses are bytes on the wire; `formatAddress` / `addressFromHostPort` convert to and
 * from the usual `host:port` text without any I/O.
 */
import { base32nopad } from "@scure/base"
import { Schema } from "effect"
import { concatBytes } from "../bytes.ts"
import type { Codec } from "../codec/fields.ts"
import { EncodeError, fail, InvalidFieldValue } from "../codec/errors.ts"
import type { Reader } from "../codec/reader.ts"
import type { Writer } from "../codec/writer.ts"

const Port = Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 0xffff })))
const hex = (n: number) => Schema.Uint8ArrayFromHex.pipe(Schema.check(Schema.isBetweenLength(n, n)))
const isAscii = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

export const Ipv4 = Schema.TaggedStruct("Ipv4", { addr: hex(4), port: Port })
export const Ipv6 = Schema.TaggedStruct("Ipv6", { addr: hex(16), port: Port })
/** Deprecated Tor v2 (type 3): the 12 bytes are kept so the record round-trips. */
export const TorV2 = Schema.TaggedStruct("TorV2", { data: hex(12) })
/** Tor v3: 32-byte ed25519 key || 2-byte checksum || 1-byte version. */
export const TorV3 = Schema.TaggedStruct("TorV3", { onion: hex(35), port: Port })
export const Dns = Schema.TaggedStruct("Dns", {
  hostname: Schema.String.pipe(
    Schema.check(Schema.isBetweenLength(0, 255)),
    Schema.check(Schema.makeFilter((s: string) => isAscii(s) || "hostname must be ASCII"))
  ),
  port: Port
})
export const AddressSchema = Schema.Union([Ipv4, Ipv6, TorV2, TorV3, Dns])
export type Address = typeof AddressSchema.Type

export const ADDRESS_IPV4 = 1
export const ADDRESS_IPV6 = 2
export const ADDRESS_TORV2 = 3
export const ADDRESS_TORV3 = 4
export const ADDRESS_DNS = 5

/** True for the descriptor types this module understands (1..5). */
export const isKnownAddressType = (type: number): boolean => type >= ADDRESS_IPV4 && type <= ADDRESS_DNS

/** Reads the body of a descriptor of known `type` (the type byte already read). Throws the sentinel. */
const readBody = (r: Reader, type: number): Address => {
  switch (type) {
    case ADDRESS_IPV4:
      return { _tag: "Ipv4", addr: r.bytes(4), port: r.u16() }
    case ADDRESS_IPV6:
      return { _tag: "Ipv6", addr: r.bytes(16), port: r.u16() }
    case ADDRESS_TORV2:
      return { _tag: "TorV2", data: r.bytes(12) }
    case ADDRESS_TORV3:
      return { _tag: "TorV3", onion: r.bytes(35), port: r.u16() }
    default: {
      const at = r.offset
      const len = r.u8()
      const raw = r.bytes(len)
      let hostname = ""
      for (const b of raw) {
        if (b > 0x7f) fail(new InvalidFieldValue({ at, field: "hostname", reason: "not ASCII" }))
        hostname += String.fromCharCode(b)
      }
      return { _tag: "Dns", hostname, port: r.u16() }
    }
  }
}

/** Reads one descriptor; an unknown type is an `InvalidFieldValue` (its length is unknowable). */
export const readAddress = (r: Reader): Address => {
  const at = r.offset
  const type = r.u8()
  if (!isKnownAddressType(type)) {
    return fail(new InvalidFieldValue({ at, field: "address descriptor", reason: `unknown type ${type}` }))
  }
  return readBody(r, type)
}

export const writeAddress = (w: Writer, a: Address): void => {
  switch (a._tag) {
    case "Ipv4":
      w.u8(ADDRESS_IPV4).fixed("ipv4_addr", a.addr, 4).u16(a.port)
      return
    case "Ipv6":
      w.u8(ADDRESS_IPV6).fixed("ipv6_addr", a.addr, 16).u16(a.port)
      return
    case "TorV2":
      w.u8(ADDRESS_TORV2).fixed("tor_v2", a.data, 12)
      return
    case "TorV3":
      w.u8(ADDRESS_TORV3).fixed("onion_addr", a.onion, 35).u16(a.port)
      return
    case "Dns": {
      // BOLT 7: the hostname is ASCII (non-ASCII names are sent as Punycode); the u8 length
      // below rejects one over 255 bytes.
      if (!isAscii(a.hostname)) throw new EncodeError({ field: "hostname", reason: "not ASCII" })
      const bytes = new Uint8Array(a.hostname.length)
      for (let i = 0; i < a.hostname.length; i++) bytes[i] = a.hostname.charCodeAt(i)
      w.u8(ADDRESS_DNS).u8(bytes.length).bytes(bytes).u16(a.port)
      return
    }
  }
}

/** One address descriptor filling a whole value (the `remote_addr` TLV of `init`). */
export const address: Codec<Address> = {
  read: (r) => readAddress(r),
  write: writeAddress,
  schema: AddressSchema,
  // The spec types `remote_addr` as `...*byte`: the descriptor is its own little format.
  wire: [{ element: "byte", count: "..." }]
}

/**
 * A list of descriptors filling a value (BOLT 7 `addresses`). Per BOLT 7 the receiver
 * ignores everything from the first descriptor of an unknown type: since descriptors are
 * ascending, later ones cannot be known either. Those bytes are kept in `unparsed`.
 */
export interface AddressList {
  readonly addresses: ReadonlyArray<Address>
  readonly unparsed: Uint8Array
}

const readAddressList = (r: Reader): AddressList => {
  const addresses: Array<Address> = []
  while (!r.atEnd) {
    const type = r.u8()
    if (!isKnownAddressType(type)) return { addresses, unparsed: concatBytes(Uint8Array.of(type), r.rest()) }
    addresses.push(readBody(r, type))
  }
  return { addresses, unparsed: new Uint8Array(0) }
}

export const addressList: Codec<AddressList> = {
  read: readAddressList,
  write: (w, a) => {
    for (const x of a.addresses) writeAddress(w, x)
    w.bytes(a.unparsed)
  },
  schema: Schema.Struct({ addresses: Schema.Array(AddressSchema), unparsed: Schema.Uint8ArrayFromHex }),
  wire: [{ element: "byte", count: "..." }]
}

// ---- text form ---------------------------------------------------------------------------------

const formatIpv6 = (b: Uint8Array): string => {
  const groups: Array<number> = []
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] ?? 0) << 8) | (b[i + 1] ?? 0))
  // Longest run of zero groups (length >= 2) becomes "::" (RFC 5952).
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hexes = groups.map((g) => g.toString(16))
  if (bestStart < 0) return hexes.join(":")
  return `${hexes.slice(0, bestStart).join(":")}::${hexes.slice(bestStart + bestLen).join(":")}`
}

/** RFC 4648 base32, lower case, as Tor writes onion names (10 and 35 bytes: no padding needed). */
const base32 = (b: Uint8Array): string => base32nopad.encode(b).toLowerCase()

/** `1.2.3.4:9735`, `[::1]:9735`, `xyz.onion:9735`, `host:9735`. */
export const formatAddress = (a: Address): string => {
  switch (a._tag) {
    case "Ipv4":
      return `${[...a.addr].join(".")}:${a.port}`
    case "Ipv6":
      return `[${formatIpv6(a.addr)}]:${a.port}`
    case "TorV2":
      return `${base32(a.data.subarray(0, 10))}.onion:${((a.data[10] ?? 0) << 8) | (a.data[11] ?? 0)}`
    case "TorV3":
      return `${base32(a.onion)}.onion:${a.port}`
    case "Dns":
      return `${a.hostname}:${a.port}`
  }
}

const parseIpv4 = (s: string): Uint8Array | undefined => {
  const parts = s.split(".")
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const p = parts[i] ?? ""
    if (!/^\d{1,3}$/.test(p)) return undefined
    const n = Number(p)
    if (n > 255) return undefined
    out[i] = n
  }
  return out
}

const parseIpv6 = (text: string): Uint8Array | undefined => {
  let s = text
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1)
  const pct = s.indexOf("%") // zone id: not part of the address
  if (pct >= 0) s = s.slice(0, pct)
  const halves = s.split("::")
  if (halves.length > 2) return undefined
  const parseGroups = (part: string): Array<number> | undefined => {
    if (part === "") return []
    const out: Array<number> = []
    const items = part.split(":")
    for (let i = 0; i < items.length; i++) {
      const item = items[i] ?? ""
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = parseIpv4(item)
        if (v4 === undefined) return undefined
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0))
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return undefined
        out.push(parseInt(item, 16))
      }
    }
    return out
  }
  const head = parseGroups(halves[0] ?? "")
  const tail = halves.length === 2 ? parseGroups(halves[1] ?? "") : []
  if (head === undefined || tail === undefined) return undefined
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail]
  const out = new Uint8Array(16)
  groups.forEach((g, i) => {
    out[2 * i] = g >>> 8
    out[2 * i + 1] = g & 0xff
  })
  return out
}

/**
 * The descriptor for a host string and port as a socket reports them (used to fill
 * `remote_addr`). IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes IPv4. Returns undefined for
 * text that is neither an IP address nor an ASCII hostname of at most 255 bytes.
 */
export const addressFromHostPort = (host: string, port: number): Address | undefined => {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) return undefined
  const v4 = parseIpv4(host)
  if (v4 !== undefined) return { _tag: "Ipv4", addr: v4, port }
  const v6 = parseIpv6(host)
  if (v6 !== undefined) {
    const mapped = v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff
    return mapped ? { _tag: "Ipv4", addr: v6.slice(12), port } : { _tag: "Ipv6", addr: v6, port }
  }
  // Digits and dots only is a malformed IPv4 address, not a hostname.
  if (host.length === 0 || host.length > 255 || !/^[A-Za-z0-9.-]+$/.test(host) || /^[\d.]+$/.test(host)) return undefined
  return { _tag: "Dns", hostname: host, port }
}
