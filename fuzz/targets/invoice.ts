/**
 * BOLT 11 decoder: any string gives a typed result, never an exception; and any invoice that
 * decodes re-encodes to the same (lowercase) string, since decoding keeps every field.
 */
import { Result } from "effect"
import { nobleSecp256k1 } from "../../src/protocol/crypto/secp256k1.ts"
import { decodeInvoice, encodeInvoice } from "../../src/protocol/invoice/index.ts"

const PREFIX = "lnbc1"

/** Spec examples (BOLT 11 "Examples"), so mutations start from valid invoices. */
export const seeds: ReadonlyArray<Uint8Array> = [
  "lnbc1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6twvus8g6rfwvs8qun0dfjkxaq9qrsgq357wnc5r2ueh7ck6q93dj32dlqnls087fxdwk8qakdyafkq3yap9us6v52vjjsrvywa6rt52cm9r9zqt8r2t7mlcwspyetp5h2tztugp9lfyql",
  "lnbc20m1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqsfpp3qjmp7lwpagxun9pygexvgpjdc4jdj85fr9yq20q82gphp2nflc7jtzrcazrra7wwgzxqc8u7754cdlpfrmccae92qgzqvzq2ps8pqqqqqqpqqqqq9qqqvpeuqafqxu92d8lr6fvg0r5gv0heeeqgcrqlnm6jhphu9y00rrhy4grqszsvpcgpy9qqqqqqgqqqqq7qqzq9qrsgqdfjcdk6w3ak5pca9hwfwfh63zrrz06wwfya0ydlzpgzxkn5xagsqz7x9j4jwe7yj7vaf2k9lqsdk45kts2fd0fkr28am0u4w95tt2nsq76cqw0"
].map((s) => new TextEncoder().encode(s))

export function fuzz(data: Uint8Array): void {
  // Half the inputs get a plausible prefix, so the fuzzer reaches the field parsers sooner.
  const text = new TextDecoder("latin1").decode(data)
  for (const s of [text, PREFIX + text]) {
    const r = decodeInvoice(s, nobleSecp256k1)
    if (Result.isSuccess(r)) {
      const again = encodeInvoice(r.success, r.success.signature, r.success.recovery)
      if (again !== s.toLowerCase()) throw new Error(`re-encoding differs: ${s} -> ${again}`)
    }
  }
}
