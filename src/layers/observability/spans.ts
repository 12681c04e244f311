/**
 * Spans made only when the fiber's tracer is on (`References.TracerEnabled`). With it off (the
 * simulation turns it off), Effect still makes a no-op span for each `withSpan` and provides it
 * in a new context (a copy of the fiber's services, its context cache made again at entry and
 * at exit), and the caller builds attributes nobody records. Spans are made without a captured
 * stack trace (`NO_STACK`: Effect makes an `Error` per span otherwise).
 */
import { Effect, type Fiber, References, type Tracer } from "effect"

/**
 * Trace options for a span without a captured stack trace (Effect's default makes an `Error` per
 * span: ~2-4% of the payment layer's JS time at 50 payments in flight). It goes in
 * `Effect.withSpan(name, options, NO_STACK)`'s third argument: the pipeable form reads the stack
 * trace option there only, not from `options`.
 */
export const NO_STACK = { captureStackTrace: false } as const

/** Whether the fiber's spans go anywhere. */
export const tracingIn = (fiber: Fiber.Fiber<unknown, unknown>): boolean => fiber.getRef(References.TracerEnabled)

const noOptions = (): Tracer.SpanOptionsNoTrace => ({})

/**
 * `Effect.withSpan(name, options(), NO_STACK)` around `self` when the fiber traces, else `self`
 * alone: no span, and its options (attributes, the parent) never built.
 */
export const spanned = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  name: string,
  options: () => Tracer.SpanOptionsNoTrace = noOptions
): Effect.Effect<A, E, R> => Effect.withFiber((fiber) => (tracingIn(fiber) ? self.pipe(Effect.withSpan(name, options(), NO_STACK)) : self))

/** `Effect.annotateCurrentSpan` when the fiber traces; the attributes are built only then. */
export const annotateWhenTracing = (attributesOf: () => Readonly<Record<string, unknown>>): Effect.Effect<void> =>
  Effect.withFiber((fiber) => (tracingIn(fiber) ? Effect.annotateCurrentSpan(attributesOf()) : Effect.void))
