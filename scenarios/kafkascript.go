package scenarios

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/nodes/kafka/broker"
	"github.com/kzsim/kzsim/nodes/kafka/config"
	"github.com/kzsim/kzsim/nodes/kafka/controller"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/sim"
)

// kscript drives a Kafka 2.6 cluster step by step, by command rather than
// by a drawn schedule: the datadriven scripts of testdata/kafka and the
// property tests use it. Every command either changes the cluster (a fault,
// an admin operation, time passing) or prints a short deterministic view
// of it (ZooKeeper, a broker's metadata, the narration, the violations).
type kscript struct {
	c *kcluster
	// crashes holds the crash fault keeping each broker down, by broker id.
	crashes map[int32]sim.FaultID
	// timelineSeen is how much of the narration the last timeline printed.
	timelineSeen int
	// violationsSeen is how many violations the last check printed.
	violationsSeen int
	// rejected counts the requests brokers refused as stale, by what was
	// refused (rejectKey), since the last rejections command.
	rejected map[rejectKey]int
	// failovers are the controller failovers measured so far.
	failovers []kfailover
	electedAt sim.Time  // when the newest controller was elected
	cl        *kclients // the script's producers and consumers (kafkascript_clients.go)
}

// kfailover is one controller failover: the old controller was hit at
// lost, the new one elected at elected and done (LeaderAndIsr sent for
// every partition) at done.
type kfailover struct {
	epoch               int32
	broker              int32
	partitions          int
	lost, elected, done sim.Time
}

type rejectKey struct {
	api        string
	controller int32
	epoch      int32
	err        string
}

// kscriptMaxTime is the end of a script's world: far beyond any script.
const kscriptMaxTime = 24 * 3600 * sim.Second

// kscriptMaxEvents bounds a script's events (a livelock ends in a
// BudgetExhausted violation instead of hanging the test).
const kscriptMaxEvents = 50_000_000

// kscriptConfig is what a script's cluster command sets.
type kscriptConfig struct {
	seed    uint64
	brokers int
	era     config.Era // Era26 unless set
	unclean bool       // unclean.leader.election.enable
	minISR  int        // min.insync.replicas (0: the era's default)
	sinks   []sim.Sink // receive the trace (debugging a script)
	bugs    kafkaBugs  // planted bugs, to show a check firing
}

// newKScript builds a cluster of cfg.brokers brokers with no topics; the
// brokers start (at 10 ms × id) once time runs.
func newKScript(cfg kscriptConfig) (*kscript, error) {
	if cfg.brokers < 1 || cfg.brokers > 100 {
		return nil, fmt.Errorf("brokers=%d: want 1 to 100", cfg.brokers)
	}
	plan := kafkaPlan{name: "kafka-script", brokers: cfg.brokers, bugs: cfg.bugs, tweak: func(k *config.Config) {
		*k = config.ForEra(cfg.era)
		if cfg.unclean {
			k.UncleanLeaderElectionEnable = true
		}
		if cfg.minISR > 0 {
			k.MinInsyncReplicas = cfg.minISR
		}
	}}
	if k := config.ForEra(cfg.era); k.Validate() != nil {
		err := k.Validate()
		return nil, fmt.Errorf("era %v: %w", cfg.era, err)
	}
	s := &kscript{crashes: map[int32]sim.FaultID{}, rejected: map[rejectKey]int{}}
	s.c = newKafkaCluster(Config{Seed: cfg.seed, MaxEvents: kscriptMaxEvents, Sinks: cfg.sinks}, plan, kscriptMaxTime)
	s.c.faults = sim.NewInjector(s.c.w)
	s.c.faults.OnHeal = s.c.narrateHeal
	s.c.onReport = s.report
	return s, nil
}

func (s *kscript) report(b *kbroker, _ uint32, r kproc.Effect) {
	c := s.c
	switch r := r.(type) {
	case broker.RequestRejected:
		s.rejected[rejectKey{api: r.API, controller: r.ControllerID, epoch: r.ControllerEpoch, err: r.Error.String()}]++
	case controller.BecameController:
		s.electedAt = c.w.Now()
	case controller.FailoverDone:
		// The cluster's own metric reads the same clock (kcluster.report).
		if c.controllerLostAt >= 0 && r.Epoch > c.lostEpoch {
			s.failovers = append(s.failovers, kfailover{epoch: r.Epoch, broker: b.id, partitions: r.Partitions,
				lost: c.controllerLostAt, elected: s.electedAt, done: c.w.Now()})
		}
	}
}

