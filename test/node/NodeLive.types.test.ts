/**
 * `NodeLive.layer`'s static type says what it provides: the chain (`ChainSource`, `Broadcaster`,
 * `FeeEstimator`), `Wallet`, `WalletFunding` and `MonitorChain` only when `bitcoind` is in the
 * options' type. A node built without a chain has none of them at run time either (the API
 * handlers look them up with `Effect.serviceOption`). The type assertions are checked by `tsc`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, FileSystem, Layer, Option } from "effect"
import { NodeServices } from "@effect/platform-node"
import { expectTypeOf } from "vitest"
import { ChannelManager } from "../../src/actors/ChannelManager.ts"
import { MonitorChain } from "../../src/actors/MonitorChain.ts"
import { Payments } from "../../src/actors/Payments.ts"
import { PeerManager } from "../../src/actors/PeerManager.ts"
import { Wallet } from "../../src/actors/Wallet.ts"
import { WalletFunding } from "../../src/actors/WalletFunding.ts"
import type { BitcoindConfig } from "../../src/layers/chain/BitcoindChain.ts"
import * as NodeLive from "../../src/node/NodeLive.ts"
import type { Broadcaster } from "../../src/services/Broadcaster.ts"
import { ChainSource } from "../../src/services/ChainSource.ts"
import type { FeeEstimator } from "../../src/services/FeeEstimator.ts"

const withChain = (bitcoind: BitcoindConfig) => NodeLive.layer({ dataDir: "unused", bitcoind })
const withoutChain = () => NodeLive.layer({ dataDir: "unused" })
const daemonLike = (bitcoind: BitcoindConfig | undefined) => NodeLive.layer({ dataDir: "unused", ...(bitcoind === undefined ? {} : { bitcoind }) })

type ChainServices = ChainSource | Broadcaster | FeeEstimator | Wallet | WalletFunding | MonitorChain

describe("NodeLive.layer's output type", () => {
  it("lists the chain services exactly when bitcoind is in the options' type", () => {
    expectTypeOf<Extract<Layer.Success<ReturnType<typeof withChain>>, ChainServices>>().toEqualTypeOf<ChainServices>()
    expectTypeOf<Extract<Layer.Success<ReturnType<typeof withoutChain>>, ChainServices>>().toEqualTypeOf<never>()
    expectTypeOf<Extract<Layer.Success<ReturnType<typeof daemonLike>>, ChainServices>>().toEqualTypeOf<never>()
    expectTypeOf<PeerManager | ChannelManager | Payments>().toExtend<Layer.Success<ReturnType<typeof withoutChain>>>()
    // Same node services either way.
    expectTypeOf<Exclude<Layer.Success<ReturnType<typeof withChain>>, ChainServices>>().toEqualTypeOf<
      Layer.Success<ReturnType<typeof withoutChain>>
    >()
  })

  it.effect("a node without a chain provides no chain service at run time", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dataDir = yield* fs.makeTempDirectoryScoped({ prefix: "ln-node-types-" })
      const context = yield* Layer.build(NodeLive.layer({ dataDir, listen: { host: "127.0.0.1", port: 0 } }))
      assert.isTrue(Option.isSome(Context.getOption(context, PeerManager)))
      assert.isTrue(Option.isSome(Context.getOption(context, Payments)))
      assert.isTrue(Option.isNone(Context.getOption(context, ChainSource)))
      assert.isTrue(Option.isNone(Context.getOption(context, Wallet)))
      assert.isTrue(Option.isNone(Context.getOption(context, WalletFunding)))
      assert.isTrue(Option.isNone(Context.getOption(context, MonitorChain)))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})
