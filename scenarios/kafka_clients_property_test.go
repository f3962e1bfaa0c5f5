package scenarios

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/kzsim/kzsim/sim"
)

// kafkaClientsDefaultChecks is how many scripts TestKafkaClientsSettle
// draws when -rapid.checks (or RAPID_CHECKS) is not given: each runs a
// few minutes of virtual time with clients, about 0.3 s.
const kafkaClientsDefaultChecks = 10

// clientFaultKinds are the client faults the property draws.
var clientFaultKinds = []string{"consumer", "stop-client", "crash-client", "restart-client", "pause-client",
	"partition-client", "expire-client", "crash", "crash-controller", "restart", "pause", "partition", "expire-session",
	"controlled-shutdown"}

// drawClientScript draws a durable cluster (acks=all, min ISR 2,
// replication factor 3, clean elections), its producers and consumers,
// and a sequence of client and broker faults.
func drawClientScript(t *rapid.T) []kscriptStep {
	seed := rapid.Uint64().Draw(t, "seed")
	brokers := rapid.IntRange(3, 5).Draw(t, "brokers")
	step := func(cmd string, kv ...string) kscriptStep {
		a := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			a[kv[i]] = kv[i+1]
		}
		return kscriptStep{cmd: cmd, args: a}
	}
	runFor := func(d sim.Duration) kscriptStep { return step("run-for", d.String(), "") }
	script := []kscriptStep{
		step("cluster", "brokers", fmt.Sprint(brokers), "seed", fmt.Sprint(seed), "min-isr", "2"),
		runFor(2 * sim.Second),
		step("create-topic", "name", "t", "partitions", fmt.Sprint(rapid.IntRange(1, 8).Draw(t, "partitions_t")), "rf", "3"),
		step("create-topic", "name", "u", "partitions", fmt.Sprint(rapid.IntRange(1, 4).Draw(t, "partitions_u")), "rf", "3"),
		runFor(3 * sim.Second),
	}
	var producers []string
	for i := range rapid.IntRange(1, 3).Draw(t, "producers") {
		name := fmt.Sprintf("p%d", i+1)
		producers = append(producers, name)
		script = append(script, step("producer", "name", name,
			"discovery", rapid.SampledFrom([]string{"zk", "metadata", "static"}).Draw(t, "discovery"),
			"topic", rapid.SampledFrom([]string{"t", "u"}).Draw(t, "topic"),
			"rate", fmt.Sprint(rapid.IntRange(1, 40).Draw(t, "rate"))))
	}
	var consumers []string
	// One assignor per group: each old consumer computes the whole
	// group's assignment with its own strategy, so a group mixing them
	// assigns some partitions twice and others never (a misconfiguration).
	assignor := map[string]string{}
	for _, g := range []string{"g", "h"} {
		assignor[g] = rapid.SampledFrom([]string{"range", "roundrobin"}).Draw(t, "assignor_"+g)
	}
	addConsumer := func() kscriptStep {
		name := fmt.Sprintf("c%d", len(consumers)+1)
		consumers = append(consumers, name)
		g := rapid.SampledFrom([]string{"g", "h"}).Draw(t, "group")
		return step("consumer", "name", name, "group", g,
			"topics", rapid.SampledFrom([]string{"t", "u", "t,u"}).Draw(t, "topics"),
			"assignor", assignor[g],
			"commit", (sim.Duration(rapid.IntRange(1, 10).Draw(t, "commit_s")) * sim.Second).String())
	}
	for range rapid.IntRange(1, 3).Draw(t, "consumers") {
		script = append(script, addConsumer())
	}
	script = append(script, runFor(5*sim.Second))
	for range rapid.IntRange(1, 8).Draw(t, "faults") {
		kind := rapid.SampledFrom(clientFaultKinds).Draw(t, "kind")
		client := func() string { return rapid.SampledFrom(consumers).Draw(t, "client") }
		anyClient := func() string {
			return rapid.SampledFrom(append(append([]string(nil), consumers...), producers...)).Draw(t, "any_client")
		}
		hold := func(maxMs int) string {
			return (sim.Duration(rapid.IntRange(500, maxMs).Draw(t, "hold_ms")) * sim.Millisecond).String()
		}
		switch kind {
		case "consumer":
			if len(consumers) < 6 {
				script = append(script, addConsumer())
			}
		case "stop-client", "expire-client":
			script = append(script, step(kind, "name", client()))
		case "restart-client":
			script = append(script, step(kind, "name", anyClient()))
		case "crash-client": // a producer too: it restarts with a new index
			st := step(kind, "name", anyClient())
			if rapid.Bool().Draw(t, "held") {
				st.args["for"] = hold(15_000)
			}
			script = append(script, st)
		case "pause-client": // up to past the consumers' 6 s session
			script = append(script, step(kind, "name", client(), "for", hold(10_000)))
		case "partition-client":
			script = append(script, step(kind, "name", client(), "from", rapid.SampledFrom([]string{"zk", "all"}).Draw(t, "from"), "for", hold(10_000)))
		case "crash":
			script = append(script, step(kind, "broker", fmt.Sprint(rapid.IntRange(1, brokers).Draw(t, "broker")), "for", hold(30_000)))
		case "crash-controller":
			script = append(script, step(kind, "for", hold(30_000)))
		case "restart", "expire-session", "controlled-shutdown":
			script = append(script, step(kind, "broker", fmt.Sprint(rapid.IntRange(1, brokers).Draw(t, "broker"))))
		case "pause": // up to past the brokers' 18 s session
			script = append(script, step(kind, "broker", fmt.Sprint(rapid.IntRange(1, brokers).Draw(t, "broker")), "for", hold(25_000)))
		case "partition":
			script = append(script, step(kind, "broker", fmt.Sprint(rapid.IntRange(1, brokers).Draw(t, "broker")),
				"from", rapid.SampledFrom([]string{"zk", "all"}).Draw(t, "from"), "for", hold(25_000)))
		}
		script = append(script, runFor(sim.Duration(rapid.IntRange(0, 15_000).Draw(t, "gap_ms"))*sim.Millisecond))
	}
	// Heal: every fault ends, every client runs again; then the producers
	// stop and the consumers catch up.
	script = append(script, step("heal-all"))
	for _, p := range producers {
		script = append(script, step("restart-client", "name", p))
	}
	for _, c := range consumers {
		script = append(script, step("restart-client", "name", c))
	}
	script = append(script, runFor(30*sim.Second))
	for _, p := range producers {
		script = append(script, step("stop-client", "name", p))
	}
	return append(script, runFor(kafkaSettle))
}

