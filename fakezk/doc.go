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
package fakezk
