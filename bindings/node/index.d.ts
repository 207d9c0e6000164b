// Types of the shic Node client (index.js). Wire maps keep their wire names
// (snake_case keys, "compatible?"), so they are typed loosely.

export type WireMap = { [key: string]: any }

export declare const DEFAULT_ENDPOINT: string
export declare const DEFAULT_EVENTS: string
export declare const DEFAULT_WAIT_MS: number
export declare const WIRE_VERSION: number
export declare const CODES: string[]

export interface ClientOptions {
    eventsEndpoint?: string
    timeoutMs?: number
    clientTimeoutMs?: number
    probeMs?: number
}

export interface EnsureOptions {
    ttlMs?: number
    waitMs?: number
    ownerRef?: string
    options?: WireMap
    consumer?: WireMap
    context?: WireMap
    keepAlive?: boolean
}

export interface WithEndpointArgs extends EnsureOptions {
    backend: string
    model?: string
}

export interface Event {
    topic: string
    body: WireMap
}

export declare class Client {
    constructor (endpoint?: string, options?: ClientOptions)
    readonly endpoint: string
    readonly eventsEndpoint: string
    timeoutMs: number
    clientTimeoutMs: number
    probeMs: number
    close (): void
    probe (): Promise<void>
    call (op: string, args?: WireMap, options?: { timeoutMs?: number }): Promise<WireMap>
    callRaw (body: Uint8Array, options?: { expectId?: number | string | null, timeoutMs?: number }): Promise<WireMap>
    ping (): Promise<WireMap>
    listBackends (): Promise<WireMap[]>
    compatibility (backend: string, consumer: WireMap): Promise<WireMap>
    ensureEndpoint (backend: string, model?: string, options?: EnsureOptions): Promise<Endpoint>
    renewLease (leaseRef: string, ttlMs?: number): Promise<WireMap>
    releaseLease (leaseRef: string): Promise<void>
    listInstances (backend?: string): Promise<WireMap[]>
    lookupInstance (instanceId: string): Promise<WireMap>
    listLeases (instanceId?: string): Promise<WireMap[]>
    stopInstance (instanceId: string): Promise<void>
    stats (): Promise<WireMap>
    events (prefix?: string, options?: { timeoutMs?: number }): EventStream
}

export declare class Endpoint {
    readonly client: Client
    readonly raw: WireMap
    readonly descriptor: WireMap
    readonly baseUrl: string
    readonly headers: { [name: string]: string }
    readonly model: string
    readonly lease: WireMap
    readonly leaseRef: string
    readonly instanceId: string
    readonly reused: boolean
    readonly expiresAtMs: number | undefined
    ttlMs: number
    released: boolean
    keeperError: Error | null
    renew (ttlMs?: number): Promise<WireMap>
    release (): Promise<void>
    close (): Promise<void>
}

export declare class EventStream implements AsyncIterableIterator<Event> {
    nextEvent (): Promise<Event | null>
    next (): Promise<IteratorResult<Event>>
    return (): Promise<IteratorResult<Event>>
    [Symbol.asyncIterator] (): AsyncIterableIterator<Event>
    close (): void
}

export declare function withEndpoint<T> (client: Client, args: WithEndpointArgs,
                                         fn: (endpoint: Endpoint) => Promise<T> | T): Promise<T>
export declare function ensureArgs (backend: string, model?: string, options?: EnsureOptions): WireMap
export declare function errorFor (error: WireMap): ShicError

export declare class ShicError extends Error {
    constructor (code: string, message?: string, details?: any)
    code: string
    description: string
    details: any
}
export declare class NoReplyError extends ShicError {
    constructor (message?: string, details?: any)
}
/** A reply or event that cannot be decoded (code "bad_reply") */
export declare class BadReplyError extends ShicError {
    constructor (message?: string, details?: any)
}
type CodeError = new (message?: string, details?: any) => ShicError
export declare const ERRORS: { [code: string]: CodeError }

export declare class MalformedError extends ShicError {}
export declare class UnsupportedVersionError extends ShicError {}
export declare class UnknownOpError extends ShicError {}
export declare class InvalidArgsError extends ShicError {}
export declare class InvalidRequestError extends ShicError {}
export declare class InvalidConsumerManifestError extends ShicError {}
export declare class MissingRequestFieldError extends ShicError {}
export declare class InvalidTargetPreferenceError extends ShicError {}
export declare class MissingTargetPreferenceError extends ShicError {}
export declare class UnknownBackendIdError extends ShicError {}
export declare class InvalidStartupKindError extends ShicError {}
export declare class IncompatibleError extends ShicError {}
export declare class InvalidStartupPlanError extends ShicError {}
export declare class InvalidBackendOptionsError extends ShicError {}
export declare class ForbiddenError extends ShicError {}
export declare class ReadinessTimeoutError extends ShicError {}
export declare class AwaitTimeoutError extends ShicError {}
export declare class TransportStartFailedError extends ShicError {}
export declare class BackendExitError extends ShicError {}
export declare class InstanceUnavailableError extends ShicError {}
export declare class InstanceFailedError extends ShicError {}
export declare class CapacityError extends ShicError {}
export declare class NotFoundError extends ShicError {}
export declare class LeaseNotFoundError extends ShicError {}
export declare class ShuttingDownError extends ShicError {}
export declare class InternalError extends ShicError {}
