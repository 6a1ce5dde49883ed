// A js-libp2p 3.x peer over QUIC v1 (@chainsafe/libp2p-quic: QUIC's own TLS 1.3, no noise or
// yamux): dials an ergon node's /udp/.../quic-v1 address, pings it, and reads its identify.
// Prints one JSON line per event; exits non-zero after {"event":"error"} on any failure.
//
//   node quic.mjs /ip4/127.0.0.1/udp/PORT/quic-v1/p2p/PEER_ID

// Node.js 20 lacks Promise.withResolvers, which js-libp2p 3 uses (as in peer.mjs).
if (!Promise.withResolvers) {
  Promise.withResolvers = function () {
    let resolve, reject;
    const promise = new Promise((a, b) => { resolve = a; reject = b; });
    return { promise, resolve, reject };
  };
}

import { createLibp2p } from "libp2p";
import { quic } from "@chainsafe/libp2p-quic";
import { identify } from "@libp2p/identify";
import { ping } from "@libp2p/ping";
import { multiaddr } from "@multiformats/multiaddr";
import { readToEnd, writeAndClose } from "./streams.mjs";

const say = (o) => console.log(JSON.stringify(o));
const target = multiaddr(process.argv[2]);
const node = await createLibp2p({ transports: [quic()], services: { identify: identify(), ping: ping() } });
await node.start();
// The node asks every new peer for its status and hangs up at once on a peer without the
// protocol, which raced this peer's ping. Like any ergon-aware client it answers: here with
// the node's own status (the same chain and head), read from the request.
await node.handle("/ergon/status/1", async (stream) => {
  try {
    await writeAndClose(stream, await readToEnd(stream, 1024));
  } catch (e) {
    stream.abort(e);
  }
});
let failed = false;
try {
  const conn = await node.dial(target, { signal: AbortSignal.timeout(15_000) });
  say({ event: "connected", peer: conn.remotePeer.toString(), remoteAddr: conn.remoteAddr.toString(), me: node.peerId.toString() });
  say({ event: "ping", ms: await node.services.ping.ping(target, { signal: AbortSignal.timeout(15_000) }) });
  // identify runs on connect; wait for the peer store to hold its answer.
  const deadline = Date.now() + 10_000;
  let agent = null, protocols = [];
  while (Date.now() < deadline) {
    const p = await node.peerStore.get(conn.remotePeer).catch(() => null);
    const a = p?.metadata.get("AgentVersion");
    if (a) { agent = new TextDecoder().decode(a); protocols = p.protocols; break; }
    await new Promise((r) => setTimeout(r, 100));
  }
  say({ event: "identify", agent, protocols });
} catch (e) {
  failed = true;
  say({ event: "error", error: String(e?.message ?? e) });
}
await node.stop();
process.exit(failed ? 1 : 0);
