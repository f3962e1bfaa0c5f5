package scenarios

import (
	"errors"
	"fmt"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/sim"
)

func init() {
	register(Scenario{
		Name:      "zk-election",
		ZooKeeper: true,
		Summary:   "4 clients elect a leader with an ephemeral /leader on a fake ZooKeeper while pauses, partitions, crashes and session expiries hit them; ephemerals must belong to live sessions, and after healing exactly one leader must be known",
		Run:       func(cfg Config) *invariants.Result { return runZKElection(cfg, electionPlan{}) },
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

	lastStepAt     sim.Time
	dualLeaderTime sim.Duration
	elections      int
	faults         *sim.Injector
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

func runZKElection(cfg Config, plan electionPlan) *invariants.Result {
	counts := kindCounter{}
	w := sim.New(sim.Options{
		Seed:            cfg.Seed,
		Latency:         sim.Uniform(200*sim.Microsecond, 2*sim.Millisecond),
		ConnBreakDetect: 500 * sim.Millisecond,
		MaxTime:         electionSafetyPhase + electionGrace,
		MaxEvents:       maxEvents(cfg, 0),
		Sinks:           append([]sim.Sink{counts}, cfg.Sinks...),
	})
	e := &election{recorder: newRecorder(w, "zk-election", cfg), plan: plan}
	e.srv = fakezk.NewServer(w, "zk", fakezk.ServerConfig{TickTime: electionTick, BugKeepEphemerals: plan.serverBugKeepEphemerals, TxnLog: cfg.ZKLog})
	for i := 0; i < electionMembers; i++ {
		m := &member{e: e, name: fmt.Sprintf("m%d", i)}
		m.id = w.AddProcess(m.name, sim.ProcessHooks{OnCrash: m.crash, OnRestart: m.start})
		e.members = append(e.members, m)
		w.At(m.id, sim.Time(sim.Duration(i)*10*sim.Millisecond), "start", m.start)
	}
	invariants.WatchZooKeeper(e.check, e.srv)
	w.OnStep(e.checkStep)
	e.scheduleFaults()
	w.At(sim.Kernel, sim.Time(electionSafetyPhase), "heal-all", e.healAll)
	status := w.Run()
	if e.ranToEnd(status) {
		e.checkConverged()
	}
	if cfg.ZKLog != nil {
		e.srv.FlushTxnLog() // what waits for an fsync, so that the log replays to the dump
	}
	if cfg.ZKDump != nil {
		_ = fakezk.WriteDump(cfg.ZKDump, e.srv.View()) // the writer keeps its error (Config.ZKDump)
	}
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

// checkStep measures, after every event, how long two members both believed
// they led (the known hazard of this recipe without fencing). The safety
// checks (ephemerals belong to live sessions, zxids only grow) are
// invariants.WatchZooKeeper's.
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
}

// scheduleFaults draws the faults of the safety phase from the seed. The
// kernel's faults go to an Injector as a Schedule; session expiry is a
// ZooKeeper fault the kernel does not know, so it stays a scenario event.
func (e *election) scheduleFaults() {
	w := e.w
	names := make([]string, len(e.members))
	for i, m := range e.members {
		names[i] = m.name
	}
	schedule, expiries, enabled := electionSchedule(w.Rand("faults"), names, w.Name(e.srv.ID()))
	w.At(sim.Kernel, 0, "swarm", func() { e.narrate("fault kinds this run: %v", enabled) })
	for _, x := range expiries {
		m := e.members[x.member]
		w.At(sim.Kernel, x.at, "expire-session", func() {
			role := e.role(m)
			if m.sessionID != 0 && e.srv.Expire(m.sessionID) {
				e.narrate("ZooKeeper expires the session of %s%s", m.name, role)
			}
		})
	}
	e.faults = sim.NewInjector(w)
	e.faults.OnApply = e.narrateFault
	e.faults.OnHeal = e.narrateHeal
	if err := e.faults.Schedule(schedule); err != nil {
		panic("zk-election: " + err.Error()) // the schedule is built from the world's own names
	}
}

// expiry is a session expiry the schedule asks for.
type expiry struct {
	at     sim.Time
	member int
}

// electionSchedule draws the faults of the safety phase. Swarm testing: the
// seed first picks which fault kinds this run uses. Faults that would do
// nothing (a crash of a crashed process, a pause of a paused or crashed one)
// are left out here, where the schedule's own effects are known.
func electionSchedule(r *sim.Rand, members []string, server string) (sim.Schedule, []expiry, []string) {
	enabled := swarm(r, []string{"pause-member", "partition-member", "crash-member", "expire-session", "pause-server", "crash-server"}, 0.6)
	var s sim.Schedule
	var expiries []expiry
	type span struct {
		proc     string
		from, to sim.Time
	}
	var crashes, pauses []span
	during := func(spans []span, proc string, t sim.Time) bool {
		for _, sp := range spans {
			if sp.proc == proc && sp.from <= t && t <= sp.to {
				return true
			}
		}
		return false
	}
	for at := sim.Time(0).Add(r.DurationBetween(3, 6) * sim.Second); at < sim.Time(electionSafetyPhase-5*sim.Second); at = at.Add(r.DurationBetween(2000, 8000) * sim.Millisecond) {
		kind := enabled[r.Intn(len(enabled))]
		m := r.Intn(len(members))
		hold := r.DurationBetween(500, 6000) * sim.Millisecond
		e := sim.Entry{At: at, Duration: hold, Fault: sim.Fault{ID: sim.FaultID(len(s) + 1)}}
		proc := members[m]
		switch kind {
		case "expire-session":
			expiries = append(expiries, expiry{at, m})
			continue
		case "partition-member":
			e.Kind, e.A, e.B = sim.FaultPartition, []string{proc}, []string{server}
			s = append(s, e)
			continue
		case "pause-server", "crash-server":
			proc = server
		}
		if during(crashes, proc, at) {
			continue
		}
		e.Proc = proc
		switch kind {
		case "pause-member", "pause-server":
			if during(pauses, proc, at) {
				continue
			}
			e.Kind = sim.FaultPause
			pauses = append(pauses, span{proc, at, at.Add(hold)})
		case "crash-member", "crash-server":
			e.Kind = sim.FaultCrash
			crashes = append(crashes, span{proc, at, at.Add(hold)})
			for i, p := range pauses { // the crash ends the pause
				if p.proc == proc && p.from <= at && at <= p.to {
					pauses[i].to = at
				}
			}
		}
		s = append(s, e)
	}
	return s, expiries, enabled
}

// role says, for the narration, whether m believes it leads.
func (e *election) role(m *member) string {
	if m.leader {
		return " (which believes it leads)"
	}
	return ""
}

func (e *election) member(name string) *member {
	for _, m := range e.members {
		if m.name == name {
			return m
		}
	}
	return nil
}

// narrateFault tells the timeline about a fault as it applies (before it
// takes effect, so a member's belief is what the fault finds).
func (e *election) narrateFault(en sim.Entry) {
	zk := e.w.Name(e.srv.ID())
	switch {
	case en.Kind == sim.FaultPartition:
		m := e.member(en.A[0])
		e.narrate("partition %s%s from ZooKeeper for %v", m.name, e.role(m), en.Duration)
	case en.Proc == zk && en.Kind == sim.FaultPause:
		e.narrate("ZooKeeper pauses for %v", en.Duration)
	case en.Proc == zk && en.Kind == sim.FaultCrash:
		e.narrate("ZooKeeper crashes for %v", en.Duration)
	case en.Kind == sim.FaultPause:
		m := e.member(en.Proc)
		e.narrate("GC pause of %s%s for %v", m.name, e.role(m), en.Duration)
	case en.Kind == sim.FaultCrash:
		m := e.member(en.Proc)
		e.narrate("crash %s%s for %v", m.name, e.role(m), en.Duration)
	}
}

// narrateHeal tells the timeline that a fault ended, and what ended it if
// not its own time (the end of the safety phase narrates itself).
func (e *election) narrateHeal(f sim.Fault, why string) {
	if why == "heal-all" {
		return
	}
	early := ""
	if why != "scheduled" {
		early = " (" + why + ")"
	}
	zk := e.w.Name(e.srv.ID())
	switch {
	case f.Kind == sim.FaultPartition:
		e.narrate("heal %s | ZooKeeper%s", f.A[0], early)
	case f.Kind == sim.FaultPause && early != "":
		e.narrate("pause of %s ends%s", f.Proc, early)
	case f.Proc == zk && f.Kind == sim.FaultPause:
		e.narrate("ZooKeeper resumes")
	case f.Proc == zk && f.Kind == sim.FaultCrash:
		e.narrate("ZooKeeper restarts (tree and sessions from disk)%s", early)
	case f.Kind == sim.FaultPause:
		e.narrate("%s resumes", f.Proc)
	case f.Kind == sim.FaultCrash:
		e.narrate("restart %s%s", f.Proc, early)
	}
}

func (e *election) healAll() {
	active := len(e.faults.Active())
	e.faults.HealAll()
	if e.plan.leaveCrashed {
		e.w.Crash(e.members[0].id)
	}
	e.narrate("heal everything (%d %s still active); require one known leader within %v", active, plural(active, "fault"), electionGrace)
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
		e.liveness("one-leader-after-heal", "/leader does not exist")
	}
	for _, m := range e.members {
		if ok && m.sessionID == leaderStat.EphemeralOwner {
			e.narrate("end: %s holds /leader", m.name)
		}
	}
	for _, m := range e.members {
		if m.zk == nil || m.zk.State() != fakezk.StateHasSession {
			e.liveness("sessions-recover", "%s has no session after healing", m.name)
			continue
		}
		if st, ok := tree.Exists("/members/" + m.name); !ok || st.EphemeralOwner != m.sessionID {
			e.liveness("members-registered", "%s is not registered under its session 0x%x", m.name, m.sessionID)
		}
		holds := ok && leaderStat.EphemeralOwner == m.sessionID
		if holds != m.leader {
			e.liveness("one-leader-after-heal", "%s believes leader=%v but /leader is owned by 0x%x (its session 0x%x)", m.name, m.leader, leaderStat.EphemeralOwner, m.sessionID)
		}
	}
}
