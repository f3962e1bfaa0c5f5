package scenarios

import (
	"errors"
	"fmt"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/node"
	"github.com/kzsim/kzsim/sim"
)

// electionMember is the logic of one zk-election member, as a node.Machine:
// it registers an ephemeral /members/<name>, campaigns for the ephemeral
// /leader, follows the holder through a watch, re-registers and campaigns
// again on every new session, and writes its load counter every second.
//
// Durable state: none. The member writes nothing to its disk; all it knows
// is in ZooKeeper or in memory, and a crash loses all of it (the shell
// makes a new electionMember for every incarnation).
//
// Volatile state: the fields below session. Role changes happen only in
// becomeLeader and resign, which panic on an impossible transition.
type electionMember struct {
	name string
	bugs memberBugs

	started     bool
	session     int64 // the session it registered and campaigns under; 0 before the first
	leader      bool  // what it believes
	leaderSince sim.Time
	work        int // load counter writes made in this incarnation
	next        node.ReqID
	calls       map[node.ReqID]memberCall // waiting for a reply or a watch event
	armed       map[node.TimerName]bool   // timers set and not yet fired or cancelled
	out         []node.Effect             // the effects of the current Step
}

// memberBugs are planted bugs the scenario's checks must catch.
type memberBugs struct {
	keepBeliefOnExpiry bool // a member that believed it led keeps believing it on a new session, without re-checking
	noRegisterWait     bool // a member gives up registering when its old znode is still there
}

// memberView is what checks and narration may read of a member.
type memberView struct {
	Session int64
	Leader  bool
}

// memberCall is what a request was for, and under which session.
type memberCall struct {
	purpose callPurpose
	session int64
	watch   bool // the request set a watch
	replied bool // the reply came (a watch's call waits on for its event)
}

type callPurpose uint8

const (
	callNoReply      callPurpose = iota // parents and load writes: the outcome does not matter
	callRegister                        // create /members/<name>
	callRegisterWait                    // exists /members/<name>, watching for the old znode to go
	callCampaign                        // create /leader
	callFollow                          // get /leader, watching it
)

// Timers.
const (
	timerWork          node.TimerName = "work"
	timerCampaignRetry node.TimerName = "campaign-retry"
	timerRegisterRetry node.TimerName = "register-retry"
)

// maxMemberCalls bounds the requests a member waits on; a handful is
// normal (one load write a second, failed within the client's read
// timeout).
const maxMemberCalls = 64

// becameLeader reports that the member now believes it leads.
type becameLeader struct {
	node.Report
	Session int64
}

// resigned reports that the member no longer believes it leads.
type resigned struct {
	node.Report
	Session int64
	Why     string
	LedFor  sim.Duration
}

func (r becameLeader) String() string { return fmt.Sprintf("became-leader session=0x%x", r.Session) }
func (r resigned) String() string {
	return fmt.Sprintf("resigned session=0x%x led-for=%v: %s", r.Session, r.LedFor, r.Why)
}

func newElectionMember(name string, bugs memberBugs) *electionMember {
	return &electionMember{name: name, bugs: bugs, calls: map[node.ReqID]memberCall{}, armed: map[node.TimerName]bool{}}
}

// View returns what checks may read.
func (m *electionMember) View() memberView {
	return memberView{Session: m.session, Leader: m.leader}
}

// Step applies one input; see node.Machine.
func (m *electionMember) Step(now sim.Time, in node.Input) []node.Effect {
	m.out = nil
	if _, ok := in.(node.Restarted); !ok && !m.started {
		panic(fmt.Sprintf("%s: %v before Restarted", m.name, in))
	}
	switch in := in.(type) {
	case node.Restarted:
		if m.started {
			panic(fmt.Sprintf("%s: Restarted twice to one machine", m.name))
		}
		m.started = true
		m.setTimer(timerWork, electionWorkInterval)
	case node.ZKSession:
		m.onSession(now, in)
	case node.ZKReply:
		m.onReply(now, in)
	case node.ZKWatch:
		m.onWatch(in)
	case node.TimerFired:
		m.onTimer(in.Name)
	default:
		panic(fmt.Sprintf("%s: unknown input %T", m.name, in))
	}
	if len(m.calls) > maxMemberCalls {
		panic(fmt.Sprintf("%s waits on %d requests, more than %d", m.name, len(m.calls), maxMemberCalls))
	}
	out := m.out
	m.out = nil
	return out
}

func (m *electionMember) onSession(now sim.Time, in node.ZKSession) {
	switch in.State {
	case fakezk.StateExpired:
		if m.bugs.keepBeliefOnExpiry {
			return
		}
		if m.leader {
			m.resign(now, "its session expired")
		}
	case fakezk.StateHasSession:
		if in.Session == m.session {
			return // reconnected to the same session: its ephemerals and watches stand
		}
		if in.Session == 0 {
			panic(fmt.Sprintf("%s: StateHasSession without a session id", m.name))
		}
		// The client reports the old session Expired before it makes a
		// new one, and expiry ends the belief.
		if m.leader && !m.bugs.keepBeliefOnExpiry {
			panic(fmt.Sprintf("%s: new session 0x%x while it believes it leads under 0x%x", m.name, in.Session, m.session))
		}
		m.session = in.Session
		m.cancelTimer(timerCampaignRetry) // they were for the old session
		m.cancelTimer(timerRegisterRetry)
		m.register()
		if m.bugs.keepBeliefOnExpiry && m.leader {
			return
		}
		m.campaign()
	}
}

