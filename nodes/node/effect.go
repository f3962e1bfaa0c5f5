package node

import (
	"fmt"
	"strings"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/sim"
)

// Effect is one thing a machine wants done, returned by Machine.Step. The
// Shell carries out ZKRequest, SetTimer and CancelTimer; every other
// effect is one of the machine's own reports (a type embedding Report),
// which it hands to Config.OnReport.
type Effect interface {
	isEffect()
}

// ReqID names a ZooKeeper request: the machine picks it, unique among its
// requests still waiting for their reply (or their watch), and gets it back
// in the ZKReply and in every ZKWatch of the request.
type ReqID uint64

// TimerName names a timer. Setting a timer of a name that is set resets
// it, so SetTimer is idempotent in effect. Names are constant strings: they
// label the kernel event in the trace.
type TimerName string

// ZKRequest issues Req (a *fakezk.CreateRequest, *SetDataRequest,
// *DeleteRequest, *MultiRequest, *GetDataRequest, *ExistsRequest or
// *GetChildrenRequest) on the process's ZooKeeper client. Its answer comes
// back as a ZKReply with ID. With Watch (reads only) the read also sets a
// watch whose event comes back as a ZKWatch with ID; the request's own
// Watch field must then be nil (a machine holds no callbacks).
type ZKRequest struct {
	ID    ReqID
	Req   fakezk.Request
	Watch bool
}

// SetTimer sets the timer Name to fire After from now, replacing it if it
// is set.
type SetTimer struct {
	Name  TimerName
	After sim.Duration
}

// CancelTimer cancels the timer Name; it does nothing if the timer is not
// set.
type CancelTimer struct {
	Name TimerName
}

// Report marks an effect type of the machine's own, such as a role change:
// embed it in a struct and the Shell hands values of that type to
// Config.OnReport, where a scenario counts or narrates them. The Shell
// itself never interprets a report.
type Report struct{}

func (ZKRequest) isEffect()   {}
func (SetTimer) isEffect()    {}
func (CancelTimer) isEffect() {}
func (Report) isEffect()      {}

func (e ZKRequest) String() string {
	s := fmt.Sprintf("zk %d: %s", e.ID, FormatRequest(e.Req))
	if e.Watch {
		s += " watch"
	}
	return s
}

func (e SetTimer) String() string    { return fmt.Sprintf("set-timer %s %v", e.Name, e.After) }
func (e CancelTimer) String() string { return "cancel-timer " + string(e.Name) }

// FormatRequest renders a ZooKeeper request in one line, for tests and
// logs: "create /leader data=m0 ephemeral", "get /leader".
func FormatRequest(r fakezk.Request) string {
	switch q := r.(type) {
	case *fakezk.CreateRequest:
		return "create " + q.Path + formatData(q.Data) + formatFlags(q.Flags)
	case *fakezk.SetDataRequest:
		return fmt.Sprintf("set %s%s version=%d", q.Path, formatData(q.Data), q.Version)
	case *fakezk.DeleteRequest:
		return fmt.Sprintf("delete %s version=%d", q.Path, q.Version)
	case *fakezk.GetDataRequest:
		return "get " + q.Path
	case *fakezk.ExistsRequest:
		return "exists " + q.Path
	case *fakezk.GetChildrenRequest:
		return "children " + q.Path
	case *fakezk.MultiRequest:
		ops := make([]string, len(q.Ops))
		for i, op := range q.Ops {
			switch o := op.(type) {
			case *fakezk.CheckVersionRequest:
				ops[i] = fmt.Sprintf("check %s version=%d", o.Path, o.Version)
			case fakezk.Request:
				ops[i] = FormatRequest(o)
			default:
				ops[i] = fmt.Sprintf("%T", op)
			}
		}
		return "multi [" + strings.Join(ops, "; ") + "]"
	}
	return fmt.Sprintf("%T", r)
}

func formatData(d []byte) string {
	if d == nil {
		return ""
	}
	return fmt.Sprintf(" data=%q", d)
}

func formatFlags(f int32) string {
	s := ""
	if f&fakezk.FlagEphemeral != 0 {
		s += " ephemeral"
	}
	if f&fakezk.FlagSequence != 0 {
		s += " sequential"
	}
	return s
}
