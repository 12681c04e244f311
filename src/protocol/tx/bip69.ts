/**
 * BOLT 3 "Transaction Output Ordering": BIP 69 (value, then scriptPubKey as by memcmp with the
 * shorter first on a common prefix), then `cltv_expiry` for HTLC outputs. The sort is stable,
 * so fully identical outputs keep the caller's order.
 */
import { compareBytes } from "../bytes.ts"

export interface SortableOutput {
  readonly value: bigint
  readonly scriptPubKey: Uint8Array
  /** cltv_expiry for HTLC outputs; undefined otherwise. */
  readonly cltvExpiry?: number | undefined
}

export const compareOutputs = (a: SortableOutput, b: SortableOutput): number => {
  if (a.value !== b.value) return a.value < b.value ? -1 : 1
  const c = compareBytes(a.scriptPubKey, b.scriptPubKey)
  if (c !== 0) return c
  return (a.cltvExpiry ?? 0) - (b.cltvExpiry ?? 0)
}

export const sortOutputs = <T extends SortableOutput>(outputs: ReadonlyArray<T>): Array<T> => [...outputs].sort(compareOutputs)
