package scenarios

import (
	"errors"
	"fmt"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/sim"
)

func init() {
	register(Scenario{
		Name:    "zk-election",
		Summary: "4 clients elect a leader with an ephemeral /leader on a fake ZooKeeper while pauses, partitions, crashes and session expiries hit them; ephemerals must belong to live sessions, and after healing exactly one leader must be known",
		Run:     func(cfg Config) *Result { return runZKElection(cfg, electionPlan{}) },
	})
}

// electionPlan holds switches tests use to plant bugs the checks must catch.
type electionPlan struct {
	serverBugKeepEphemerals bool // the server keeps a dead session's ephemerals
	keepBeliefOnExpiry      bool // a member that believed it led keeps believing it on a new session, without re-checking
	noRegisterWait          bool // a member gives up registering when its old znode is still there
	leaveCrashed            bool // healing leaves the first member down
}

// Election settings. The session timeout is short so that faults expire
// sessions within the run; the grace period covers timeout, tick and the
// client's 1s reconnect delay several times over.
const (
	electionMembers        = 4
	electionTick           = 500 * sim.Millisecond
	electionSessionTimeout = 3 * sim.Second
	electionWorkInterval   = sim.Second
	electionRetry          = 500 * sim.Millisecond
	electionSafetyPhase    = 60 * sim.Second
	electionGrace          = 30 * sim.Second
)

type election struct {
	recorder
	srv     *fakezk.Server
	members []*member
	plan    electionPlan

	lastZxid       int64
	lastStepAt     sim.Time
	dualLeaderTime sim.Duration
	elections      int
	ephemeralSeen  map[string]bool // invariant already reported, to report each once
}

type member struct {
	e         *election
	name      string
	id        sim.ProcID
	zk        *fakezk.Client
	sessionID int64 // the session under which it registered and campaigns
	leader    bool  // what it believes
	work      int
}

func runZKElection(cfg Config, plan electionPlan) *Result {
	counts := kindCounter{}
	w := sim.New(sim.Options{
		Seed:            cfg.Seed,
		Latency:         sim.Uniform(200*sim.Microsecond, 2*sim.Millisecond),
		ConnBreakDetect: 500 * sim.Millisecond,
		MaxTime:         electionSafetyPhase + electionGrace,
		Sinks:           append([]sim.Sink{counts}, cfg.Sinks...),
	})
	e := &election{recorder: newRecorder(w, "zk-election", cfg.Seed), plan: plan, ephemeralSeen: map[string]bool{}}
	e.srv = fakezk.NewServer(w, "zk", fakezk.ServerConfig{TickTime: electionTick, BugKeepEphemerals: plan.serverBugKeepEphemerals})
	for i := 0; i < electionMembers; i++ {
		m := &member{e: e, name: fmt.Sprintf("m%d", i)}
		m.id = w.AddProcess(m.name, sim.ProcessHooks{OnCrash: m.crash, OnRestart: m.start})
		e.members = append(e.members, m)
		w.At(m.id, sim.Time(sim.Duration(i)*10*sim.Millisecond), "start", m.start)
	}
	w.OnStep(e.checkStep)
	e.scheduleFaults()
	w.At(sim.Kernel, sim.Time(electionSafetyPhase), "heal-all", e.healAll)
	status := w.Run()
	e.checkConverged()
	return e.finish(status, map[string]float64{
		"zk_transactions":       float64(e.srv.Zxid()),
		"session_events":        counts[fakezk.KindSession],
		"watch_events":          counts[fakezk.KindWatchEvent],
		"elections_won":         float64(e.elections),
		"dual_leader_belief_ms": float64(e.dualLeaderTime / sim.Millisecond),
		"messages_lost":         counts[sim.KindMsgLost],
		"crashes":               counts[sim.KindProcCrash],
		"pauses":                counts[sim.KindProcPause],
		"partitions":            counts[sim.KindNetPartition],
	})
}

func (m *member) start() {
	e := m.e
	m.sessionID, m.leader = 0, false
	m.zk = fakezk.Connect(e.w, m.id, []sim.ProcID{e.srv.ID()}, fakezk.ClientConfig{
		SessionTimeout: electionSessionTimeout,
		EventCallback:  m.onEvent,
	})
	m.scheduleWork()
}

// crash: the client library and everything the member believed are memory.
func (m *member) crash() {
	m.zk, m.sessionID, m.leader = nil, 0, false
}

func (m *member) onEvent(ev fakezk.Event) {
	if ev.Type != fakezk.EventSession {
		return
	}
	switch ev.State {
	case fakezk.StateExpired:
		if m.e.plan.keepBeliefOnExpiry {
			return
		}
		if m.leader {
			m.e.narrate("%s learns its session expired: no longer leader", m.name)
		}
		m.leader = false
	case fakezk.StateHasSession:
		if id := m.zk.SessionID(); id != m.sessionID {
			m.sessionID = id
			m.register()
			if m.e.plan.keepBeliefOnExpiry && m.leader {
				return
			}
			m.campaign()
		}
	}
}

