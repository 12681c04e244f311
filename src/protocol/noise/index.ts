export * from "./errors.ts"
export * from "./handshake.ts"
export * from "./transport.ts"
