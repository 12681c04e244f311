/**
 * Where the official BOLT test vectors are: `../shared/vectors` beside the project checkout
 * (as in CI), resolved from this file so tests run from any working directory.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

export const VECTORS_DIR = fileURLToPath(new URL("../../shared/vectors", import.meta.url))

/** Parses a vector file, e.g. `readVectors("bolt03-funding-tx.json")`. */
export const readVectors = (relativePath: string): unknown =>
  JSON.parse(readFileSync(`${VECTORS_DIR}/${relativePath}`, "utf8"))
