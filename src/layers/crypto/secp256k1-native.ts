/**
 * Fastest `Secp256k1`: Bitcoin Core's libsecp256k1 as a native Node addon, the prebuilt binary of
 * the npm `secp256k1` package (v5, N-API; it ships builds for linux-x64 glibc and musl,
 * darwin-arm64 and win32-x64). Same interface and same results as the portable noble
 * implementation (`src/protocol/crypto/secp256k1.ts`) and the WASM one (`secp256k1-wasm.ts`):
 * the tests run all three on the same vectors and random inputs and require identical bytes
 * (RFC 6979 signatures included) and identical `undefined`/`false` on invalid input.
 *
 * The addon is loaded DIRECTLY (`node-gyp-build` on the package directory), never through the
 * package's `index.js`: that one silently falls back to a pure-JS implementation (`elliptic`)
 * when the binary does not load, which is slower than both our WASM and noble layers. Here a
 * platform without a binary gets `Unavailable`, and the production pick
 * (`secp256k1-best.ts`) moves on to WASM, then noble.
 *
 * The addon's methods are called raw (status codes, output buffers), without the package's
 * argument-checking wrapper: every length and range is checked here first, so the addon never
 * sees a value it would throw on. Every operation of the interface maps to one libsecp256k1
 * call (the scalar product is `seckey_tweak_mul`; the BOLT 8 ECDH is SHA256 of the compressed
 * shared point from `pubkey_tweak_mul`, libsecp256k1's default ECDH hash; `pointMultiplyTweakAdd`
 * is one public key recovery); no operation falls back to noble.
 *
 * Lives in `layers/` because loading a native binary is a side effect the pure core must not have.
 */
import { randomBytes } from "node:crypto"
import { createRequire } from "node:module"
import { dirname } from "node:path"
import { Result } from "effect"
import { pointMultiplyTweakAddWith, type Secp256k1 } from "../../protocol/crypto/secp256k1.ts"
import { sha256 } from "../../protocol/tx/bitcoin/hash.ts"

/**
 * The methods of the addon's `Secp256k1` class (`secp256k1` v5, `src/secp256k1.cc`) that this
 * layer calls. Each returns a status: 0 for success, another number for a failure; results are
 * written into the output buffer passed first, or, for the private-key tweaks, into the key.
 */
interface NativeAddon {
  readonly contextRandomize: (seed: Uint8Array | null) => number
  readonly privateKeyVerify: (seckey: Uint8Array) => number
  /** seckey := seckey + tweak (in place). */
  readonly privateKeyTweakAdd: (seckey: Uint8Array, tweak: Uint8Array) => number
  /** seckey := seckey * tweak (in place). */
  readonly privateKeyTweakMul: (seckey: Uint8Array, tweak: Uint8Array) => number
  readonly publicKeyVerify: (pubkey: Uint8Array) => number
  readonly publicKeyCreate: (output: Uint8Array, seckey: Uint8Array) => number
  readonly publicKeyCombine: (output: Uint8Array, pubkeys: ReadonlyArray<Uint8Array>) => number
  /** output := pubkey + tweak * G. */
  readonly publicKeyTweakAdd: (output: Uint8Array, pubkey: Uint8Array, tweak: Uint8Array) => number
  /** output := pubkey * tweak. */
  readonly publicKeyTweakMul: (output: Uint8Array, pubkey: Uint8Array, tweak: Uint8Array) => number
  /** RFC 6979 recoverable signature (low S) into `result.signature`, recovery id into `result.recid`. */
  readonly ecdsaSign: (result: { signature: Uint8Array; recid: number | null }, msg32: Uint8Array, seckey: Uint8Array) => number
  /** 0 = valid; 3 = does not verify (a high-S signature included); 1, 2 = unparseable signature or key. */
  readonly ecdsaVerify: (signature: Uint8Array, msg32: Uint8Array, pubkey: Uint8Array) => number
  readonly ecdsaRecover: (output: Uint8Array, signature: Uint8Array, recid: number, msg32: Uint8Array) => number
}

