/**
 * Payments as pure code (BOLT 4 and 11, issue 8): routes and their onion payloads (`route`),
 * the final node's checks and multi-part sets (`receive`), the forwarding policy checks
 * (`forward`), and the records the payment layer stores (`records`). The actor is
 * `src/actors/Payments.ts`.
 */
export * from "./route.ts"
export * from "./receive.ts"
export * from "./forward.ts"
export * from "./records.ts"
export * from "./failure-update.ts"
export * from "./blinded.ts"
