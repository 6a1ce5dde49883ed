// js-libp2p 3.x targets Node.js 22, which added Promise.withResolvers; Node.js 20 (what many
// CI images and distributions ship) lacks it. This is the standard definition, installed only
// where it is missing. Imported first by peer.mjs, so it runs before any libp2p module.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
