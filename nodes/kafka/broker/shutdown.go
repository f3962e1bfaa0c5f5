package broker

import (
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
)

// shutdownState is KafkaServer.controlledShutdown's progress.
type shutdownState struct {
	attempts int
}

const timerShutdownRetry kproc.TimerName = "broker/controlled-shutdown-retry"

// shutdown is the broker's answer to kproc.Shutdown (SIGTERM): with
// controlled.shutdown.enable it asks the controller to move its leaders
// away, up to controlled.shutdown.max.retries times, then exits (also when
// the retries run out: Kafka then shuts down uncleanly).
func (b *Broker) shutdownRequested() {
	if b.phase != phaseRunning {
		b.phase = phaseExited
		b.emit(kproc.Exit{})
		return
	}
	if !b.cfg.Kafka.ControlledShutdownEnable {
		b.finishShutdown()
		return
	}
	b.phase = phaseShuttingDown
	if b.cfg.BugShutdownWithoutController {
		b.emit(ControlledShutdown{Broker: b.cfg.ID, Attempt: 1, Remaining: 0, Done: true})
		b.finishShutdown()
		return
	}
	b.sendControlledShutdown()
}

func (b *Broker) sendControlledShutdown() {
	if b.phase != phaseShuttingDown {
		return
	}
	k := b.cfg.Kafka
	if b.shutdown.attempts >= k.ControlledShutdownMaxRetries {
		b.finishShutdown()
		return
	}
	b.shutdown.attempts++
	host, ok := b.controllerHost()
	if !ok {
		b.emit(ControlledShutdown{Broker: b.cfg.ID, Attempt: b.shutdown.attempts, Remaining: -1})
		b.emit(kproc.SetTimer{Name: timerShutdownRetry, After: k.ControlledShutdownRetryBackoff})
		return
	}
	b.emit(kproc.Send{ID: b.newCall(call{kind: callControlledShutdown}), Host: host, Channel: kproc.ChannelClient,
		Req: &proto.ControlledShutdownRequest{BrokerID: b.cfg.ID, BrokerEpoch: b.brokerEpoch}, Timeout: k.ControllerSocketTimeout})
}

// controllerHost is the controller's host as the metadata cache knows it.
func (b *Broker) controllerHost() (string, bool) {
	id := b.meta.controllerID
	for _, br := range b.meta.brokers {
		if br.ID == id {
			return br.Host, true
		}
	}
	return "", false
}

func (b *Broker) shutdownResult(in kproc.RPCResult) {
	if b.phase != phaseShuttingDown {
		return
	}
	remaining := -1
	if in.Err == nil {
		r := in.Resp.(*proto.ControlledShutdownResponse)
		if r.Error == proto.None {
			remaining = len(r.Remaining)
		}
	}
	b.emit(ControlledShutdown{Broker: b.cfg.ID, Attempt: b.shutdown.attempts, Remaining: remaining, Done: remaining == 0})
	if remaining == 0 {
		b.finishShutdown()
		return
	}
	b.emit(kproc.SetTimer{Name: timerShutdownRetry, After: b.cfg.Kafka.ControlledShutdownRetryBackoff})
}

// finishShutdown writes the high-watermark checkpoint and exits; the
// session's close removes /brokers/ids/<id> at once.
func (b *Broker) finishShutdown() {
	b.replicas.hwDirty = true
	b.replicas.checkpointHighWatermarks()
	b.phase = phaseExited
	b.emit(kproc.Exit{})
}
