/**
 * The client's bytes against the node's golden vectors (src/primitives/golden.rs), the same
 * ones clients/python reproduces: the SCALE encoding of a transfer and a batch, their hashes
 * and signatures, a header's hash, the dev keys' addresses; and protobuf round trips through
 * the node's own proto/ files. No node needed.
 */

import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  AddressError, Keypair, SignedTx, Tx, Wire, addressOf, blake3, digest, encodeAddress, encodeHeader, formatAmount,
  fromHex, headerHash, parseAddress, parseAmount, scale, toHex, type Header
} from '../src/index.js'

// golden.rs: `Keypair::from_secret([1u8; 32])` and its public key.
const SECRET = new Uint8Array(32).fill(1)
const PK = '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c'
const key = (): Keypair => new Keypair(SECRET)
const bytes = (b: number, n: number): Uint8Array => new Uint8Array(n).fill(b)
const hex = (b: Uint8Array): string => toHex(b).slice(2)

const transferTx = (): Tx => new Tx({
  chainId: 'ergon-dev', sender: key().publicKey, nonce: 1, fee: 0, payload: { to: bytes(0x33, 20), amount: 5 }
})
const batchTx = (): Tx => new Tx({
  chainId: 'ergon-dev',
  sender: key().publicKey,
  nonce: 7,
  fee: 3295,
  priority: 'high',
  payload: [{ to: bytes(0x11, 20), amount: 1 }, { to: bytes(0x22, 20), amount: 1_000_000_000_000n }]
})

test('BLAKE3 reference vectors and the domain tag', () => {
  assert.equal(hex(blake3(new Uint8Array())), 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262')
  const input = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i % 251)
  assert.equal(hex(blake3(input(1025))), 'd00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444')
  // golden.rs hash_domain_tags: BLAKE3("ergon/tx/v1" || 0x00).
  assert.equal(hex(digest('ergon/tx/v1', new Uint8Array())), '4b57e35071ff2b99ab44e788f82aad4fe7c627f0f64b9717009feb532e3e7564')
})

test('the fixed key', () => {
  assert.equal(hex(key().publicKey), PK)
  assert.deepEqual(key().secret, SECRET)
  assert.ok(!String(key()).includes('0101'), 'printing a key never shows the secret')
  assert.ok(!JSON.stringify(key()).includes('0101'))
})

test('transfer vector (golden.rs transfer_tx_vector)', () => {
  const txHex = [
    '24', '6572676f6e2d646576', PK, '0100000000000000', '00000000000000000000000000000000', '01',
    '00', '3333333333333333333333333333333333333333', '14'
  ].join('')
  const sig = 'f77ca839ca9ec0fb48a6ad468d5714b8e2c34be3df241c0c7d92a494d8cda7ba' +
    'cb35c7d0f0faf22f86bebb9bc19a2615b8af24463303d13d3179037609224301'
  assert.equal(hex(transferTx().encode()), txHex)
  const signed = transferTx().sign(key())
  assert.equal(hex(signed.signature), sig)
  assert.equal(hex(signed.encode()), txHex + sig)
  assert.equal(signed.hashHex(), '0xe196cda9b2ffd5f4b3927a6944380bf60409bd7fdf750e7c9e852f134d012a41')
  assert.ok(signed.verify())
})

test('batch vector (golden.rs batch_tx_vector)', () => {
  const txHex = [
    '24', '6572676f6e2d646576', PK, '0700000000000000', 'df0c0000000000000000000000000000', '02',
    '01', '08', '1111111111111111111111111111111111111111', '04', '2222222222222222222222222222222222222222',
    '070010a5d4e8'
  ].join('')
  const sig = '61b482a9c9402f915e6aa951758204f2ca1744690cc9df7d32fe3bf6ad88af2f' +
    '73cb36d8953f6bd391e0c7e655f4fde1fe9050b0970174120deff53a31908400'
  const tx = batchTx()
  assert.equal(tx.kind, 'BATCH')
  assert.equal(hex(tx.encode()), txHex)
  assert.equal(tx.hashHex(), '0x66cf7ef6ede5865395b3e1dabae31c01633583b8b7f166cd7304e5a1ccfa5f60')
  const signed = tx.sign(key())
  assert.equal(hex(signed.signature), sig)
  assert.equal(hex(signed.encode()), txHex + sig)
  assert.equal(signed.size(), txHex.length / 2 + 64)
  assert.equal(hex(signed.leafHash()), '6dafa91302d3c7888b669b1ab4fd8183edcc2047a33effe714eaf88c410f074e')
})

