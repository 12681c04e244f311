/**
 * `effect-lightning/api`: the HTTP control API: its declaration (for servers and typed clients),
 * handlers, the server layer (bearer token required), the typed client (`ControlApiClient.make`)
 * and the daemon (`runNode`).
 */
export * from "./ApiShutdown.ts"
export * from "./ApiToken.ts"
export * from "./BalancesApi.ts"
export * from "./BalancesHandlers.ts"
export * from "./BearerAuth.ts"
export * as ControlApiClient from "./ControlApiClient.ts"
export * from "./ChannelsApi.ts"
export * from "./ChannelsHandlers.ts"
export * from "./ControlApi.ts"
export * from "./ControlApiServer.ts"
export * from "./errors.ts"
export * from "./InvoicesApi.ts"
export * from "./InvoicesHandlers.ts"
export * from "./NodeApi.ts"
export * from "../daemon/NodeDaemon.ts"
export * from "./NodeHandlers.ts"
export * from "./PeersApi.ts"
export * from "./PeersHandlers.ts"
export * from "./schemas.ts"
export * from "./WalletApi.ts"
export * from "./WalletHandlers.ts"
