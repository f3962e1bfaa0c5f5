package fakezk

import "strconv"

// Stat is a znode's metadata, with go-zk's field names and order (docs/ZOOKEEPER.md §4).
type Stat struct {
	Czxid          int64 // zxid of the create
	Mzxid          int64 // zxid of the last setData (or the create)
	Ctime          int64 // time of the create, ms
	Mtime          int64 // time of the last setData (or the create), ms
	Version        int32 // number of setData calls (wraps as int32)
	Cversion       int32 // visible child version: 2 × internal create counter − NumChildren
	Aversion       int32 // number of setACL calls
	EphemeralOwner int64 // owning session of an ephemeral, else 0 (also for containers)
	DataLength     int32
	NumChildren    int32
	Pzxid          int64 // zxid of the last child create or delete (or of this node's create)
}

// EventType is the type of a watch event, with go-zk's values.
type EventType int32

// Event types (go-zk constants.go; the server's Watcher.Event.EventType).
const (
	EventNodeCreated         EventType = 1
	EventNodeDeleted         EventType = 2
	EventNodeDataChanged     EventType = 3
	EventNodeChildrenChanged EventType = 4
	EventSession             EventType = -1
	EventNotWatching         EventType = -2
)

// String returns go-zk's name for the event type.
func (e EventType) String() string {
	switch e {
	case EventNodeCreated:
		return "EventNodeCreated"
	case EventNodeDeleted:
		return "EventNodeDeleted"
	case EventNodeDataChanged:
		return "EventNodeDataChanged"
	case EventNodeChildrenChanged:
		return "EventNodeChildrenChanged"
	case EventSession:
		return "EventSession"
	case EventNotWatching:
		return "EventNotWatching"
	}
	return "EventType(" + strconv.Itoa(int(e)) + ")"
}

// Change is one watch trigger produced by a committed write: the server fires the watches of Type on
// Path. A write reports its Changes in the order of the table in docs/ZOOKEEPER.md §12: create X gives NodeCreated X then
// NodeChildrenChanged on X's parent; delete X gives NodeDeleted X then NodeChildrenChanged on the
// parent; setData X gives NodeDataChanged X. Failed writes, setACL and reads give none.
type Change struct {
	Type EventType
	Path string
	// ACL is the ACL of the node the event is about (the parent's for
	// NodeChildrenChanged): the server sends the event only to watchers
	// allowed to READ that node.
	ACL []ACL
}

// MaxPacketBytes is jute.maxbuffer's default, 1048575: a request packet longer than this (not counting
// its 4-byte length prefix) makes the server close the connection instead of answering (NIOServerCnxn; docs/ZOOKEEPER.md §11).
// The tree does not enforce it; the server does, with PacketTooLarge.
const MaxPacketBytes = 1048575

// PacketTooLarge reports whether a setData (or create) of data at path would exceed MaxPacketBytes.
// The packet is len(data) + len(path) + 20 bytes, measured for setData (docs/ZOOKEEPER.md §11); a create's packet
// is larger (it carries ACLs and flags), which this simplification ignores.
func PacketTooLarge(path string, data []byte) bool {
	return len(data)+len(path)+20 > MaxPacketBytes
}
