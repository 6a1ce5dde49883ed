// Request-response on js-libp2p 3.x streams, as ergon's protocols use them: one message per
// stream, written then closed; the answer is read to EOF.

export async function readToEnd (stream, max) {
  const parts = []
  let total = 0
  for await (const chunk of stream) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    total += bytes.length
    if (total > max) throw new Error(`${stream.protocol}: message over ${max} bytes`)
    parts.push(bytes)
  }
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

export async function writeAndClose (stream, bytes) {
  if (!stream.send(bytes)) await stream.onDrain()
  await stream.close()
}
