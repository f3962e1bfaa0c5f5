// Package kproc is the frame of a simulated Kafka 2.6 process: the inputs
// a broker's machine is stepped with, the effects it returns, and the Shell
// that connects the machine to the kernel (docs/ARCHITECTURE.md §5).
//
// It extends nodes/node's shape to what a broker needs. The shell owns, for
// one incarnation, a kafkazk.Client (Kafka's ZooKeeper layer: pipelined
// batches retried until connected, re-initialisation on expiry, handler
// maps), an rpc.Server for the Kafka APIs, rpc clients to other brokers (one
// per peer and channel, as Kafka keeps separate connections for the
// controller's requests and each replica fetcher), the process's disk and
// its timers. The machine never touches any of them: it returns effects
// naming what to do, with ids it chose, and learns the outcome as inputs
// carrying those ids.
//
// Inputs: Started (with what the disk kept), ZKResult, ZKChange,
// ZKSessionPhase, ZKRegistered, RPCIn, RPCResult, Synced and
// TimerFired. Effects: ZKBatch, ZKHandler, ZKRegister, Send, Reply,
// CloseChannel, DiskAppend, DiskWrite, DiskTruncate, DiskRemove, DiskSync,
// SetTimer, CancelTimer, Exit, and reports (types embedding Report).
package kproc
