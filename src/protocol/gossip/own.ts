/**
 * What our own `node_announcement` may carry (BOLT 7 "The `node_announcement` Message",
 * requirements of the origin node), checked before anything is signed: the daemon's `--alias`,
 * `--color` and `--announce-addr` go through these, so a bad flag is refused at start instead of
 * producing an announcement peers ignore.
 *
 * - `alias`: valid UTF-8, at most 32 bytes, trailing bytes zero (`aliasBytes`).
 * - `rgb_color`: three bytes, red first (`parseColor`: `RRGGBB` in hex).
 * - `addresses`: ascending by descriptor type, no port 0 for IPv4/IPv6/DNS (nor for Tor v3,
 *   which is useless without one), at most one DNS hostname, no Tor v2 (`ownAddresses`).
 */
import { base32nopad } from "@scure/base"
import { Result } from "effect"
import {
  type Address,
  ADDRESS_DNS,
  ADDRESS_IPV4,
  ADDRESS_IPV6,
  ADDRESS_TORV2,
  ADDRESS_TORV3,
  addressFromHostPort,
  formatAddress
} from "../messages/address.ts"

/** BOLT 7: `alias` is 32 bytes. */
export const ALIAS_BYTES = 32

/** The 32-byte `alias` field for `text`: UTF-8, zero-padded; fails when it does not fit. */
export const aliasBytes = (text: string): Result.Result<Uint8Array, string> => {
  const bytes = new TextEncoder().encode(text)
  if (bytes.length > ALIAS_BYTES) return Result.fail(`alias is ${bytes.length} bytes of UTF-8, at most ${ALIAS_BYTES}`)
  if (bytes.includes(0)) return Result.fail("alias must not contain a zero byte")
  const out = new Uint8Array(ALIAS_BYTES)
  out.set(bytes)
  return Result.succeed(out)
}

/** `RRGGBB` (hex, an optional leading `#`) as BOLT 7 `rgb_color` (red, green, blue). */
export const parseColor = (text: string): Result.Result<readonly [number, number, number], string> => {
  const m = /^#?([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})$/.exec(text)
  if (m === null) return Result.fail(`color expects RRGGBB in hex, got '${text}'`)
  return Result.succeed([parseInt(m[1] ?? "0", 16), parseInt(m[2] ?? "0", 16), parseInt(m[3] ?? "0", 16)])
}

/** The BOLT 7 address descriptor type (the order addresses must be placed in). */
export const addressType = (a: Address): number => {
  switch (a._tag) {
    case "Ipv4":
      return ADDRESS_IPV4
    case "Ipv6":
      return ADDRESS_IPV6
    case "TorV2":
      return ADDRESS_TORV2
    case "TorV3":
      return ADDRESS_TORV3
    case "Dns":
      return ADDRESS_DNS
  }
}

/**
 * One address as an operator writes it: `1.2.3.4:9735`, `[2001:db8::1]:9735`,
 * `host.example.com:9735` (a DNS hostname) or `<56 base32 characters>.onion:9735` (Tor v3).
 */
export const parseAnnounceAddress = (text: string): Result.Result<Address, string> => {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text)
  const host = m?.[1] ?? m?.[2]
  const port = Number(m?.[3] ?? "")
  if (m === null || host === undefined || !Number.isInteger(port) || port > 0xffff) {
    return Result.fail(`address expects HOST:PORT (IPv6 as [ADDR]:PORT), got '${text}'`)
  }
  if (host.toLowerCase().endsWith(".onion")) {
    const name = host.slice(0, -".onion".length).toUpperCase()
    if (name.length === 16) return Result.fail(`Tor v2 onion services are not announced (BOLT 7), got '${text}'`)
    if (!/^[A-Z2-7]{56}$/.test(name)) return Result.fail(`a Tor v3 onion name is 56 base32 characters, got '${text}'`)
    const onion = base32nopad.decode(name)
    if (onion[34] !== 3) return Result.fail(`not a Tor v3 onion name (version byte ${onion[34] ?? 0}), got '${text}'`)
    return Result.succeed({ _tag: "TorV3", onion, port })
  }
  const a = addressFromHostPort(host, port)
  return a === undefined ? Result.fail(`not an IP address nor an ASCII hostname: '${host}'`) : Result.succeed(a)
}

/**
 * Our announced addresses as BOLT 7 wants them placed: sorted by type (stable), each with a
 * port, at most one DNS hostname, no Tor v2.
 */
export const ownAddresses = (addresses: ReadonlyArray<Address>): Result.Result<ReadonlyArray<Address>, string> => {
  let dns = 0
  for (const a of addresses) {
    if (a._tag === "TorV2") return Result.fail("Tor v2 onion services are not announced (BOLT 7)")
    if (a.port === 0) return Result.fail(`address ${formatAddress(a)} has port 0 (BOLT 7: MUST NOT)`)
    if (a._tag === "Dns" && ++dns > 1) return Result.fail("at most one DNS hostname may be announced (BOLT 7)")
  }
  return Result.succeed([...addresses].sort((x, y) => addressType(x) - addressType(y)))
}