func (m *member) register() {
	acl := fakezk.WorldACL(fakezk.PermAll)
	m.zk.Create("/members", nil, 0, acl, func(string, error) {})
	m.zk.Create("/load", nil, 0, acl, func(string, error) {})
	m.zk.Create("/load/"+m.name, nil, 0, acl, func(string, error) {})
	m.registerMember(m.sessionID)
}

// registerMember creates /members/<name>. After a quick restart the znode of
// the previous session may still be there until that session expires (the
// trap Kafka brokers met re-registering under /brokers/ids): wait for it to
// go, then create ours.
func (m *member) registerMember(session int64) {
	path := "/members/" + m.name
	m.zk.Create(path, nil, fakezk.FlagEphemeral, fakezk.WorldACL(fakezk.PermAll), func(_ string, err error) {
		if m.sessionID != session || err == nil || m.e.plan.noRegisterWait {
			return
		}
		m.zk.ExistsW(path, func(ok bool, st *fakezk.Stat, err error) {
			if m.sessionID != session {
				return
			}
			if err != nil || !ok {
				m.e.w.After(m.id, electionRetry, "register-retry", func() {
					if m.sessionID == session {
						m.registerMember(session)
					}
				})
			}
		}, func(ev fakezk.Event) {
			if m.sessionID == session && ev.Type == fakezk.EventNodeDeleted {
				m.registerMember(session)
			}
		})
	})
}

// campaign tries to create the ephemeral /leader; if someone holds it, it
// watches it and tries again when it changes.
func (m *member) campaign() {
	session := m.sessionID
	if session == 0 || m.zk == nil {
		return
	}
	m.zk.Create("/leader", []byte(m.name), fakezk.FlagEphemeral, fakezk.WorldACL(fakezk.PermAll), func(_ string, err error) {
		if m.sessionID != session {
			return
		}
		switch {
		case err == nil:
			m.becomeLeader()
		case errors.Is(err, fakezk.ErrNodeExists):
			m.follow(session)
		default:
			m.retry(session)
		}
	})
}

// follow reads /leader with a watch. It may be ours: a create that failed
// with a connection loss may have been applied.
func (m *member) follow(session int64) {
	m.zk.GetW("/leader", func(data []byte, st *fakezk.Stat, err error) {
		if m.sessionID != session {
			return
		}
		switch {
		case err == nil && st.EphemeralOwner == session:
			m.becomeLeader()
		case err == nil:
			m.leader = false
		case errors.Is(err, fakezk.ErrNoNode):
			m.campaign()
		default:
			m.retry(session)
		}
	}, func(ev fakezk.Event) {
		if m.sessionID == session && ev.Type != fakezk.EventNotWatching {
			m.campaign()
		}
	})
}

func (m *member) retry(session int64) {
	m.e.w.After(m.id, electionRetry, "campaign-retry", func() {
		if m.sessionID == session {
			m.campaign()
		}
	})
}

func (m *member) becomeLeader() {
	if !m.leader {
		m.e.elections++
		m.e.narrate("%s becomes leader (session 0x%x)", m.name, m.sessionID)
	}
	m.leader = true
}

// scheduleWork: each member writes its load counter every second.
func (m *member) scheduleWork() {
	m.e.w.After(m.id, electionWorkInterval, "work", func() {
		if m.zk != nil && m.sessionID != 0 {
			m.work++
			m.zk.Set("/load/"+m.name, []byte(fmt.Sprint(m.work)), -1, func(*fakezk.Stat, error) {})
		}
		m.scheduleWork()
	})
}

// checkStep holds after every event: ephemerals belong to live sessions, the
// zxid never goes back; and it measures how long two members both believed
// they led (the known hazard of this recipe without fencing).
func (e *election) checkStep() {
	now := e.w.Now()
	believers := 0
	for _, m := range e.members {
		if m.leader && e.w.IsUp(m.id) {
			believers++
		}
	}
	if believers > 1 {
		e.dualLeaderTime += now.Sub(e.lastStepAt)
	}
	e.lastStepAt = now
	// The durable zxid: a crash may take back transactions that were
	// applied but not yet fsynced (and not acknowledged), and their zxids.
	if z := e.srv.DurableZxid(); z < e.lastZxid {
		e.violate("zxid-monotonic", "zxid went from 0x%x to 0x%x", e.lastZxid, z)
	} else {
		e.lastZxid = z
	}
	if !e.w.IsUp(e.srv.ID()) {
		return
	}
	e.srv.Tree().Walk(func(path string, _ []byte, st fakezk.Stat) bool {
		if st.EphemeralOwner != 0 && !e.srv.SessionAlive(st.EphemeralOwner) {
			key := fmt.Sprintf("%s/%x", path, st.EphemeralOwner)
			if !e.ephemeralSeen[key] {
				e.ephemeralSeen[key] = true
				e.violate("ephemerals-belong-to-live-sessions", "%s is owned by session 0x%x, which the server no longer has", path, st.EphemeralOwner)
			}
		}
		return true
	})
}