// broker returns broker id or an error naming it.
func (s *kscript) broker(id int32) (*kbroker, error) {
	b := s.c.broker(id)
	if b == nil {
		return nil, fmt.Errorf("no broker %d (brokers 1 to %d)", id, len(s.c.brokers))
	}
	return b, nil
}

// controllerBroker is the broker /controller names.
func (s *kscript) controllerBroker() (*kbroker, error) {
	id, ok := s.c.activeController()
	if !ok {
		return nil, fmt.Errorf("no controller: /controller does not exist")
	}
	return s.broker(id)
}

// runFor runs the world for d and reports a run cut short.
func (s *kscript) runFor(d sim.Duration) error {
	switch st := s.c.w.RunFor(d); st {
	case sim.StatusDeadline, sim.StatusQuiescent:
		return nil
	default:
		s.c.check.Finish(st)
		return fmt.Errorf("run-for %v ended early: %v at %v", d, st, s.c.w.Now())
	}
}

func (s *kscript) role(b *kbroker) string {
	if id, ok := s.c.activeController(); ok && id == b.id {
		return " (the controller)"
	}
	return ""
}

// up fails unless b's process is up and not paused.
func (s *kscript) up(b *kbroker) error {
	w := s.c.w
	if !w.IsUp(b.pid) {
		return fmt.Errorf("%s is down", b.name)
	}
	if w.IsPaused(b.pid) {
		return fmt.Errorf("%s is paused", b.name)
	}
	return nil
}

// apply applies fault f to b for hold (0: until healed) and starts b's
// unavailability clocks.
func (s *kscript) apply(b *kbroker, f sim.Fault, hold sim.Duration) error {
	switch { // as kcluster.fire classifies its faults
	case f.Kind == sim.FaultCrash:
		s.c.brokerHit(b, hitCrash)
	case f.Kind == sim.FaultPartition && len(f.B) == 1 && f.B[0] == s.c.w.Name(s.c.srv.ID()):
		s.c.brokerHit(b, hitZooKeeper)
	default:
		s.c.brokerHit(b, hitPause)
	}
	if err := s.c.faults.Apply(f, hold); err != nil {
		return fmt.Errorf("%s: %w", b.name, err)
	}
	return nil
}

func (s *kscript) nextFault() sim.FaultID {
	s.c.faultID++
	return s.c.faultID
}

func forText(hold sim.Duration) string {
	if hold == 0 {
		return ""
	}
	return " for " + hold.String()
}

// crash crashes b, for hold or (0) until restart.
func (s *kscript) crash(b *kbroker, hold sim.Duration) error {
	if err := s.up(b); err != nil && !s.c.w.IsPaused(b.pid) {
		return err
	}
	s.c.narrate("crash %s%s%s", b.name, s.role(b), forText(hold))
	id := s.nextFault()
	if err := s.apply(b, sim.Fault{ID: id, Kind: sim.FaultCrash, Proc: b.name}, hold); err != nil {
		return err
	}
	if hold == 0 {
		s.crashes[b.id] = id
	}
	return nil
}

// restart starts b again: it ends the crash fault holding it, or restarts
// a broker that shut down.
func (s *kscript) restart(b *kbroker) error {
	w := s.c.w
	if w.IsUp(b.pid) {
		return fmt.Errorf("%s is up", b.name)
	}
	if id, ok := s.crashes[b.id]; ok {
		delete(s.crashes, b.id)
		if s.c.faults.Heal(id) { // narrateHeal says "restart"
			return nil
		}
	}
	s.c.narrate("restart %s", b.name)
	w.Restart(b.pid)
	return nil
}

// pause pauses b's process (a GC pause) for hold.
func (s *kscript) pause(b *kbroker, hold sim.Duration) error {
	if err := s.up(b); err != nil {
		return err
	}
	s.c.narrate("GC pause of %s%s%s", b.name, s.role(b), forText(hold))
	return s.apply(b, sim.Fault{ID: s.nextFault(), Kind: sim.FaultPause, Proc: b.name}, hold)
}

