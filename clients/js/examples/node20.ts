// js-libp2p 3.x targets Node.js 22, which added Promise.withResolvers; Node.js 20 lacks it.
// This is the standard definition, installed only where it is missing. peer.ts imports this
// module first, so it runs before any libp2p module (as tests/interop/node20.mjs does).
const P = Promise as unknown as { withResolvers?: unknown }
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T> (this: PromiseConstructor) {
    let resolve!: (v: T | PromiseLike<T>) => void
    let reject!: (e?: unknown) => void
    const promise = new this<T>((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
export {}
