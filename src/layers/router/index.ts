/** Router and scorer layers (issue 8 "The router"). */
export * from "./DefaultRouter.ts"
export * from "./ProbabilisticScorer.ts"
export * from "./SnapshotGraph.ts"