// partition cuts b from ZooKeeper ("zk"), from everyone ("all"), or from
// the listed brokers, for hold.
func (s *kscript) partition(b *kbroker, from string, hold sim.Duration) error {
	if err := s.up(b); err != nil {
		return err
	}
	f := sim.Fault{ID: s.nextFault(), Kind: sim.FaultPartition, A: []string{b.name}}
	switch from {
	case "zk":
		f.B = []string{s.c.w.Name(s.c.srv.ID())}
		s.c.narrate("partition %s%s from ZooKeeper%s", b.name, s.role(b), forText(hold))
	case "all":
		f = sim.Fault{ID: f.ID, Kind: sim.FaultIsolate, Proc: b.name}
		s.c.narrate("isolate %s%s%s", b.name, s.role(b), forText(hold))
	default:
		ids, err := parseIDs(from)
		if err != nil {
			return fmt.Errorf("from=%s: want zk, all or broker ids: %w", from, err)
		}
		for _, id := range ids {
			o, err := s.broker(id)
			if err != nil {
				return err
			}
			f.B = append(f.B, o.name)
		}
		s.c.narrate("partition %s%s from brokers %v%s", b.name, s.role(b), ids, forText(hold))
	}
	return s.apply(b, f, hold)
}

// expire has ZooKeeper expire b's session while its process lives on.
func (s *kscript) expire(b *kbroker) error {
	_, session := b.shell.Session()
	if session == 0 || !s.c.srv.SessionAlive(session) || !s.c.w.IsUp(s.c.srv.ID()) {
		return fmt.Errorf("%s has no live session to expire", b.name)
	}
	role := s.role(b)
	s.c.brokerHit(b, hitZooKeeper) // before the expiry deletes /controller
	s.c.srv.Expire(session)
	s.c.narrate("ZooKeeper expires the session 0x%x of %s%s; the process lives on", session, b.name, role)
	return nil
}

// controlledShutdown sends b SIGTERM: it asks the controller to move its
// leaderships, then exits; restart starts it again.
func (s *kscript) controlledShutdown(b *kbroker) error {
	if err := s.up(b); err != nil {
		return err
	}
	s.c.narrate("controlled shutdown of %s%s", b.name, s.role(b))
	s.c.w.At(b.pid, s.c.w.Now(), "shutdown", b.shell.Shutdown)
	return nil
}

// adminWrite creates one admin znode through the admin's ZooKeeper client
// and narrates said once it is written.
func (s *kscript) adminWrite(path string, data []byte, said string) {
	c := s.c
	a := c.admin
	c.w.At(a.pid, c.w.Now(), "admin", func() {
		a.zk.Handle([]fakezk.Request{&fakezk.CreateRequest{Path: path, Data: data, Acl: fakezk.WorldACL(fakezk.PermAll)}},
			func(rs []fakezk.Response) {
				if err := rs[0].Err; err != nil {
					c.narrate("admin: writing %s: %v", path, err)
					return
				}
				c.narrate("%s", said)
			})
	})
}

// createTopic has the admin create a topic (assigned over the brokers
// registered when it runs).
func (s *kscript) createTopic(t topicSpec) {
	a := s.c.admin
	s.c.w.At(a.pid, s.c.w.Now(), "create-topic", func() { a.createTopic(t) })
}

// deleteTopic marks a topic for deletion.
func (s *kscript) deleteTopic(name string) {
	s.c.admin.topics = slices.DeleteFunc(s.c.admin.topics, func(x topicSpec) bool { return x.name == name })
	s.adminWrite(kafkazk.DeleteTopicPath(name), kafkazk.EmptyData, "admin marks topic "+name+" for deletion")
}

// preferredElection asks for a preferred replica election of every
// partition of the topics the admin created (or of topic alone).
func (s *kscript) preferredElection(topic string) error {
	var list kafkazk.PartitionList
	for _, t := range s.c.admin.topics {
		if topic != "" && t.name != topic {
			continue
		}
		for p := range t.partitions {
			list.Partitions = append(list.Partitions, kafkazk.TopicPartition{Topic: t.name, Partition: int32(p)})
		}
	}
	if len(list.Partitions) == 0 {
		return fmt.Errorf("no partitions to elect (topic %q)", topic)
	}
	s.adminWrite(kafkazk.PreferredReplicaPath, list.Encode(), fmt.Sprintf("admin asks for a preferred replica election of %d partitions", len(list.Partitions)))
	return nil
}

