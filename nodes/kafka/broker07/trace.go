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

// Each report is a typed trace record: TraceKind and TraceRecord give its
// kind, label and attributes (the shape of kproc.Traced, so the reports go
// into the trace unchanged if the broker moves onto that shell).

// TraceKind is the kind of the report's trace record.
func (r Registered) TraceKind() string { return KindRegistered }

// TraceRecord returns the record's label and attributes.
func (r Registered) TraceRecord() (string, []sim.Attr) {
	return r.Why.String(), []sim.Attr{sim.Hex("session", r.Session), sim.Str("data", r.Data), sim.Str("why", r.Why.String()), sim.Bool("found", r.Found)}
}

// TraceKind is the kind of the report's trace record.
func (r TopicRegistered) TraceKind() string { return KindTopicRegistered }

// TraceRecord returns the record's label and attributes.
func (r TopicRegistered) TraceRecord() (string, []sim.Attr) {
	return r.Why.String(), []sim.Attr{sim.Str("topic", r.Topic), sim.Int("partitions", r.Partitions), sim.Hex("session", r.Session), sim.Str("why", r.Why.String()), sim.Bool("found", r.Found)}
}

// TraceKind is the kind of the report's trace record.
func (r RegistrationFailed) TraceKind() string { return KindRegistrationFailed }

// TraceRecord returns the record's label and attributes.
func (r RegistrationFailed) TraceRecord() (string, []sim.Attr) {
	return r.Why.String(), []sim.Attr{sim.Str("path", r.Path), sim.Hex("session", r.Session), sim.Str("why", r.Why.String()), sim.Str("reason", r.Reason)}
}

// TraceKind is the kind of the report's trace record.
func (r StartupFailed) TraceKind() string { return KindStartupFailed }

// TraceRecord returns the record's label and attributes.
func (r StartupFailed) TraceRecord() (string, []sim.Attr) {
	return "startup", []sim.Attr{sim.Str("reason", r.Reason)}
}

// TraceKind is the kind of the report's trace record.
func (r LogCreated) TraceKind() string { return KindLogCreated }

// TraceRecord returns the record's label and attributes.
func (r LogCreated) TraceRecord() (string, []sim.Attr) {
	return "produce", []sim.Attr{sim.Str("topic", r.Topic)}
}

// traced is what every report of the package is.
type traced interface {
	node.Effect
	TraceKind() string
	TraceRecord() (string, []sim.Attr)
}

// Trace writes one of a broker's reports to w's trace as a record of
// process proc, with the broker's id first. It panics on an effect that is
// not a report of this package.
func Trace(w *sim.World, proc sim.ProcID, id int32, r node.Effect) {
	t, ok := r.(traced)
	if !ok {
		panic(fmt.Sprintf("broker07: %T is not a broker report", r))
	}
	label, attrs := t.TraceRecord()
	w.Emit(t.TraceKind(), proc, label, append([]sim.Attr{sim.Int("broker", id)}, attrs...)...)
}
