package fakezk

import (
	"errors"
	"strconv"
)

// ErrCode is a ZooKeeper server error code (KeeperException.Code, docs/ZOOKEEPER.md §7). It implements error, so
// a code can be returned and compared directly: err == ErrNoNode, or errors.Is(err, ErrNoNode).
type ErrCode int32

// The KeeperException codes (docs/ZOOKEEPER.md §7). Code 0 (OK) is not an error: it is represented by a nil
// error (see ErrorFromCode).
const (
	ErrSystemError              ErrCode = -1
	ErrRuntimeInconsistency     ErrCode = -2
	ErrDataInconsistency        ErrCode = -3
	ErrConnectionLoss           ErrCode = -4 // client-side only in ZooKeeper
	ErrMarshallingError         ErrCode = -5
	ErrUnimplemented            ErrCode = -6
	ErrOperationTimeout         ErrCode = -7
	ErrBadArguments             ErrCode = -8
	ErrUnknownSession           ErrCode = -12
	ErrNewConfigNoQuorum        ErrCode = -13
	ErrReconfigInProgress       ErrCode = -14
	ErrAPIError                 ErrCode = -100
	ErrNoNode                   ErrCode = -101
	ErrNoAuth                   ErrCode = -102
	ErrBadVersion               ErrCode = -103
	ErrNoChildrenForEphemerals  ErrCode = -108
	ErrNodeExists               ErrCode = -110
	ErrNotEmpty                 ErrCode = -111
	ErrSessionExpired           ErrCode = -112
	ErrInvalidCallback          ErrCode = -113
	ErrInvalidACL               ErrCode = -114
	ErrAuthFailed               ErrCode = -115
	ErrSessionMoved             ErrCode = -118
	ErrNotReadOnly              ErrCode = -119
	ErrEphemeralOnLocalSession  ErrCode = -120
	ErrNoWatcher                ErrCode = -121
	ErrRequestTimeout           ErrCode = -122
	ErrReconfigDisabled         ErrCode = -123
	ErrSessionClosedRequireSasl ErrCode = -124
	ErrQuotaExceeded            ErrCode = -125
	ErrThrottledOp              ErrCode = -127
	errCodeOK                   ErrCode = 0
)

// errCodeMessages gives each code its message. For the codes go-zk v1.0.4 names, the text is the one
// go-zk prints; go-zk shows every other code as "unknown error: N" (go-zk constants.go; docs/ZOOKEEPER.md §7), but a readable name
// helps more in traces, so those get one here.
var errCodeMessages = map[ErrCode]string{
	ErrSystemError:              "zk: system error",
	ErrRuntimeInconsistency:     "zk: runtime inconsistency",
	ErrDataInconsistency:        "zk: data inconsistency",
	ErrConnectionLoss:           "zk: connection loss",
	ErrMarshallingError:         "zk: marshalling error",
	ErrUnimplemented:            "zk: unimplemented",
	ErrOperationTimeout:         "zk: operation timeout",
	ErrBadArguments:             "invalid arguments",
	ErrUnknownSession:           "zk: unknown session",
	ErrNewConfigNoQuorum:        "zk: new config has no quorum",
	ErrReconfigInProgress:       "zk: reconfig in progress",
	ErrAPIError:                 "zk: api error",
	ErrNoNode:                   "zk: node does not exist",
	ErrNoAuth:                   "zk: not authenticated",
	ErrBadVersion:               "zk: version conflict",
	ErrNoChildrenForEphemerals:  "zk: ephemeral nodes may not have children",
	ErrNodeExists:               "zk: node already exists",
	ErrNotEmpty:                 "zk: node has children",
	ErrSessionExpired:           "zk: session has been expired by the server",
	ErrInvalidCallback:          "zk: invalid callback specified",
	ErrInvalidACL:               "zk: invalid ACL specified",
	ErrAuthFailed:               "zk: client authentication failed",
	ErrSessionMoved:             "zk: session moved to another server, so operation is ignored",
	ErrNotReadOnly:              "zk: not a read-only call",
	ErrEphemeralOnLocalSession:  "zk: ephemeral on local session",
	ErrNoWatcher:                "zk: watcher does not exist",
	ErrRequestTimeout:           "zk: request timeout",
	ErrReconfigDisabled:         "attempts to perform a reconfiguration operation when reconfiguration feature is disabled",
	ErrSessionClosedRequireSasl: "zk: session closed because client failed to authenticate",
	ErrQuotaExceeded:            "zk: quota exceeded",
	ErrThrottledOp:              "zk: operation throttled",
}

// Error returns go-zk's message for the code, or a readable name for codes go-zk does not name.
func (e ErrCode) Error() string {
	if msg, ok := errCodeMessages[e]; ok {
		return msg
	}
	return "unknown error: " + strconv.Itoa(int(e))
}

// Code returns the numeric wire code.
func (e ErrCode) Code() int32 { return int32(e) }

// ErrorFromCode turns a wire code into an error: nil for 0 (OK), else the ErrCode.
func ErrorFromCode(code int32) error {
	if code == int32(errCodeOK) {
		return nil
	}
	return ErrCode(code)
}

// CodeOf returns the wire code of err: 0 for nil, the code of an ErrCode (also when wrapped), and
// ErrSystemError's code for any other error.
func CodeOf(err error) int32 {
	if err == nil {
		return 0
	}
	var code ErrCode
	if errors.As(err, &code) {
		return int32(code)
	}
	return int32(ErrSystemError)
}

// Client-side errors that the path and flag checks share with the client library. They have no wire
// code: go-zk returns them without sending anything (docs/ZOOKEEPER.md §2, §6).
var (
	// ErrInvalidPath is returned by ValidatePath (go-zk's client-side check). The tree itself answers
	// ErrBadArguments for bad paths, as the server does.
	ErrInvalidPath = errors.New("zk: invalid path")
	// ErrInvalidFlags is returned for create flags outside 0..6.
	ErrInvalidFlags = errors.New("zk: invalid flags specified")
)