// reassign moves one partition to replicas.
func (s *kscript) reassign(topic string, partition int32, replicas []int32) error {
	for _, id := range replicas {
		if _, err := s.broker(id); err != nil {
			return err
		}
	}
	r := kafkazk.ReassignPartitions{Partitions: []kafkazk.PartitionReplicas{{Topic: topic, Partition: partition, Replicas: replicas}}}
	s.adminWrite(kafkazk.ReassignPartitionsPath, r.Encode(), fmt.Sprintf("admin reassigns %s-%d to %v", topic, partition, replicas))
	return nil
}

// kscriptHealPolls bounds how long heal-all keeps restarting brokers whose
// controlled shutdown was still under way: once a second, for longer than
// controlled.shutdown.max.retries × retry backoff (3 × 5 s).
const kscriptHealPolls = 60

// healAll ends every fault and restarts every broker that is down, and,
// for a minute, each broker that exits after it (a controlled shutdown
// that was still under way).
func (s *kscript) healAll() {
	c := s.c
	c.faults.HealAll()
	clear(s.crashes)
	restart := func() {
		for _, b := range c.brokers {
			if !c.w.IsUp(b.pid) {
				c.w.Restart(b.pid)
			}
		}
	}
	restart()
	for i := 1; i <= kscriptHealPolls; i++ {
		c.w.After(sim.Kernel, sim.Duration(i)*sim.Second, "heal-restart", restart)
	}
	c.narrate("heal everything")
}

// ---- views ----

// controllerText: who /controller names, the epoch, and which brokers'
// controller modules believe they are active.
func (s *kscript) controllerText() string {
	c := s.c
	var sb strings.Builder
	v := c.srv.View()
	if data, st, ok := v.Get(kafkazk.ControllerPath); ok {
		if cd, err := kafkazk.DecodeController(data); err == nil {
			fmt.Fprintf(&sb, "controller: broker-%d (session 0x%x)", cd.BrokerID, st.EphemeralOwner)
		} else {
			fmt.Fprintf(&sb, "controller: unreadable: %v", err)
		}
	} else {
		sb.WriteString("controller: none")
	}
	if _, st, ok := v.Get(kafkazk.ControllerEpochPath); ok {
		fmt.Fprintf(&sb, "\nepoch: %d (zkVersion %d)", c.controllerEpoch(), st.Version)
	}
	fmt.Fprintf(&sb, "\nactive modules: %v", s.activeModules())
	return sb.String()
}

// activeModules lists the brokers whose controller module believes it is
// the active controller (a paused zombie included).
func (s *kscript) activeModules() []int32 {
	var out []int32
	for _, b := range s.c.brokers {
		if _, ok := b.machine(); ok && b.ctl != nil && b.ctl.IsActive() {
			out = append(out, b.id)
		}
	}
	return out
}