// TestKafkaClientsSettle: whatever producers (zk, metadata, static;
// acks=all) and consumers (two groups, both assignors) a durable cluster
// has, whichever consumers join, leave, crash, pause, lose ZooKeeper or
// their session and whichever brokers crash, pause, lose ZooKeeper or
// their session, or shut down when, once everything is
// healed, every consumer restarted, the producers stopped and the cluster
// has had kafkaSettle: no invariant was violated, one broker is the
// controller, every partition a group subscribes to is owned by exactly
// one live consumer of the group, and the history follows its format and
// passes history.Check (every acknowledged message consumed by each group
// at its offset; no offset read with two values). A failure prints the
// script to replay as a testdata/kafka file. The default runs
// kafkaClientsDefaultChecks scripts; run longer with
//
//	go test ./scenarios -run TestKafkaClientsSettle -rapid.checks=300
//
// With KZSIM_SCRIPT_OUT=FILE each script is written to FILE before it
// runs (a hang's script is what FILE holds when the test times out).
func TestKafkaClientsSettle(t *testing.T) {
	defer defaultRapidChecks(kafkaClientsDefaultChecks)()
	rapid.Check(t, func(t *rapid.T) {
		script := drawClientScript(t)
		replay := kscriptText(clientReplay(script))
		if out := os.Getenv("KZSIM_SCRIPT_OUT"); out != "" {
			// A script that hangs (a livelock inside one event) never
			// reaches Fatalf: the file keeps the last one started.
			if err := os.WriteFile(out, []byte(replay), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		s, err := runKScript(script)
		if err != nil {
			t.Fatalf("%v\nscript:\n%s", err, replay)
		}
		if msg := clientsSettledProblem(s); msg != "" {
			t.Fatalf("%s\nscript:\n%s\ntimeline:\n%s", msg, replay, strings.Join(s.c.result.Timeline, "\n"))
		}
	})
}

// clientReplay is script with the views a reader of a failure wants
// before its final check.
func clientReplay(script []kscriptStep) []kscriptStep {
	out := append([]kscriptStep(nil), script...)
	for _, g := range []string{"g", "h"} {
		out = append(out, kscriptStep{cmd: "owners", args: map[string]string{"group": g}})
	}
	return append(out, kscriptStep{cmd: "history"}, kscriptStep{cmd: "history-check"})
}

// clientsSettledProblem is kafkaSettledProblem and the clients' end checks:
// each group's ownership and the history.
func clientsSettledProblem(s *kscript) string {
	if msg := kafkaSettledProblem(s); msg != "" {
		return msg
	}
	var lines []string
	lines = append(lines, s.ownershipProblems()...)
	problems, _ := s.historyProblems()
	if len(problems) > 10 {
		problems = append(problems[:10], fmt.Sprintf("and %d more", len(problems)-10))
	}
	lines = append(lines, problems...)
	if len(lines) == 0 {
		return ""
	}
	return "clients:\n" + strings.Join(lines, "\n")
}

// defaultRapidChecks sets -rapid.checks to n unless the command line or
// RAPID_CHECKS set it, and returns the undo.
func defaultRapidChecks(n int) func() {
	set := os.Getenv("RAPID_CHECKS") != ""
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	f := flag.Lookup("rapid.checks")
	if set || f == nil {
		return func() {}
	}
	old := f.Value.String()
	if err := f.Value.Set(fmt.Sprint(n)); err != nil {
		panic(err)
	}
	return func() { _ = f.Value.Set(old) }
}

// TestClientsSettledProblemFires: the property's client checks fire on a
// partition left without a live owner (its consumer crashed, its session
// not yet expired), on a history missing the polls of acknowledged
// messages (the group's only consumer stopped before reading them), and on
// a consumer that believes it owns what another's owner znode holds.
func TestClientsSettledProblemFires(t *testing.T) {
	base := []kscriptStep{
		{cmd: "cluster", args: map[string]string{"brokers": "3", "seed": "1", "min-isr": "2"}},
		{cmd: "run-for", args: map[string]string{"2s": ""}},
		{cmd: "create-topic", args: map[string]string{"name": "t", "partitions": "2", "rf": "3"}},
		{cmd: "run-for", args: map[string]string{"3s": ""}},
		{cmd: "producer", args: map[string]string{"name": "p1", "discovery": "metadata", "topic": "t"}},
		{cmd: "consumer", args: map[string]string{"name": "c1", "group": "g", "topics": "t"}},
		{cmd: "run-for", args: map[string]string{"5s": ""}},
	}
	cases := []struct {
		name  string
		steps []kscriptStep
		want  string
	}{
		{"owner crashed", []kscriptStep{
			{cmd: "crash-client", args: map[string]string{"name": "c1"}},
			{cmd: "run-for", args: map[string]string{"1s": ""}},
		}, `owned by "g_c1-0", not a live consumer`},
		{"acked never polled", []kscriptStep{
			{cmd: "stop-client", args: map[string]string{"name": "c1"}},
			{cmd: "run-for", args: map[string]string{"5s": ""}},
			{cmd: "stop-client", args: map[string]string{"name": "p1"}},
			{cmd: "run-for", args: map[string]string{"1s": ""}},
		}, "acked-sends-consumed"},
		{"two believe they own", []kscriptStep{
			{cmd: "consumer", args: map[string]string{"name": "c2", "group": "g", "topics": "t"}},
			{cmd: "run-for", args: map[string]string{"5s": ""}},
			{cmd: "partition-client", args: map[string]string{"name": "c1", "from": "zk", "for": "30s"}},
			{cmd: "run-for", args: map[string]string{"10s": ""}},
		}, "in the consumers' registries"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := runKScript(append(append([]kscriptStep(nil), base...), tc.steps...))
			if err != nil {
				t.Fatal(err)
			}
			if msg := clientsSettledProblem(s); !strings.Contains(msg, tc.want) {
				t.Errorf("want a problem with %q, got %q", tc.want, msg)
			}
		})
	}
	t.Run("healthy", func(t *testing.T) {
		s, err := runKScript(append(append([]kscriptStep(nil), base...),
			kscriptStep{cmd: "stop-client", args: map[string]string{"name": "p1"}},
			kscriptStep{cmd: "run-for", args: map[string]string{"5s": ""}}))
		if err != nil {
			t.Fatal(err)
		}
		if msg := clientsSettledProblem(s); msg != "" {
			t.Errorf("a healthy group: %s", msg)
		}
	})
}
