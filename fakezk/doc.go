// Package fakezk simulates a ZooKeeper service for kzsim: a data tree, sessions, watches, multi, a
// server actor and a client library whose names follow go-zookeeper/zk v1.0.4.
//
// The data tree (Tree, in tree.go and multi.go) is a pure, single-threaded value: every write takes the
// zxid and the time the server allocated for its transaction, and reports the watch triggers it
// produced as Changes. It never reads a clock, starts a goroutine, draws a random number or iterates a
// map, so the same calls always give the same tree.
//
// The behaviour is ZooKeeper 3.8's as go-zk v1.0.4 sees it, written out with its upstream sources in
// docs/ZOOKEEPER.md (cited as "docs/ZOOKEEPER.md §N"): Stat fields change exactly when ZooKeeper changes them
// (§4), zxids are consumed as in §5, the create modes and sequence numbering of §6, the error codes
// and check order of §7–§9, and the watch triggers of §12. docs/FIDELITY.md lists what is simplified.
//
// The client and the server talk through package rpc, one rpc connection per ZooKeeper connection:
// the handshake and every request (pings, auth and setWatches included) are rpc requests without a
// timeout, whose correlation ids stand for ZooKeeper's xids, and watch events are rpc notifications.
// What is ZooKeeper's own stays here: the client's session-level queue (requests waiting for a
// session or a MaxInFlight slot), the failures a broken connection gives in each client mode, the
// read timeout and pings (from rpc.Client.LastReceived), and the check that a connection's replies
// come back in order; on the server, the session of a connection (rpc.ServerConn.SetValue), the
// pipeline that answers after the group commit's fsync, and throttling by pausing a connection's
// reading (rpc.ServerConn.Pause).
package fakezk