// partitionStateText lists the state znodes of topic (or one partition).
func (s *kscript) partitionStateText(topic string, partition int32) (string, error) {
	v := s.c.srv.View()
	data, _, ok := v.Get(kafkazk.TopicPath(topic))
	if !ok {
		return "", fmt.Errorf("no topic %s in ZooKeeper", topic)
	}
	ta, err := kafkazk.DecodeTopicAssignment(data)
	if err != nil {
		return "", fmt.Errorf("topic %s: %w", topic, err)
	}
	var lines []string
	for _, p := range slices.Sorted(maps.Keys(ta.Partitions)) {
		if partition >= 0 && p != partition {
			continue
		}
		line := fmt.Sprintf("%s-%d replicas=%s", topic, p, idList(ta.Partitions[p].Replicas))
		if sd, st, ok := v.Get(kafkazk.PartitionStatePath(topic, p)); ok {
			line += " " + stateText(sd, st)
		} else {
			line += " no state"
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return "", fmt.Errorf("topic %s has no partition %d", topic, partition)
	}
	return strings.Join(lines, "\n"), nil
}

func stateText(data []byte, st fakezk.Stat) string {
	ps, err := kafkazk.DecodePartitionState(data)
	if err != nil {
		return "bad state: " + err.Error()
	}
	return fmt.Sprintf("leader=%d epoch=%d isr=%s ctrl=%d zkv=%d", ps.Leader, ps.LeaderEpoch, idList(ps.ISR), ps.ControllerEpoch, st.Version)
}

func idList(ids []int32) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(int(id))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// zkTreeText lists the tree under root, one znode a line, indented by
// depth, with Kafka's payloads summarised.
func (s *kscript) zkTreeText(root string) (string, error) {
	v := s.c.srv.View()
	if _, ok := v.Exists(root); !ok {
		return "", fmt.Errorf("no znode %s", root)
	}
	var lines []string
	var walk func(path string, depth int)
	walk = func(path string, depth int) {
		data, st, _ := v.Get(path)
		name := path
		if depth > 0 {
			name = path[strings.LastIndex(path, "/")+1:]
		}
		line := strings.Repeat("  ", depth) + name
		if sum := znodeSummary(path, data, st); sum != "" {
			line += " " + sum
		}
		lines = append(lines, line)
		kids, _, _ := v.Children(path)
		slices.Sort(kids)
		for _, k := range kids {
			child := path + "/" + k
			if path == "/" {
				child = "/" + k
			}
			walk(child, depth+1)
		}
	}
	walk(root, 0)
	return strings.Join(lines, "\n"), nil
}

// znodeSummary is a short deterministic reading of a znode's data.
func znodeSummary(path string, data []byte, st fakezk.Stat) string {
	var sum string
	switch {
	case path == kafkazk.ControllerPath:
		if cd, err := kafkazk.DecodeController(data); err == nil {
			sum = fmt.Sprintf("= broker %d", cd.BrokerID)
		}
	case strings.HasPrefix(path, kafkazk.BrokerIDsPath+"/"):
		sum = fmt.Sprintf("= broker epoch 0x%x", st.Czxid)
	case strings.HasSuffix(path, "/state") && strings.HasPrefix(path, kafkazk.TopicsPath+"/"):
		sum = stateText(data, st)
	case strings.HasPrefix(path, kafkazk.TopicsPath+"/") && strings.Count(path, "/") == 3:
		if ta, err := kafkazk.DecodeTopicAssignment(data); err == nil {
			var parts []string
			for _, p := range slices.Sorted(maps.Keys(ta.Partitions)) {
				ra := ta.Partitions[p]
				part := fmt.Sprintf("%d:%s", p, idList(ra.Replicas))
				if len(ra.Adding) > 0 || len(ra.Removing) > 0 {
					part += fmt.Sprintf("(adding %s removing %s)", idList(ra.Adding), idList(ra.Removing))
				}
				parts = append(parts, part)
			}
			sum = "= " + strings.Join(parts, " ")
		}
	case len(data) > 0 && len(data) <= 40:
		sum = "= " + string(data)
	case len(data) > 40:
		sum = fmt.Sprintf("(%d bytes)", len(data))
	}
	if st.EphemeralOwner != 0 {
		sum = strings.TrimSpace(sum + fmt.Sprintf(" [ephemeral 0x%x]", st.EphemeralOwner))
	}
	return sum
}

// metadataText is what broker b's metadata cache says, partition by
// partition, in order.
func (s *kscript) metadataText(b *kbroker) string {
	m, ok := b.machine()
	if !ok {
		return b.name + " is down"
	}
	type row struct {
		tp   string
		line string
	}
	var rows []row
	m.Metadata(func(tp proto.TopicPartition, e broker.MetadataEntry) {
		rows = append(rows, row{tp.String(), fmt.Sprintf("%s leader=%d epoch=%d isr=%s", tp, e.Leader, e.LeaderEpoch, idList(e.ISR))})
	})
	if len(rows) == 0 {
		return b.name + ": no partitions"
	}
	slices.SortFunc(rows, func(x, y row) int { return cmp.Compare(x.tp, y.tp) })
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.line
	}
	return strings.Join(out, "\n")
}

// brokersText: each broker's process and what it knows.
func (s *kscript) brokersText() string {
	var lines []string
	w := s.c.w
	for _, b := range s.c.brokers {
		m, ok := b.machine()
		switch {
		case !w.IsUp(b.pid):
			lines = append(lines, b.name+": down")
			continue
		case !ok:
			lines = append(lines, b.name+": starting")
			continue
		}
		v := m.View()
		paused := ""
		if w.IsPaused(b.pid) {
			paused = " paused"
		}
		lines = append(lines, fmt.Sprintf("%s: %s%s broker-epoch=0x%x controller-epoch=%d replicas=%d leading=%d",
			b.name, v.Phase, paused, v.BrokerEpoch, v.ControllerEpoch, v.Partitions, v.Leading))
	}
	return strings.Join(lines, "\n")
}

