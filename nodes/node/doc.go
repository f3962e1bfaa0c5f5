// Package node is the common frame of a simulated Kafka process: its logic
// is a deterministic state machine, and a thin Shell connects that machine
// to the kernel.
//
// The machine (any type with Machine's Step method) takes one Input at a
// time, with the virtual time it happened at, and returns Effects: plain
// data saying what it wants done. It never calls sim.World, a
// fakezk.Client or the network, never reads a clock and never draws from a
// random stream it was not given, so a test can drive it input by input
// with no kernel at all. This is the shape of etcd-io/raft, whose Step
// only appends messages that RawNode.Ready hands to the caller, and of
// TigerBeetle's replica, which is generic over its bus, storage and time.
//
// The Shell owns what touches the kernel for one incarnation of the
// process: the fakezk.Client and the timers. It turns client callbacks and
// timer events into Inputs, steps the machine, and carries out the Effects
// it returns, in order. It makes a new machine at every start and restart,
// so a crash drops every piece of volatile state by construction; what a
// process keeps across crashes is only what it gets back in Restarted.
//
// Inputs: Restarted (first of every incarnation), ZKReply (the answer to a
// ZKRequest, carrying its ReqID), ZKWatch (a one-shot watch set by a read
// fired), ZKSession (a session state change), TimerFired, and Command (an
// instruction from outside, such as a client's request, that a scenario
// delivers with Shell.Command). Effects:
// ZKRequest, SetTimer, CancelTimer, and the machine's own reports (role
// changes and the like: types that embed Report), which the Shell hands
// to its Config.OnReport.
//
// Simplification: the Shell has no RPC endpoints and no disk yet; the
// brokers add RPCs in and out, disk writes, syncs and their completions
// as further Inputs and Effects of the same kind.
package node