func (m *electionMember) onReply(now sim.Time, in node.ZKReply) {
	c, ok := m.calls[in.Req]
	if !ok || c.replied {
		panic(fmt.Sprintf("%s: %v answers no request it waits on", m.name, in))
	}
	err := in.Resp.Err
	if c.watch && err == nil {
		c.replied = true // set: the call waits on for its event
		m.calls[in.Req] = c
	} else {
		delete(m.calls, in.Req)
	}
	if c.session != m.session {
		return // for an older session
	}
	switch c.purpose {
	case callRegister:
		// After a quick restart the znode of the previous session may
		// still be there until that session expires (the trap Kafka
		// brokers met re-registering under /brokers/ids): wait for it to
		// go, then create ours.
		if err == nil || m.bugs.noRegisterWait {
			return
		}
		m.request(callRegisterWait, &fakezk.ExistsRequest{Path: m.memberPath()}, true)
	case callRegisterWait:
		if err != nil || !in.Resp.Exists {
			m.setTimer(timerRegisterRetry, electionRetry)
		}
	case callCampaign:
		switch {
		case err == nil:
			m.becomeLeader(now)
		case errors.Is(err, fakezk.ErrNodeExists):
			m.follow()
		default:
			m.setTimer(timerCampaignRetry, electionRetry)
		}
	case callFollow:
		// /leader may be ours: a create that failed with a connection
		// loss may have been applied.
		switch {
		case err == nil && in.Resp.Stat.EphemeralOwner == m.session:
			m.becomeLeader(now)
		case err == nil:
			if m.leader {
				m.resign(now, fmt.Sprintf("/leader is held by session 0x%x", in.Resp.Stat.EphemeralOwner))
			}
		case errors.Is(err, fakezk.ErrNoNode):
			m.campaign()
		default:
			m.setTimer(timerCampaignRetry, electionRetry)
		}
	}
}

func (m *electionMember) onWatch(in node.ZKWatch) {
	c, ok := m.calls[in.Req]
	if !ok || !c.watch || !c.replied {
		panic(fmt.Sprintf("%s: %v fires no watch it set", m.name, in))
	}
	delete(m.calls, in.Req)
	if c.session != m.session {
		return
	}
	switch c.purpose {
	case callRegisterWait:
		if in.Event.Type == fakezk.EventNodeDeleted {
			m.registerMember()
		}
	case callFollow:
		if in.Event.Type != fakezk.EventNotWatching {
			m.campaign()
		}
	}
}

func (m *electionMember) onTimer(name node.TimerName) {
	if !m.armed[name] {
		panic(fmt.Sprintf("%s: timer %s fired, which is not set", m.name, name))
	}
	delete(m.armed, name)
	switch name {
	case timerWork:
		if m.session != 0 {
			m.work++
			m.request(callNoReply, &fakezk.SetDataRequest{Path: "/load/" + m.name, Data: []byte(fmt.Sprint(m.work)), Version: -1}, false)
		}
		m.setTimer(timerWork, electionWorkInterval)
	case timerCampaignRetry:
		m.campaign()
	case timerRegisterRetry:
		m.registerMember()
	}
}

func (m *electionMember) memberPath() string { return "/members/" + m.name }

// register creates the parents and the member's load znode (they may exist:
// the outcome does not matter), then its membership.
func (m *electionMember) register() {
	acl := fakezk.WorldACL(fakezk.PermAll)
	for _, p := range []string{"/members", "/load", "/load/" + m.name} {
		m.request(callNoReply, &fakezk.CreateRequest{Path: p, Acl: acl}, false)
	}
	m.registerMember()
}

func (m *electionMember) registerMember() {
	m.request(callRegister, &fakezk.CreateRequest{Path: m.memberPath(), Flags: fakezk.FlagEphemeral, Acl: fakezk.WorldACL(fakezk.PermAll)}, false)
}

// campaign tries to create the ephemeral /leader; if someone holds it, the
// member follows it.
func (m *electionMember) campaign() {
	if m.session == 0 {
		panic(fmt.Sprintf("%s campaigns without a session", m.name))
	}
	m.request(callCampaign, &fakezk.CreateRequest{Path: "/leader", Data: []byte(m.name), Flags: fakezk.FlagEphemeral, Acl: fakezk.WorldACL(fakezk.PermAll)}, false)
}

// follow reads /leader with a watch, to campaign again when it changes.
func (m *electionMember) follow() {
	m.request(callFollow, &fakezk.GetDataRequest{Path: "/leader"}, true)
}

func (m *electionMember) becomeLeader(now sim.Time) {
	if m.leader {
		panic(fmt.Sprintf("%s becomes leader under session 0x%x, which it already leads under", m.name, m.session))
	}
	if m.session == 0 {
		panic(fmt.Sprintf("%s becomes leader without a session", m.name))
	}
	m.leader, m.leaderSince = true, now
	m.out = append(m.out, becameLeader{Session: m.session})
}

func (m *electionMember) resign(now sim.Time, why string) {
	if !m.leader {
		panic(fmt.Sprintf("%s resigns (%s) but does not lead", m.name, why))
	}
	m.leader = false
	m.out = append(m.out, resigned{Session: m.session, Why: why, LedFor: now.Sub(m.leaderSince)})
}

func (m *electionMember) request(p callPurpose, req fakezk.Request, watch bool) {
	m.next++
	m.calls[m.next] = memberCall{purpose: p, session: m.session, watch: watch}
	m.out = append(m.out, node.ZKRequest{ID: m.next, Req: req, Watch: watch})
}

func (m *electionMember) setTimer(name node.TimerName, after sim.Duration) {
	m.armed[name] = true
	m.out = append(m.out, node.SetTimer{Name: name, After: after})
}

// cancelTimer cancels name if it is set.
func (m *electionMember) cancelTimer(name node.TimerName) {
	if !m.armed[name] {
		return
	}
	delete(m.armed, name)
	m.out = append(m.out, node.CancelTimer{Name: name})
}