test('header vector (golden.rs header_vector)', () => {
  const h: Header = {
    parent: bytes(0xab, 32),
    height: 42,
    timestampMs: 1_767_225_600_000,
    proposer: fromHex(PK),
    // golden.rs tx_root_vector: the root over the batch and the transfer above.
    txRoot: fromHex('1e3e069628c8d2fe56f119707b4c6a6e4fef118cb7de4b42e215a248f56424ab'),
    stateRoot: bytes(0xcd, 32),
    txCount: 2,
    evidenceRoot: bytes(0xef, 32),
    receiptsRoot: bytes(0x12, 32),
    lastCommitHash: bytes(0x34, 32),
    reveal: bytes(0x56, 32)
  }
  assert.equal(hex(encodeHeader(h)), [
    'ab'.repeat(32), '2a00000000000000', '00a8da769b010000', PK,
    '1e3e069628c8d2fe56f119707b4c6a6e4fef118cb7de4b42e215a248f56424ab', 'cd'.repeat(32), '02000000',
    'ef'.repeat(32), '12'.repeat(32), '34'.repeat(32), '56'.repeat(32)
  ].join(''))
  assert.equal(toHex(headerHash(h)), '0x5a8518af1654f3f18b4c7bbebc74187eaffa8912a2f4f4f9b09bdfdbd715a500')
})

test('a tampered signature does not verify; a key signs only its own txs', () => {
  const signed = transferTx().sign(key())
  const sig = Uint8Array.from(signed.signature)
  sig[0] ^= 1
  assert.equal(new SignedTx(signed.tx, sig).verify(), false)
  assert.throws(() => transferTx().sign(Keypair.dev('bob')), /sender/)
})

test('compact integers', () => {
  const cases: Array<[bigint, string]> = [
    [0n, '00'], [1n, '04'], [5n, '14'], [63n, 'fc'], [64n, '0101'], [1000n, 'a10f'], [16383n, 'fdff'],
    [16384n, '02000100'], [(1n << 30n) - 1n, 'feffffff'], [1_000_000_000n, '02286bee'], [1n << 30n, '0300000040'],
    [100_000_000_000n, '0700e8764817'], [1_000_000_000_000n, '070010a5d4e8'],
    [(1n << 64n) - 1n, '13' + 'ff'.repeat(8)], [(1n << 128n) - 1n, '33' + 'ff'.repeat(16)]
  ]
  for (const [n, want] of cases) assert.equal(hex(scale.compact(n)), want, String(n))
  assert.throws(() => scale.compact(1n << 128n), RangeError)
  assert.throws(() => scale.compact(-1n), RangeError)
})

test('dev keys and addresses', () => {
  const want: Record<string, string> = {
    alice: 'ait1l3n0wflqm95ql4lg3j8ynvd27vekpx282hdy38',
    bob: 'ait1cph76aptxk4zv5qcm7fxvqwczj6eqefsdpnunu',
    charlie: 'ait136j5lm4xqfdyzygu0pw7x9j5egxhghs8fydzyx',
    dave: 'ait15qqpaw35vkg9n5726eulx9fk207arupna5l55e',
    eve: 'ait1tsyrg0w6pmlzdtasg3kphwmh9cmlckernnh0em',
    ferdie: 'ait12dlp5dx5yy7vh2038sdu50m6pvmgc9cse3jchx',
    faucet: 'ait1qfe2a9f647xfylj265wzns43tk2e9t39qrg5us'
  }
  for (const [name, addr] of Object.entries(want)) assert.equal(Keypair.dev(name).address(), addr, name)
  const alice = Keypair.dev('alice')
  assert.equal(alice.publicKeyHex, '0xe85841aeb6ac2f9fe8ec6d4cd8edbadffe85226e8a7d22efadbd098a201f207b')
  assert.equal(addressOf(alice.publicKey), want.alice)
})

test('addresses parse and are checked', () => {
  const bob = 'ait1cph76aptxk4zv5qcm7fxvqwczj6eqefsdpnunu'
  const raw = parseAddress(bob)
  assert.equal(raw.length, 20)
  assert.deepEqual(parseAddress(bob.toUpperCase()), raw, 'bech32 is case-insensitive, but not mixed')
  assert.throws(() => parseAddress(bob.slice(0, -1) + (bob.endsWith('q') ? 'p' : 'q')), /not bech32/)
  assert.throws(() => parseAddress('ait1notanaddress'), /not bech32/)
  assert.throws(() => parseAddress('Ait1cph76aptxk4zv5qcm7fxvqwczj6eqefsdpnunu'), /not bech32/)
  assert.throws(() => parseAddress(bob, 'tait'), (e: unknown) =>
    e instanceof AddressError && /prefix 'ait', this chain uses 'tait'/.test(e.message))
  assert.throws(() => encodeAddress(new Uint8Array(19)), AddressError)
  assert.throws(() => parseAddress(bech32Of(new Uint8Array(19))), /payload must be 20 bytes/)
  assert.equal(bech32Of(raw), bob, 'the reference encoder below agrees with the client')
})

