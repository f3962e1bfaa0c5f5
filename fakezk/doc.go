// Package fakezk simulates a ZooKeeper service for kzsim: a data tree, sessions, watches, multi, a
// server actor and a client library whose names follow go-zookeeper/zk v1.0.4.
//
// The data tree (Tree, in tree.go and multi.go) is a pure, single-threaded value: every write takes the
// zxid and the time the server allocated for its transaction, and reports the watch triggers it
// produced as Changes. It never reads a clock, starts a goroutine, draws a random number or iterates a
// map, so the same calls always give the same tree.
//
// The behaviour follows /work/shared/reference/zookeeper.md (cited as "spec §N"): Stat fields change
// exactly when ZooKeeper changes them (§1.3), the create modes and sequence numbering of §2, the error
// codes and check order of §3, and the watch triggers of §5.
package fakezk
