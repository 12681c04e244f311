/**
 * Expected weights of BOLT 3 Appendix A and BOLT 5 Appendix A: what fees are computed from
 * (signatures assumed 73 bytes). `commitmentWeight`/`htlc*Fee` in fees.ts apply them per
 * channel type; these are the raw figures, for fee estimation of sweeps and penalties.
 */
import type { ChannelType } from "../channel-type.ts"

/** Maximum size of a DER signature plus its sighash byte, as the expected weights assume. */
export const MAX_SIGNATURE_SIZE = 73

export const expectedCommitmentWeight = (type: ChannelType, untrimmedHtlcs: number): number =>
  type.commitmentBaseWeight + type.commitmentWeightPerHtlc * untrimmedHtlcs

export const expectedHtlcTimeoutWeight = (type: ChannelType): number => type.htlcTimeoutWeight
/** BOLT 3 uses 703/706 "for historical reasons"; the real maximum is one less. */
export const expectedHtlcSuccessWeight = (type: ChannelType): number => type.htlcSuccessWeight

/** BOLT 3: offered HTLC script 133 bytes (136 with anchors); accepted 140 (143) with a 4-byte cltv_expiry. */
export const offeredHtlcScriptSize = (type: ChannelType): number => (type.anchors ? 136 : 133)
export const acceptedHtlcScriptSize = (type: ChannelType): number => (type.anchors ? 143 : 140)

/** BOLT 5 Appendix A penalty witness sizes (bytes = weight units, witness data is not scaled). */
export const TO_LOCAL_PENALTY_WITNESS = 160
export const OFFERED_HTLC_PENALTY_WITNESS = 243
/** BOLT 5 counts the accepted script as 139 bytes (a 3-byte cltv_expiry); 250 with a 4-byte one. */
export const ACCEPTED_HTLC_PENALTY_WITNESS = 249

/**
 * BOLT 3 "Expected Weight of the Funding Transaction (v2 Channel Establishment)":
 * 4 * (43 + 41 * inputs + 9 * outputs + sum(scriptlen) + 10) + 2 + sum(witness_len),
 * where `outputs` and `scriptLengths` are the non-funding outputs.
 */
export const expectedFundingWeight = (inputs: number, nonFundingScriptLengths: ReadonlyArray<number>, witnessLengths: ReadonlyArray<number>): number => {
  const scripts = nonFundingScriptLengths.reduce((a, b) => a + b, 0)
  const witness = witnessLengths.reduce((a, b) => a + b, 0)
  return 4 * (43 + 41 * inputs + 9 * nonFundingScriptLengths.length + scripts + 10) + 2 + witness
}

/** The witness weight BOLT 2 / BOLT 3 Appendix G assume at least for each contributed input (P2WPKH). */
export const MIN_CONTRIBUTED_INPUT_WITNESS_WEIGHT = 107

/**
 * Weight a party pays for in an interactively built (dual-funded) transaction (BOLT 3
 * "Calculating Fees for Collaborative Transactions", Appendix G): its inputs and outputs, the
 * larger of its actual input witnesses and 107 per input, and for the initiator also the
 * common fields (counts, version, locktime, segwit marker and flag).
 */
export const contributionWeight = (p: {
  readonly initiator: boolean
  readonly inputs: number
  /** scriptPubKey lengths of the outputs this party adds (the initiator includes the funding output). */
  readonly outputScriptLengths: ReadonlyArray<number>
  /** Actual serialized witness sizes of this party's inputs. */
  readonly witnessSizes: ReadonlyArray<number>
}): number => {
  const common = p.initiator ? (1 + 1 + 4 + 4) * 4 + 2 : 0
  const inputs = (32 + 4 + 1 + 4) * p.inputs * 4
  const outputs = p.outputScriptLengths.reduce((a, len) => a + (8 + 1 + len) * 4, 0)
  const witness = Math.max(p.inputs * MIN_CONTRIBUTED_INPUT_WITNESS_WEIGHT, p.witnessSizes.reduce((a, b) => a + b, 0))
  return common + inputs + outputs + witness
}
