import { describe, expect, it } from "vitest"

describe("toolchain", () => {
  it("runs on the pinned Node (>= 22.19), not the system Node", () => {
    const [major, minor] = process.versions.node.split(".").map(Number)
    expect((major ?? 0) * 100 + (minor ?? 0)).toBeGreaterThanOrEqual(2219)
  })
})