// timelineText is the narration since the last call.
func (s *kscript) timelineText() string {
	tl := s.c.result.Timeline[s.timelineSeen:]
	s.timelineSeen = len(s.c.result.Timeline)
	if len(tl) == 0 {
		return "(nothing)"
	}
	return strings.Join(tl, "\n")
}

// failoversText lists the controller failovers measured: from the hit on
// the old controller to the new one's election, and from the election to
// LeaderAndIsr sent for every partition (loading ZooKeeper and electing).
func (s *kscript) failoversText() string {
	if len(s.failovers) == 0 {
		return "none"
	}
	var lines []string
	for _, f := range s.failovers {
		lines = append(lines, fmt.Sprintf("epoch %d: broker-%d elected %v after the hit; LeaderAndIsr for %d partitions %v later; total %v",
			f.epoch, f.broker, f.elected.Sub(f.lost), f.partitions, f.done.Sub(f.elected), f.done.Sub(f.lost)))
	}
	return strings.Join(lines, "\n")
}

// rejectionsText sums the requests refused as stale since the last call.
func (s *kscript) rejectionsText() string {
	if len(s.rejected) == 0 {
		return "none"
	}
	keys := slices.SortedFunc(maps.Keys(s.rejected), func(x, y rejectKey) int {
		return cmp.Or(cmp.Compare(x.controller, y.controller), cmp.Compare(x.epoch, y.epoch), cmp.Compare(x.api, y.api), cmp.Compare(x.err, y.err))
	})
	var lines []string
	for _, k := range keys {
		lines = append(lines, fmt.Sprintf("%s from broker-%d at controller epoch %d: %s ×%d", k.api, k.controller, k.epoch, k.err, s.rejected[k]))
	}
	clear(s.rejected)
	return strings.Join(lines, "\n")
}

// checkText runs the end-of-run checks if settled, and prints the
// violations recorded since the last call, or "ok".
func (s *kscript) checkText(settled bool) string {
	if settled {
		s.c.watch.CheckSettled()
		s.c.checkReplicasInSync()
	}
	vs := s.c.check.Violations()
	if len(vs) <= s.violationsSeen {
		return "ok"
	}
	var lines []string
	for _, v := range vs[s.violationsSeen:] {
		lines = append(lines, v.String())
	}
	s.violationsSeen = len(vs)
	return strings.Join(lines, "\n")
}

// violations returns every violation so far.
func (s *kscript) violations() []invariants.Violation { return s.c.check.Violations() }

// parseIDs reads "1,2,3".
func parseIDs(s string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not a broker id", f)
		}
		out = append(out, int32(n))
	}
	return out, nil
}

// parseClusterArgs reads the arguments of a script's cluster command:
// brokers=5 seed=1 [era=2.6] [unclean=true] [min-isr=2] [bug=ignore-controller-epoch].
func parseClusterArgs(a map[string]string) (kscriptConfig, error) {
	cfg := kscriptConfig{brokers: 5, seed: 1, era: config.Era26}
	for k := range a {
		switch k {
		case "brokers", "seed", "era", "unclean", "min-isr", "bug":
		default:
			return cfg, fmt.Errorf("cluster: unknown argument %s", k)
		}
	}
	var err error
	if v, ok := a["brokers"]; ok {
		if cfg.brokers, err = strconv.Atoi(v); err != nil {
			return cfg, fmt.Errorf("brokers=%s: %w", v, err)
		}
	}
	if v, ok := a["seed"]; ok {
		if cfg.seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			return cfg, fmt.Errorf("seed=%s: %w", v, err)
		}
	}
	if v, ok := a["era"]; ok {
		if cfg.era, err = config.ParseEra(v); err != nil {
			return cfg, err
		}
	}
	if v, ok := a["unclean"]; ok {
		if cfg.unclean, err = strconv.ParseBool(v); err != nil {
			return cfg, fmt.Errorf("unclean=%s: %w", v, err)
		}
	}
	if v, ok := a["min-isr"]; ok {
		if cfg.minISR, err = strconv.Atoi(v); err != nil || cfg.minISR < 1 || cfg.minISR > cfg.brokers {
			return cfg, fmt.Errorf("min-isr=%s: want 1 to the broker count %d", v, cfg.brokers)
		}
	}
	switch v := a["bug"]; v {
	case "":
	case "ignore-controller-epoch":
		cfg.bugs.brokerIgnoresControllerEpoch = true
	default:
		return cfg, fmt.Errorf("bug=%s: the planted bugs are ignore-controller-epoch", v)
	}
	return cfg, nil
}

