/**
 * A real `ergon node --dev` for the tests: `$ERGON_BIN` (or the repository's
 * target/debug/ergon), a temporary base path, RPC and P2P on free ports of 127.0.0.1 (the node
 * binds port 0 and prints what it got), no mDNS. `stop()` kills it and removes its directory;
 * so does this process's exit.
 */

import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..')
/** The first start creates RocksDB; CI can be slow. */
const STARTUP_MS = 90_000

/** Variables the binary reads: cleared so the caller's shell cannot change a test. */
const ERGON_ENV = [
  'CHAIN_ID', 'MINT_PER_UNIT', 'COORDINATOR_RATIO', 'DB_PATH', 'RPC_BIND', 'PROPOSER_KEY',
  'ERGON_RPC', 'RUST_LOG', 'ERGON_PASSWORD', 'P2P_BIND', 'BOOTSTRAP_PEERS'
]

/** The node binary, or why there is none (the tests that need a node are then skipped). */
export function ergonBin (): { bin?: string, why?: string } {
  const given = process.env.ERGON_BIN
  if (given != null && given !== '') {
    if (!existsSync(given)) throw new Error(`ERGON_BIN=${given} is not a file`)
    return { bin: given }
  }
  const bin = path.join(REPO, 'target', 'debug', 'ergon')
  if (existsSync(bin)) return { bin }
  return { why: `no node binary: set ERGON_BIN or run \`cargo build\` (looked for ${bin})` }
}

const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL')
})

export class DevNode {
  /** `http://127.0.0.1:PORT` */
  url = ''
  /** `/ip4/127.0.0.1/tcp/PORT/p2p/12D3KooW...` */
  p2pAddr = ''
  peerId = ''
  readonly dir: string
  readonly logPath: string
  readonly proc: ChildProcess

  private constructor (bin: string) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'ergon-js-'))
    this.logPath = path.join(this.dir, 'node.log')
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }
    for (const k of ERGON_ENV) delete env[k]
    const log = openSync(this.logPath, 'w')
    this.proc = spawn(bin, [
      'node', '--dev', '--base-path', path.join(this.dir, 'data'),
      '--rpc-addr', '127.0.0.1:0', '--listen-addr', '/ip4/127.0.0.1/tcp/0', '--no-mdns'
    ], { env, stdio: ['ignore', 'pipe', log] })
    closeSync(log)
    running.add(this.proc)
  }

  static async start (bin: string): Promise<DevNode> {
    const node = new DevNode(bin)
    try {
      await node.ready()
    } catch (e) {
      await node.stop()
      throw e
    }
    return node
  }

  private async ready (): Promise<void> {
    const lines = createInterface({ input: this.proc.stdout! })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the node printed no RPC address within ${STARTUP_MS / 1000} s:\n${this.logTail()}`)), STARTUP_MS)
      this.proc.once('exit', (code, signal) => {
        clearTimeout(timer)
        setTimeout(() => reject(new Error(`the node exited (${code ?? signal}) before serving RPC:\n${this.logTail()}`)), 200)
      })
      lines.on('line', (raw) => {
        const line = raw.trim()
        if (line.startsWith('Local peer id: ')) this.peerId = line.slice('Local peer id: '.length)
        else if (line.startsWith('P2P listening on ') && this.p2pAddr === '') this.p2pAddr = line.slice('P2P listening on '.length)
        else if (line.startsWith('RPC listening on http://')) {
          this.url = line.slice('RPC listening on '.length)
          clearTimeout(timer)
          resolve()
        }
      })
    })
    if (this.url.endsWith(':0')) throw new Error(`the node must print the port it bound: ${this.url}`)
  }

  logTail (n = 40): string {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-n).join('\n')
    } catch {
      return '(no log)'
    }
  }

  async stop (): Promise<void> {
    if (this.proc.exitCode == null && this.proc.signalCode == null) {
      const exited = new Promise<void>(resolve => this.proc.once('exit', () => resolve()))
      this.proc.kill('SIGTERM')
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    }
    running.delete(this.proc)
    rmSync(this.dir, { recursive: true, force: true })
  }
}
