/** What the client throws about a node. */

/** Base class of every error this package throws about a node. */
export class ErgonError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/**
 * A JSON-RPC error the node answered with: its code and its own wording.
 *
 * Codes are the node's stable ones (README "JSON-RPC"): 1001 bad signature, 1004 fee too low,
 * 1005 nonce too low, 1023 subscription over HTTP, -32602 invalid params, -32601 method not
 * found, ...
 */
export class RpcError extends ErgonError {
  /** The node's error code. */
  readonly code: number
  /** The error's `data`, when the node sent one. */
  readonly data: unknown

  /** `message` is the node's, exactly as it worded it. */
  constructor (code: number, message: string, data?: unknown) {
    super(message)
    this.code = code
    this.data = data
  }

  override toString (): string {
    return `RpcError ${this.code}: ${this.message}`
  }
}

/** No node answers at the URL (not running, wrong port, or it did not reply in time). */
export class NodeUnavailable extends ErgonError {
  readonly url: string

  constructor (url: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.url = url
  }
}

/** An HTTP answer that is not JSON-RPC (403 from the origin/host check, 429, 503, ...). */
export class HttpError extends ErgonError {
  readonly status: number
  readonly body: string
  readonly url: string

  constructor (status: number, body: string, url: string) {
    super(`HTTP ${status} from ${url}: ${body.trim().slice(0, 500)}`)
    this.status = status
    this.body = body
    this.url = url
  }
}