/** BIP-173 bech32 of `data` with the prefix `ait`, written out here (so any length can be encoded). */
function bech32Of (data: Uint8Array): string {
  const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'
  const words: number[] = []
  let acc = 0
  let bits = 0
  for (const b of data) {
    acc = (acc << 8) | b
    bits += 8
    while (bits >= 5) {
      bits -= 5
      words.push((acc >> bits) & 31)
    }
  }
  if (bits > 0) words.push((acc << (5 - bits)) & 31)
  const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]
  const polymod = (values: number[]): number => {
    let chk = 1
    for (const v of values) {
      const top = chk >>> 25
      chk = ((chk & 0x1ffffff) << 5) ^ v
      for (let i = 0; i < 5; i++) if (((top >>> i) & 1) !== 0) chk ^= GEN[i]
    }
    return chk >>> 0
  }
  const hrp = 'ait'
  const expanded = [...hrp].map(c => c.charCodeAt(0) >> 5).concat([0], [...hrp].map(c => c.charCodeAt(0) & 31))
  const poly = polymod([...expanded, ...words, 0, 0, 0, 0, 0, 0]) ^ 1
  const checksum = [0, 1, 2, 3, 4, 5].map(i => (poly >>> (5 * (5 - i))) & 31)
  return hrp + '1' + [...words, ...checksum].map(w => CHARSET[w]).join('')
}

test('amounts as the CLI reads them', () => {
  // src/primitives/serde_amount.rs tokens_or_base_units.
  assert.equal(parseAmount('1500'), 1500n)
  assert.equal(parseAmount(1500), 1500n)
  assert.throws(() => parseAmount('1.5'), /write 1\.5AIT for tokens/)
  assert.equal(parseAmount('1.5AIT'), 1_500_000_000n)
  assert.equal(parseAmount('2 AIT'), 2_000_000_000n)
  assert.equal(parseAmount('2ait'), 2_000_000_000n)
  assert.equal(parseAmount('0.000000001AIT'), 1n)
  assert.equal(parseAmount('.5AIT'), 500_000_000n)
  for (const bad of ['1.0000000001', '1.5.5', '-1', 'AIT', '1,5', '', '1e9', 'x AIT', '١٢']) {
    assert.throws(() => parseAmount(bad), RangeError, bad)
  }
  assert.throws(() => parseAmount(-1), RangeError)
  assert.throws(() => parseAmount(1.5), RangeError)
  assert.throws(() => parseAmount(1n << 128n), RangeError)
  assert.equal(formatAmount(1_500_000_000n), '1.5 AIT')
  assert.equal(formatAmount('2000000000'), '2 AIT')
  assert.equal(formatAmount(1n), '0.000000001 AIT')
})

test('the JSON form is what tx_send takes', () => {
  const signed = transferTx().sign(key())
  assert.deepEqual(signed.toJson(), {
    type: 'TRANSFER',
    chainId: 'ergon-dev',
    sender: addressOf(fromHex(PK)),
    publicKey: '0x' + PK,
    nonce: 1,
    fee: '0',
    priority: 'normal',
    payload: { to: encodeAddress(bytes(0x33, 20)), amount: '5' },
    sig: toHex(signed.signature)
  })
  const batch = batchTx().toJson()
  assert.equal(batch.type, 'BATCH')
  assert.equal(batch.priority, 'high')
  assert.equal(batch.sig, undefined)
  assert.deepEqual((batch.payload as { transfers: Array<{ amount: string }> }).transfers.map(t => t.amount), ['1', '1000000000000'])
  const back = SignedTx.fromJson(batchTx().sign(key()).toJson())
  assert.equal(hex(back.encode()), hex(batchTx().sign(key()).encode()), 'JSON round trip')
})

test('protobuf from proto/: a signed tx and a batch round-trip, priorities in protobuf numbering', () => {
  const wire = new Wire()
  for (const tx of [transferTx(), batchTx(), batchTx().withFee(7).withNonce(9)]) {
    for (const priority of ['low', 'normal', 'high', 'urgent'] as const) {
      const signed = new Tx({ ...tx.fields(), priority }).sign(key())
      const pb = wire.encodeSignedTx(signed)
      const back = wire.decodeSignedTx(pb)
      assert.equal(hex(back.encode()), hex(signed.encode()), `${tx.kind} ${priority}`)
      const raw = wire.decode('SignedTx', pb)
      assert.equal(raw.tx.priority ?? 0, { normal: 0, low: 1, high: 2, urgent: 3 }[priority])
    }
  }
  // u128s are 16 bytes big-endian on the wire.
  const raw = wire.decode('SignedTx', wire.encodeSignedTx(batchTx().sign(key())))
  assert.equal(hex(raw.tx.fee), '00000000000000000000000000000cdf')
  assert.equal(hex(raw.tx.batch.transfers[1].amount), '0000000000000000000000e8d4a51000')
  const batch = wire.encodeTxBatch([transferTx().sign(key()), batchTx().sign(key())])
  assert.deepEqual(wire.decodeTxBatch(batch).map(s => s.hashHex()), [transferTx().hashHex(), batchTx().hashHex()])
})
