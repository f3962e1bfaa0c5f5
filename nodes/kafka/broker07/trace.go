package broker07

import (
	"fmt"

	"github.com/kzsim/kzsim/nodes/node"
	"github.com/kzsim/kzsim/sim"
)

// Trace record kinds of a 0.7 broker's reports, with typed attributes
// (broker: its id; session: hexadecimal; why: startup, new-session or
// new-topic), for narration and checks that read the trace.
const (
	KindRegistered         = "kafka.07.broker.registered"   // broker, session, data, why, found
	KindTopicRegistered    = "kafka.07.topic.registered"    // broker, topic, partitions, session, why, found
	KindRegistrationFailed = "kafka.07.registration.failed" // broker, path, session, why, reason
	KindStartupFailed      = "kafka.07.startup.failed"      // broker, reason
	KindLogCreated         = "kafka.07.log.created"         // broker, topic
)

// Trace writes one of a broker's reports to w's trace as a record of
// process proc. It panics on an effect that is not a report of this
// package.
func Trace(w *sim.World, proc sim.ProcID, id int32, r node.Effect) {
	b := sim.Int("broker", id)
	switch r := r.(type) {
	case Registered:
		w.Emit(KindRegistered, proc, r.Why.String(), b, sim.Hex("session", r.Session), sim.Str("data", r.Data), sim.Str("why", r.Why.String()), sim.Bool("found", r.Found))
	case TopicRegistered:
		w.Emit(KindTopicRegistered, proc, r.Why.String(), b, sim.Str("topic", r.Topic), sim.Int("partitions", r.Partitions), sim.Hex("session", r.Session), sim.Str("why", r.Why.String()), sim.Bool("found", r.Found))
	case RegistrationFailed:
		w.Emit(KindRegistrationFailed, proc, r.Why.String(), b, sim.Str("path", r.Path), sim.Hex("session", r.Session), sim.Str("why", r.Why.String()), sim.Str("reason", r.Reason))
	case StartupFailed:
		w.Emit(KindStartupFailed, proc, "startup", b, sim.Str("reason", r.Reason))
	case LogCreated:
		w.Emit(KindLogCreated, proc, "produce", b, sim.Str("topic", r.Topic))
	default:
		panic(fmt.Sprintf("broker07: %T is not a broker report", r))
	}
}
