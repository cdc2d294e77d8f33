/** Why a peer's bytes or behaviour broke the protocol. Each code is stable and documented. */
export const ProtocolErrorCode = {
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  /** The first bytes look like text: the remote end speaks a line protocol, not parley frames. */
  NOT_PARLEY: 'NOT_PARLEY',
  EMPTY_FRAME: 'EMPTY_FRAME',
  BAD_UTF8: 'BAD_UTF8',
  BAD_JSON: 'BAD_JSON',
  BAD_MESSAGE: 'BAD_MESSAGE',
  VERSION: 'VERSION',
  NO_HELLO: 'NO_HELLO',
  UNEXPECTED: 'UNEXPECTED',
  HANDSHAKE_TIMEOUT: 'HANDSHAKE_TIMEOUT',
  SELF: 'SELF',
  SILENT: 'SILENT',
  /** The peer's key is not the one trusted for the address it announces. */
  UNTRUSTED: 'UNTRUSTED',
  /** The hello's node id is not the key the secure transport authenticated. */
  IDENTITY: 'IDENTITY',
  /** A relayed message does not carry its origin's valid signature: the relay forged or altered it. */
  FORGED: 'FORGED',
  /** A relay introduced a new member while the room already holds the most members this node keeps. */
  TOO_MANY_ORIGINS: 'TOO_MANY_ORIGINS',
  /** A relay sent more unverified or out-of-order messages than this node buffers for one member. */
  FLOOD: 'FLOOD',
  /** The member's messages already fill its share of this node's disk (or all members' together do). */
  OVER_QUOTA: 'OVER_QUOTA',
  /**
   * A neighbour made this node hold more than its link's byte budget (reorder buffers, watermark
   * entries), pushed all links past the total budget, or named origins in its acks faster than allowed.
   */
  OVER_BUDGET: 'OVER_BUDGET',
  /** This node already has as many direct neighbours as it keeps; a peer it did not dial is refused. */
  TOO_MANY_NEIGHBORS: 'TOO_MANY_NEIGHBORS',
} as const
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode]

export class ProtocolError extends Error {
  override name = 'ProtocolError'
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** Why a listen or a dial failed. Transports map their platform errors onto these codes. */
export const TransportErrorCode = {
  ADDRESS_IN_USE: 'ADDRESS_IN_USE',
  ADDRESS_NOT_AVAILABLE: 'ADDRESS_NOT_AVAILABLE',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  HOST_NOT_FOUND: 'HOST_NOT_FOUND',
  CONNECTION_REFUSED: 'CONNECTION_REFUSED',
  UNREACHABLE: 'UNREACHABLE',
  TIMEOUT: 'TIMEOUT',
  ABORTED: 'ABORTED',
  RESET: 'RESET',
  CLOSED: 'CLOSED',
  /** The remote end does not speak the secure protocol (a plain node, or not parley at all). */
  NOT_SECURE: 'NOT_SECURE',
  /** The remote end proved a key this node does not trust (pinned key mismatch, not on the allowlist). */
  UNTRUSTED: 'UNTRUSTED',
  /** The remote end refused this node's key (not on its allowlist, or it pinned another key for this node). */
  REFUSED: 'REFUSED',
  /** The secure handshake failed or a record failed to authenticate (tampering, corruption). */
  CRYPTO: 'CRYPTO',
  /** Too many connections are still in their handshake (per node or per source host). */
  TOO_MANY: 'TOO_MANY',
  UNKNOWN: 'UNKNOWN',
} as const
export type TransportErrorCode = (typeof TransportErrorCode)[keyof typeof TransportErrorCode]

export class TransportError extends Error {
  override name = 'TransportError'
  constructor(
    readonly code: TransportErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** A HOST:PORT that cannot be understood. */
export class AddressError extends Error {
  override name = 'AddressError'
  readonly code = 'BAD_ADDRESS'
}
