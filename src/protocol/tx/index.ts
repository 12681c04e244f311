/**
 * BOLT 3 transactions, scripts and witnesses (and, under `./bitcoin/`, the generic Bitcoin
 * pieces they stand on). Pure code: no I/O, signing through a `Secp256k1` value.
 *
 * API (stable):
 * - Channel types: `../channel-type.ts` — `ChannelType` descriptor (weights, HTLC tx fee rule,
 *   anchors, sequences, remote HTLC sighash, output `scripts`), `staticRemoteKey`,
 *   `anchorsZeroFeeHtlcTx`, `channelTypeFromBits`.
 * - bitcoin/: `Transaction`/`TxInput`/`TxOutput`/`OutPoint`, `Txid` (internal byte order;
 *   `txidFromHex`/`txidToHex` use display order), `serializeTransaction(tx, {witness})`,
 *   `decodeTransaction(bytes): Result`, `decodeTransactionAt(bytes, offset): Result<{ tx, end }>` (one of several back to back), `txid`, `wtxid`, `weight`, `vsize`, `setWitness`,
 *   `makeInput`; script: `OP`, `compileScript`, `decompileScript: Result`, `num`, `p2wshScript`,
 *   `p2wpkhScript`, `p2trScript`, `p2pkhScript`; sighash: `segwitV0Sighash`, `legacySighashAll`,
 *   `SIGHASH_ALL`, `SIGHASH_SINGLE_ANYONECANPAY`; der: `compactToDer`, `derToCompact: Result`,
 *   `isLowS`, `encodeTxSignature(compact, sighash)` (witness form), `decodeTxSignature: Result`.
 * - scripts.ts: `fundingScript`, `toLocalScript`, `toRemoteAnchorsScript`, `anchorScript`,
 *   `offeredHtlcScript`, `receivedHtlcScript`, `htlcOutputScript`.
 * - witness.ts: a builder per spending path (funding, to_local delayed/revocation, to_remote,
 *   anchors and the 16-block sweep, HTLC revocation, HTLC-success/timeout, remote-side
 *   preimage claim of an offered HTLC and timeout claim of a received HTLC).
 * - fees.ts: `feeForWeight`, `commitmentFee`, `htlcTimeoutFee`, `htlcSuccessFee`, `isHtlcTrimmed`,
 *   `dustThreshold`/`isDust` (Bitcoin Core figures), `contributionFee` (collaborative txs, rounded up).
 * - commitment.ts: `buildCommitmentTransaction(params): Result<CommitmentTransaction, CommitmentError>`
 *   (outputs with kinds, `htlcOutputs` in tx order, `trimmedHtlcs`, fees), obscuring factor and
 *   obscured number helpers. `view.ts`: `buildCommitmentForSide(view, side)` from a channel view.
 * - commitment-builds.ts: `CommitmentBuilds` (bounded LRU memo of `buildCommitmentTransaction`, keyed by
 *   every input it reads; the result carries the caller's HTLC objects), `makeCommitmentBuilds(capacity)`,
 *   `sharedCommitmentBuilds` (the channel's builders and the in-process signer), and what is derived
 *   once per build: `commitmentTxid(commitment)`, `htlcTransactions(commitment)`, the digests behind
 *   `signing.ts`'s `commitmentSighash` / `htlcSighash` (objects the memo did not hand out: computed afresh).
 * - htlc.ts: `buildHtlcTransactions(commitment)` (in HTLC output order), `buildHtlcTransaction(commitment,
 *   txid, outputIndex): Result<_, HtlcTransactionError>`.
 * - signing.ts: `signInput`/`verifyInput`, `fundingSpendInput`/`finalizeFundingSpend` (commitment or
 *   closing), `signCommitment`, `verifyCommitmentSignature`,
 *   `finalizeCommitment`, `signHtlcAsRemote`, `signHtlcAsLocal`, `verifyRemoteHtlcSignature`,
 *   `finalizeHtlcTransaction: Result` (checks the preimage), `preimageMatches`. Signatures are
 *   compact 64-byte (the BOLT 2 wire form).
 * - funding.ts: `fundingOutput`. closing.ts: `buildLegacyClosingTransaction`,
 *   `buildSimpleClosingTransaction`, `simpleCloseVariantsToSign`, `isValidShutdownScript`.
 * - weights.ts: BOLT 3 / BOLT 5 expected weights; `contributionWeight` (dual-funded contributions,
 *   Appendix G).
 */
export * from "../channel-type.ts"
export * from "./bip69.ts"
export * from "./bitcoin/index.ts"
export * from "./closing.ts"
export * from "./commitment.ts"
export * from "./commitment-builds.ts"
export * from "./fees.ts"
export * from "./funding.ts"
export * from "./htlc.ts"
export * from "./scripts.ts"
export * from "./signing.ts"
export * from "./view.ts"
export * from "./weights.ts"
export * from "./witness.ts"
