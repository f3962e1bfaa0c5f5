package producer

import (
	"github.com/kzsim/kzsim/nodes/kafka/history"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/sim"
)

// HistoryOp turns one of the producer's reports, handed to OnReport at
// virtual time now, into its history line for the producer process named
// process: Invoked an invoke, Acked an ok with its partition and offset,
// Failed a fail, Unknown an info. Other reports give false.
func HistoryOp(process string, r kproc.Effect, now sim.Time) (history.Op, bool) {
	var m Message
	var typ history.Type
	op := history.Op{}
	switch r := r.(type) {
	case Invoked:
		m, typ = r.Message, history.Invoke
	case Acked:
		m, typ = r.Message, history.OK
		op.Partition, op.Offset = r.Partition, r.Offset
	case Failed:
		m, typ = r.Message, history.Fail
	case Unknown:
		m, typ = r.Message, history.Info
	default:
		return history.Op{}, false
	}
	op.Type, op.F, op.Process = typ, history.Send, process
	op.Topic, op.Keyed, op.Key, op.Value = m.Topic, m.Keyed, m.Key, m.Value
	op.TimeNs = int64(now)
	return op, true
}
