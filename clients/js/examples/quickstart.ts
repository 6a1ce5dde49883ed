// The README's "JavaScript client" example: run against a dev node (`make run`, or
// ERGON_RPC=http://127.0.0.1:PORT) with `node clients/js/dist/examples/quickstart.js`.
import { Client, Keypair, RpcError, Wire, formatAmount } from 'ergon-client'

const node = new Client(process.env.ERGON_RPC ?? 'http://127.0.0.1:8080') // `make run`'s dev node
console.log('head', (await node.chain_getHead()).height)

const charlie = Keypair.dev('charlie').address()
const signed = await node.transfer(Keypair.dev('bob'), charlie, '1.5AIT', { wait: true }) // signed here
console.log(`${signed.hashHex()} fee ${signed.tx.fee} charlie: ${formatAmount(await node.balance(charlie))}`)

// The same kind of tx as protobuf (proto/ergon/v1/types.proto SignedTx), which tx_send takes as hex.
const again = await node.buildTransfer(Keypair.dev('bob'), charlie, 5n)
const hex = Buffer.from(new Wire().encodeSignedTx(again)).toString('hex')
console.log('protobuf', (await node.tx_send(hex)) === again.hashHex())

const heads = await node.subscribeNewHeads({ timeoutMs: 10_000 }) // chain_subscribeNewHeads (WebSocket)
for await (const head of heads) {
  console.log('next block', head.height)
  break // closes the subscription
}

try {
  await node.account_get('ait1nope')
} catch (e) {
  if (!(e instanceof RpcError)) throw e
  console.log(e.code, e.message) // -32602 param `address`: invalid address "ait1nope": not bech32
}