// exec runs command cmd with key=value arguments a and bare words.
func (s *kscript) exec(cmd string, a map[string]string, words []string) (string, error) {
	str := func(k string) (string, error) {
		v, ok := a[k]
		if !ok || v == "" {
			return "", fmt.Errorf("%s needs %s=", cmd, k)
		}
		return v, nil
	}
	num := func(k string) (int, error) {
		v, err := str(k)
		if err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("%s=%s: not a number", k, v)
		}
		return n, nil
	}
	dur := func(k string, need bool) (sim.Duration, error) {
		v, ok := a[k]
		if !ok {
			if need {
				return 0, fmt.Errorf("%s needs %s=", cmd, k)
			}
			return 0, nil
		}
		return sim.ParseDuration(v)
	}
	target := func() (*kbroker, error) {
		if strings.HasSuffix(cmd, "-controller") {
			return s.controllerBroker()
		}
		id, err := num("broker")
		if err != nil {
			return nil, err
		}
		return s.broker(int32(id))
	}

	switch cmd {
	case "run-for":
		if len(words) != 1 || len(a) != 1 {
			return "", fmt.Errorf("run-for needs one duration (run-for 30s)")
		}
		d, err := sim.ParseDuration(words[0])
		if err != nil {
			return "", err
		}
		return "", s.runFor(d)
	case "create-topic":
		name, err := str("name")
		if err != nil {
			return "", err
		}
		p, err := num("partitions")
		if err != nil {
			return "", err
		}
		rf, err := num("rf")
		if err != nil {
			return "", err
		}
		s.createTopic(topicSpec{name: name, partitions: p, rf: rf})
		return "", nil
	case "delete-topic":
		name, err := str("name")
		if err != nil {
			return "", err
		}
		s.deleteTopic(name)
		return "", nil
	case "preferred-election":
		return "", s.preferredElection(a["topic"])
	case "reassign":
		topic, err := str("topic")
		if err != nil {
			return "", err
		}
		p, err := num("partition")
		if err != nil {
			return "", err
		}
		rs, err := str("replicas")
		if err != nil {
			return "", err
		}
		ids, err := parseIDs(rs)
		if err != nil {
			return "", err
		}
		return "", s.reassign(topic, int32(p), ids)
	case "crash", "crash-controller", "restart", "pause", "pause-controller", "partition", "partition-controller",
		"expire-session", "expire-controller", "controlled-shutdown":
		b, err := target()
		if err != nil {
			return "", err
		}
		hold, err := dur("for", cmd == "pause" || cmd == "pause-controller" || strings.HasPrefix(cmd, "partition"))
		if err != nil {
			return "", err
		}
		switch cmd {
		case "crash", "crash-controller":
			return "", s.crash(b, hold)
		case "restart":
			return "", s.restart(b)
		case "pause", "pause-controller":
			return "", s.pause(b, hold)
		case "partition", "partition-controller":
			from, err := str("from")
			if err != nil {
				return "", err
			}
			return "", s.partition(b, from, hold)
		case "expire-session", "expire-controller":
			return "", s.expire(b)
		default:
			return "", s.controlledShutdown(b)
		}
	case "heal-all":
		s.healAll()
		return "", nil
	case "controller":
		return s.controllerText(), nil
	case "partition-state":
		topic, err := str("topic")
		if err != nil {
			return "", err
		}
		p := -1
		if _, ok := a["partition"]; ok {
			if p, err = num("partition"); err != nil {
				return "", err
			}
		}
		return s.partitionStateText(topic, int32(p))
	case "zk-tree":
		root := "/"
		if v, ok := a["path"]; ok {
			root = v
		}
		return s.zkTreeText(root)
	case "metadata":
		b, err := target()
		if err != nil {
			return "", err
		}
		return s.metadataText(b), nil
	case "brokers":
		return s.brokersText(), nil
	case "timeline":
		return s.timelineText(), nil
	case "failovers":
		return s.failoversText(), nil
	case "rejections":
		return s.rejectionsText(), nil
	case "check":
		_, settled := a["settled"]
		return s.checkText(settled), nil
	}
	if out, ok, err := s.clientCommand(cmd, a); ok {
		return out, err
	}
	return "", fmt.Errorf("unknown command %q", cmd)
}
