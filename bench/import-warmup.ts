/** Loaded first by bench/import.bench.ts so that Node loads its type stripper before the measure. */
export const warm: number = 1