func (e *election) scheduleFaults() {
	w := e.w
	r := w.Rand("faults")
	enabled := swarm(r, []string{"pause-member", "partition-member", "crash-member", "expire-session", "pause-server", "crash-server"}, 0.6)
	w.At(sim.Kernel, 0, "swarm", func() { e.narrate("fault kinds this run: %v", enabled) })
	for at := sim.Time(0).Add(r.DurationBetween(3, 6) * sim.Second); at < sim.Time(electionSafetyPhase-5*sim.Second); at = at.Add(r.DurationBetween(2000, 8000) * sim.Millisecond) {
		kind := enabled[r.Intn(len(enabled))]
		m := e.members[r.Intn(len(e.members))]
		hold := r.DurationBetween(500, 6000) * sim.Millisecond
		w.At(sim.Kernel, at, kind, func() { e.inject(kind, m, hold) })
	}
}

func (e *election) inject(kind string, m *member, hold sim.Duration) {
	w := e.w
	role := ""
	if m.leader {
		role = " (which believes it leads)"
	}
	switch kind {
	case "pause-member":
		if !w.IsUp(m.id) || w.IsPaused(m.id) {
			return
		}
		w.Pause(m.id)
		e.narrate("GC pause of %s%s for %v", m.name, role, hold)
		w.After(sim.Kernel, hold, "resume", func() { w.Resume(m.id); e.narrate("%s resumes", m.name) })
	case "partition-member":
		w.Partition([]sim.ProcID{m.id}, []sim.ProcID{e.srv.ID()})
		e.narrate("partition %s%s from ZooKeeper for %v", m.name, role, hold)
		w.After(sim.Kernel, hold, "heal", func() { w.HealAll(); e.narrate("heal") })
	case "crash-member":
		if !w.IsUp(m.id) {
			return
		}
		w.Crash(m.id)
		e.narrate("crash %s%s for %v", m.name, role, hold)
		w.After(sim.Kernel, hold, "restart", func() {
			if !w.IsUp(m.id) {
				w.Restart(m.id)
				e.narrate("restart %s", m.name)
			}
		})
	case "expire-session":
		if m.sessionID != 0 && e.srv.Expire(m.sessionID) {
			e.narrate("ZooKeeper expires the session of %s%s", m.name, role)
		}
	case "pause-server":
		if w.IsPaused(e.srv.ID()) || !w.IsUp(e.srv.ID()) {
			return
		}
		w.Pause(e.srv.ID())
		e.narrate("ZooKeeper pauses for %v", hold)
		w.After(sim.Kernel, hold, "resume-zk", func() { w.Resume(e.srv.ID()); e.narrate("ZooKeeper resumes") })
	case "crash-server":
		if !w.IsUp(e.srv.ID()) {
			return
		}
		w.Crash(e.srv.ID())
		e.narrate("ZooKeeper crashes for %v", hold)
		w.After(sim.Kernel, hold, "restart-zk", func() {
			if !w.IsUp(e.srv.ID()) {
				w.Restart(e.srv.ID())
				e.narrate("ZooKeeper restarts (tree and sessions from disk)")
			}
		})
	}
}

func (e *election) healAll() {
	w := e.w
	w.HealAll()
	if e.plan.leaveCrashed {
		w.Crash(e.members[0].id)
	}
	for _, id := range append([]sim.ProcID{e.srv.ID()}, e.memberIDs()...) {
		if e.plan.leaveCrashed && id == e.members[0].id {
			continue
		}
		if !w.IsUp(id) {
			w.Restart(id)
		}
		w.Resume(id)
	}
	e.narrate("heal everything; require one known leader within %v", electionGrace)
}

func (e *election) memberIDs() []sim.ProcID {
	ids := make([]sim.ProcID, len(e.members))
	for i, m := range e.members {
		ids[i] = m.id
	}
	return ids
}

// checkConverged: after the grace period every member has a session and its
// membership znode, /leader is held by a live member's session, and exactly
// that member believes it leads.
func (e *election) checkConverged() {
	tree := e.srv.Tree()
	leaderStat, ok := tree.Exists("/leader")
	if !ok {
		e.violate("one-leader-after-heal", "/leader does not exist")
	}
	for _, m := range e.members {
		if ok && m.sessionID == leaderStat.EphemeralOwner {
			e.narrate("end: %s holds /leader", m.name)
		}
	}
	for _, m := range e.members {
		if m.zk == nil || m.zk.State() != fakezk.StateHasSession {
			e.violate("sessions-recover", "%s has no session after healing", m.name)
			continue
		}
		if st, ok := tree.Exists("/members/" + m.name); !ok || st.EphemeralOwner != m.sessionID {
			e.violate("members-registered", "%s is not registered under its session 0x%x", m.name, m.sessionID)
		}
		holds := ok && leaderStat.EphemeralOwner == m.sessionID
		if holds != m.leader {
			e.violate("one-leader-after-heal", "%s believes leader=%v but /leader is owned by 0x%x (its session 0x%x)", m.name, m.leader, leaderStat.EphemeralOwner, m.sessionID)
		}
	}
}
