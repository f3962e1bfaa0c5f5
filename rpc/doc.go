// Package rpc is request/response over kernel connections: what a broker,
// a controller or a ZooKeeper client needs on top of sim's FIFO streams.
//
// A Client (Dial) sends requests, each with a correlation id and a timeout
// (a kernel timer of the client's process; NoTimeout for none, as ZooKeeper's
// requests have). Its callback gets the response,
// ErrTimeout (a reply that comes later is dropped and traced), or an
// ErrConnection error when the connection breaks: every request pending on a
// connection fails with it then, because a broken connection answers nothing
// more. A connection carries at most ClientConfig.MaxInFlight requests at a
// time; later ones wait in the client, and past MaxQueued more a call fails
// with ErrTooManyRequests. A Server dispatches each request by its Kind to a
// Handler, which answers through the Request now or in a later event, and
// can push notifications (unsolicited messages) to a client on the same
// connection, in order with the responses. A server throttles a client by
// pausing the reading of its connection (ServerConn.Pause, Resume).
//
// Callbacks always run as kernel events of the process that owns the Client
// or Server, never inside a call of this package: a call that fails at once
// (a closed client, a full queue) reports it in an event of its own. A Client
// or Server belongs to the incarnation of its process that made it; after a
// crash the process makes new ones, and using an old one panics.
//
// Payloads are values. A request or response is deep-copied with its Clone
// method when it enters the layer (Call, Respond, Notify), as a wire would
// copy it, so a slice the sender keeps and changes afterwards (an ISR, say)
// is never seen by the receiver, and the receiver owns what it gets. Clone
// must copy every slice, map and pointer a payload holds, unless the payload
// is immutable once sent (then it may return itself).
//
// Kafka's requests (LeaderAndIsr, UpdateMetadata, StopReplica,
// ControlledShutdown, Produce, Fetch, Metadata) are defined on this layer by
// the packages that use them.
package rpc
