/** Channel monitors: state, updates, and the pure rules between them (see `apply.ts`). */
export * from "./apply.ts"
export * from "./query.ts"
export * from "./secrets.ts"
export * from "./state.ts"
export * from "./revoked.ts"
export * from "./update.ts"
export * from "./onchain.ts"
export * from "./balances.ts"
