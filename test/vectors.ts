/**
 * Where the official BOLT test vectors are: `test/vectors`, a copy carried in the repository
 * (see its README for the spec commit they were extracted from), so `npm test` needs nothing
 * outside the checkout. Resolved from this file so tests run from any working directory.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

export const VECTORS_DIR = fileURLToPath(new URL("./vectors", import.meta.url))

/** Parses a vector file, e.g. `readVectors("bolt03-funding-tx.json")`. */
export const readVectors = (relativePath: string): unknown =>
  JSON.parse(readFileSync(`${VECTORS_DIR}/${relativePath}`, "utf8"))
