package scenarios

import (
	"os"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestKafkaScripts drives whole Kafka 2.6 clusters (brokers, their
// controllers, ZooKeeper, the admin) through the stories in
// testdata/kafka, in the style of etcd-io/raft's interaction tests. A
// command that cannot apply prints "error: ..." as its output. Run with
// -rewrite to update the expected output, then review the diff:
//
//	go test ./scenarios -run TestKafkaScripts -rewrite
//
// Commands:
//
//	cluster brokers=5 seed=1 [era=2.6] [unclean=true] [min-isr=2] [bug=ignore-controller-epoch]
//	                                a new cluster (brokers start at 10 ms × id), maybe with a planted bug
//	create-topic name=t partitions=4 rf=3               the admin creates a topic
//	delete-topic name=t | preferred-election [topic=t] | reassign topic=t partition=0 replicas=4,5,1
//	run-for 30s
//	crash broker=2 [for=10s] | crash-controller [for=10s] | restart broker=2
//	pause broker=1 for=25s | pause-controller for=25s
//	partition broker=1 from=zk|all|2,3 for=10s | partition-controller from=zk for=10s
//	expire-session broker=3 | expire-controller | controlled-shutdown broker=2 | heal-all
//	controller                      /controller, /controller_epoch, and the modules that think they are active
//	partition-state topic=t [partition=0]   leader, epoch, ISR, zkVersion from ZooKeeper
//	zk-tree [path=/brokers]         the tree, payloads summarised
//	metadata broker=2 | brokers     a broker's metadata cache; every broker's state
//	timeline | rejections           the narration, the requests refused as stale, since the last call
//	failovers                       each controller failover: hit → election → LeaderAndIsr for all
//	check [settled]                 violations since the last check, or ok (settled: run the end checks first)
//
// and the client commands (producer, consumer, their faults and views,
// history, history-check) listed in kafkascript_clients.go.
func TestKafkaScripts(t *testing.T) { runKafkaScripts(t, "testdata/kafka") }

func runKafkaScripts(t *testing.T, dir string) {
	datadriven.Walk(t, dir, func(t *testing.T, path string) {
		var s *kscript
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			if td.Cmd == "cluster" {
				cfg, err := scanCluster(td)
				if err != nil {
					td.Fatalf(t, "%v", err)
				}
				if s, err = newKScript(cfg); err != nil {
					td.Fatalf(t, "%v", err)
				}
				return ""
			}
			if s == nil {
				td.Fatalf(t, "%s before cluster", td.Cmd)
			}
			out, err := s.command(td)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			if out != "" && !strings.HasSuffix(out, "\n") {
				out += "\n"
			}
			return out
		})
	})
}

func scanCluster(td *datadriven.TestData) (kscriptConfig, error) {
	a, _ := args(td)
	return parseClusterArgs(a)
}

// args reads key=value arguments (a bare key has value "") and the bare
// words, in order.
func args(td *datadriven.TestData) (map[string]string, []string) {
	m := map[string]string{}
	var words []string
	for _, a := range td.CmdArgs {
		m[a.Key] = strings.Join(a.Vals, ",")
		if len(a.Vals) == 0 {
			words = append(words, a.Key)
		}
	}
	return m, words
}

// command runs one script line on s.
func (s *kscript) command(td *datadriven.TestData) (string, error) {
	a, words := args(td)
	return s.exec(td.Cmd, a, words)
}

// TestKafkaSuspectedBugs runs the scripts of testdata/kafka-bugs: each
// shows a suspected bug of a package this one drives (its header says
// which), with no expected output until it is judged; fixed, the script
// moves to testdata/kafka with its output. Skipped unless
// KZSIM_KAFKA_BUGS=1:
//
//	KZSIM_KAFKA_BUGS=1 go test ./scenarios -run TestKafkaSuspectedBugs
func TestKafkaSuspectedBugs(t *testing.T) {
	if os.Getenv("KZSIM_KAFKA_BUGS") != "1" {
		t.Skip("suspected bugs of other packages; set KZSIM_KAFKA_BUGS=1 to run them")
	}
	runKafkaScripts(t, "testdata/kafka-bugs")
}