const ADDON_METHODS: ReadonlyArray<keyof NativeAddon> = [
  "contextRandomize",
  "privateKeyVerify",
  "privateKeyTweakAdd",
  "privateKeyTweakMul",
  "publicKeyVerify",
  "publicKeyCreate",
  "publicKeyCombine",
  "publicKeyTweakAdd",
  "publicKeyTweakMul",
  "ecdsaSign",
  "ecdsaVerify",
  "ecdsaRecover"
]

const isNativeAddon = (u: unknown): u is NativeAddon =>
  typeof u === "object" && u !== null && ADDON_METHODS.every((m) => typeof Reflect.get(u, m) === "function")

const isZero = (bytes: Uint8Array): boolean => {
  for (const b of bytes) if (b !== 0) return false
  return true
}

/** The interface over a loaded addon. */
const fromAddon = (addon: NativeAddon): Secp256k1 => {
  /** 32 bytes and 0 < value < n. */
  const isSecret = (bytes: Uint8Array): boolean => bytes.length === 32 && addon.privateKeyVerify(bytes) === 0
  /** 32 bytes and value < n (zero allowed). */
  const isScalarBelowN = (bytes: Uint8Array): boolean => bytes.length === 32 && (isZero(bytes) || addon.privateKeyVerify(bytes) === 0)
  /** A 33-byte compressed point on the curve (libsecp256k1 parses 33 bytes only with prefix 02/03). */
  const isCompressedPoint = (bytes: Uint8Array): boolean => bytes.length === 33 && addon.publicKeyVerify(bytes) === 0
  /** Runs `f` on a fresh 33-byte output; the point, or undefined on a failure status. */
  const point = (f: (out: Uint8Array) => number): Uint8Array | undefined => {
    const out = new Uint8Array(33)
    return f(out) === 0 ? out : undefined
  }
  /** Public key recovery on inputs of checked lengths and recovery id. */
  const recoverPoint = (signature: Uint8Array, recovery: number, digest: Uint8Array): Uint8Array | undefined =>
    point((out) => addon.ecdsaRecover(out, signature, recovery, digest))
  const pointTweakAdd = (p: Uint8Array, tweak: Uint8Array): Uint8Array | undefined => {
    if (p.length !== 33 || !isScalarBelowN(tweak)) return undefined
    return point((out) => addon.publicKeyTweakAdd(out, p, tweak))
  }
  const pointMultiply = (p: Uint8Array, scalar: Uint8Array): Uint8Array | undefined => {
    if (p.length !== 33 || !isSecret(scalar)) return undefined
    return point((out) => addon.publicKeyTweakMul(out, p, scalar))
  }
  const secretMultiply = (a: Uint8Array, b: Uint8Array): Uint8Array | undefined => {
    if (!isSecret(a) || !isSecret(b)) return undefined
    const product = a.slice()
    return addon.privateKeyTweakMul(product, b) === 0 ? product : undefined
  }
  const signRecoverable = (digest: Uint8Array, secret: Uint8Array, op: string): { signature: Uint8Array; recid: number | null } => {
    // Same contract as noble: a wrong-length digest or an invalid secret is a caller bug and throws.
    if (digest.length !== 32) throw new Error(`${op}: digest must be 32 bytes`)
    if (!isSecret(secret)) throw new Error(`${op}: invalid secret key`)
    const result = { signature: new Uint8Array(64), recid: null }
    if (addon.ecdsaSign(result, digest, secret) !== 0) throw new Error(`${op}: libsecp256k1 failed to sign`)
    return result
  }

  return {
    name: "libsecp256k1-native",
    publicKey: (secret) => (isSecret(secret) ? point((out) => addon.publicKeyCreate(out, secret)) : undefined),
    isValidSecret: isSecret,
    isValidPoint: isCompressedPoint,
    // BOLT 8 ECDH, SHA256 of the compressed shared point (libsecp256k1's default ECDH hash), made
    // from the point multiplication: the addon's own `ecdh` hands the point to a hash callback
    // through JS buffers (~76 us against ~55 us for this). The multiplication parses `pub`.
    ecdh: (secret, pub) => {
      if (!isSecret(secret) || pub.length !== 33) return undefined
      const shared = new Uint8Array(33)
      return addon.publicKeyTweakMul(shared, pub, secret) === 0 ? sha256(shared) : undefined
    },
    sign: (digest, secret) => signRecoverable(digest, secret, "sign").signature,
    verify: (signature, digest, publicKey) => {
      if (signature.length !== 64 || publicKey.length !== 33 || digest.length !== 32) return false
      return addon.ecdsaVerify(signature, digest, publicKey) === 0
    },
    signRecoverable: (digest, secret) => {
      const { signature, recid } = signRecoverable(digest, secret, "signRecoverable")
      if (recid === null) throw new Error("signRecoverable: libsecp256k1 gave no recovery id")
      return { signature, recovery: recid }
    },
    recover: (signature, recovery, digest) => {
      if (signature.length !== 64 || digest.length !== 32) return undefined
      if (recovery !== 0 && recovery !== 1 && recovery !== 2 && recovery !== 3) return undefined
      return recoverPoint(signature, recovery, digest)
    },
    // The point operations parse their points themselves (a point off the curve or with a bad
    // prefix is status 1, hence undefined): only the length is checked here, since the addon
    // would also parse a 65-byte uncompressed key. A separate `publicKeyVerify` would parse each
    // point twice (a square root each, ~2-5 us per call, 40+ calls per HTLC round trip).
    pointAdd: (a, b) => {
      if (a.length !== 33 || b.length !== 33) return undefined
      // Fails (status 2) when the sum is the point at infinity.
      return point((out) => addon.publicKeyCombine(out, [a, b]))
    },
    pointTweakAdd,
    pointMultiply,
    // Through recovery's double multiplication; where it refuses, the two plain calls decide
    // (and give the same refusals as noble).
    pointMultiplyTweakAdd: pointMultiplyTweakAddWith(recoverPoint, secretMultiply, pointMultiply, pointTweakAdd),
    secretAdd: (a, b) => {
      if (!isScalarBelowN(a) || !isScalarBelowN(b)) return undefined
      // libsecp256k1 wants a valid (nonzero) key as first operand; 0 + b = b.
      if (isZero(a)) return isZero(b) ? undefined : b.slice()
      const sum = a.slice()
      return addon.privateKeyTweakAdd(sum, b) === 0 ? sum : undefined
    },
    secretMultiply
  }
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/**
 * Loads the addon of the installed `secp256k1` package: its directory, then `node-gyp-build`
 * (its own dependency) on it, which picks `build/Release` if the package was compiled, else the
 * prebuild of this platform, arch and libc. Never `require("secp256k1")` (see the module doc).
 */
const loadAddon = (): Result.Result<NativeAddon, string> => {
  try {
    const packageJson = createRequire(import.meta.url).resolve("secp256k1/package.json")
    const load: unknown = createRequire(packageJson)("node-gyp-build")
    if (typeof load !== "function") return Result.fail("node-gyp-build is not a function")
    const binding: unknown = load(dirname(packageJson))
    const constructor: unknown = typeof binding === "object" && binding !== null ? Reflect.get(binding, "Secp256k1") : undefined
    if (typeof constructor !== "function") return Result.fail("the binding exports no Secp256k1 class")
    const addon: unknown = Reflect.construct(constructor, [])
    if (!isNativeAddon(addon)) return Result.fail("the binding lacks a method this layer needs")
    // Blinds the context's precomputed tables against side channels (results do not change).
    if (addon.contextRandomize(new Uint8Array(randomBytes(32))) !== 0) return Result.fail("context randomization failed")
    return Result.succeed(addon)
  } catch (e) {
    return Result.fail(describe(e))
  }
}

let loaded: Result.Result<Secp256k1, string> | undefined

/**
 * The native implementation, or why it is unavailable on this platform (no prebuilt binary, a
 * missing package...). Loads once; later calls return the same result.
 */
export const loadNativeSecp256k1 = (): Result.Result<Secp256k1, string> => {
  loaded ??= Result.map(loadAddon(), fromAddon)
  return loaded
}
