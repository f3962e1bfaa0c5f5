package scenarios

import (
	"fmt"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/nodes/node"
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
	watchEvents    int // watch events the members' clients delivered
	faults         *sim.Injector
}

// member is the scenario's handle on one member process: its shell, which
// runs an electionMember for each incarnation.
type member struct {
	e     *election
	name  string
	id    sim.ProcID
	shell *node.Shell[*electionMember]
}

// view returns what the member believes (the zero view while it is down).
func (m *member) view() memberView {
	if mm, ok := m.shell.Machine(); ok {
		return mm.View()
	}
	return memberView{}
}

// countWatchEvent counts the watch events the members' clients delivered
// (not the NotWatching that ends each watch on expiry or close).
func (e *election) countWatchEvent(in node.Input) {
	if w, ok := in.(node.ZKWatch); ok && w.Event.Type != fakezk.EventNotWatching {
		e.watchEvents++
	}
}

// report narrates and counts the member's role changes.
func (m *member) report(r node.Effect) {
	switch r := r.(type) {
	case becameLeader:
		m.e.elections++
		m.e.narrate("%s becomes leader (session 0x%x)", m.name, r.Session)
	case resigned:
		m.e.narrate("%s learns %s: no longer leader (led for %v)", m.name, r.Why, r.LedFor)
	default:
		panic(fmt.Sprintf("zk-election: unknown report %T", r))
	}
}

func runZKElection(cfg Config, plan electionPlan) *invariants.Result {
	w := sim.New(sim.Options{
		Seed:            cfg.Seed,
		Latency:         sim.Uniform(200*sim.Microsecond, 2*sim.Millisecond),
		ConnBreakDetect: 500 * sim.Millisecond,
		MaxTime:         electionSafetyPhase + electionGrace,
		MaxEvents:       maxEvents(cfg, 0),
		Sinks:           cfg.Sinks,
	})
	e := &election{recorder: newRecorder(w, "zk-election", cfg), plan: plan}
	e.srv = fakezk.NewServer(w, "zk", fakezk.ServerConfig{TickTime: electionTick, BugKeepEphemerals: plan.serverBugKeepEphemerals, TxnLog: cfg.ZKLog})
	for i := 0; i < electionMembers; i++ {
		m := &member{e: e, name: fmt.Sprintf("m%d", i)}
		bugs := memberBugs{keepBeliefOnExpiry: plan.keepBeliefOnExpiry, noRegisterWait: plan.noRegisterWait}
		m.shell = node.NewShell(w, node.Config[*electionMember]{
			Name:      m.name,
			New:       func() *electionMember { return newElectionMember(m.name, bugs) },
			ZooKeeper: []sim.ProcID{e.srv.ID()},
			Client:    fakezk.ClientConfig{SessionTimeout: electionSessionTimeout},
			OnReport:  m.report,
			OnInput:   e.countWatchEvent,
		})
		m.id = m.shell.ID()
		e.members = append(e.members, m)
		w.At(m.id, sim.Time(sim.Duration(i)*10*sim.Millisecond), "start", m.shell.Start)
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
	st := w.Stats()
	return e.finish(status, map[string]float64{
		"zk_transactions":       float64(e.srv.Zxid()),
		"session_events":        float64(e.srv.Stats().SessionEvents()),
		"watch_events":          float64(e.watchEvents),
		"elections_won":         float64(e.elections),
		"dual_leader_belief_ms": float64(e.dualLeaderTime / sim.Millisecond),
		"messages_lost":         float64(st.MessagesLost),
		"crashes":               float64(st.Crashes),
		"pauses":                float64(st.Pauses),
		"partitions":            float64(st.Partitions),
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
		if m.view().Leader && e.w.IsUp(m.id) {
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
			if s := m.view().Session; s != 0 && e.srv.Expire(s) {
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
	var crashes, pauses spans
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
		if crashes.covers(proc, at) {
			continue
		}
		e.Proc = proc
		switch kind {
		case "pause-member", "pause-server":
			if pauses.covers(proc, at) {
				continue
			}
			e.Kind = sim.FaultPause
			pauses.add(proc, at, hold)
		case "crash-member", "crash-server":
			e.Kind = sim.FaultCrash
			crashes.add(proc, at, hold)
			pauses.endAt(proc, at) // the crash ends the pause
		}
		s = append(s, e)
	}
	return s, expiries, enabled
}

// role says, for the narration, whether m believes it leads.
func (e *election) role(m *member) string {
	if m.view().Leader {
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
	early, quiet := healNote(why)
	if quiet {
		return
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
		if ok && m.view().Session == leaderStat.EphemeralOwner {
			e.narrate("end: %s holds /leader", m.name)
		}
	}
	for _, m := range e.members {
		if state, _ := m.shell.Session(); state != fakezk.StateHasSession {
			e.liveness("sessions-recover", "%s has no session after healing", m.name)
			continue
		}
		v := m.view()
		if st, ok := tree.Exists("/members/" + m.name); !ok || st.EphemeralOwner != v.Session {
			e.liveness("members-registered", "%s is not registered under its session 0x%x", m.name, v.Session)
		}
		holds := ok && leaderStat.EphemeralOwner == v.Session
		if holds != v.Leader {
			e.liveness("one-leader-after-heal", "%s believes leader=%v but /leader is owned by 0x%x (its session 0x%x)", m.name, v.Leader, leaderStat.EphemeralOwner, v.Session)
		}
	}
}
