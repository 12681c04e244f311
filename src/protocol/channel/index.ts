/**
 * The channel state machine (BOLT 2): its data (`params`, `state`, `io`), its rules (`open`,
 * `commitments`, `close`, `reestablish`) and the reducer that composes them (`step`).
 */
export * from "./close.ts"
export * from "./commitments.ts"
export * from "./config.ts"
export * from "./errors.ts"
export * from "./io.ts"
export * from "./open.ts"
export * from "./params.ts"
export { dropUncommittedRemote, reestablishFor } from "./reestablish.ts"
export * from "./state.ts"
export {
  acceptChannel,
  AliasRequired,
  InvalidFundingTransaction,
  openChannel,
  step,
  UnexpectedInput,
  type AcceptChannelArgs,
  type OpenChannelArgs,
  type Step,
  type StepContext,
  type StepError
} from "./step.ts"
