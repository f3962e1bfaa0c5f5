package invariants

import "fmt"

// ControllerElected records a broker's report that it became controller
// with epoch in ZooKeeper session session (its kafkazk client's session when
// its election multi succeeded), and checks OneControllerPerEpoch. The
// scenario calls it when the broker reports the election, in the event it
// happens in.
//
// The claim is checked against the commit that set /controller_epoch to
// epoch, not against the tree at the time of the call: the broker learns of
// its win from a reply, and by the time it acts ZooKeeper may have moved on
// (its session expired, /controller deleted, a newer epoch written), which
// is no violation; a claim no commit backs is.
func (k *KafkaWatch) ControllerElected(broker, epoch int32, session int64) {
	k.noticeReload()
	if prev, ok := k.claims[epoch]; ok {
		if prev != (claim{broker, session}) {
			k.c.Safety(OneControllerPerEpoch, "broker %d (session 0x%x) claims controller epoch %d, already claimed by broker %d (session 0x%x)",
				broker, session, epoch, prev.broker, prev.session)
		}
		return
	}
	k.claims[epoch] = claim{broker, session}
	el, ok := k.elections[epoch]
	switch {
	case !ok:
		k.c.Safety(OneControllerPerEpoch, "broker %d (session 0x%x) claims controller epoch %d, but no commit set /controller_epoch to %d", broker, session, epoch, epoch)
	case el.broker == -1 || el.session != session || el.broker != broker:
		k.c.Safety(OneControllerPerEpoch, "broker %d (session 0x%x) claims controller epoch %d, but the commit that set it (zxid 0x%x) made %s",
			broker, session, epoch, el.zxid, el.describe())
	}
}

// describe says whom an election's commit made controller.
func (el election) describe() string {
	switch {
	case el.owner == 0:
		return fmt.Sprintf("no controller: session 0x%x wrote it with /controller absent", el.session)
	case el.broker == -1:
		return fmt.Sprintf("no controller: session 0x%x wrote it while /controller belonged to session 0x%x", el.session, el.owner)
	}
	return fmt.Sprintf("broker %d of session 0x%x controller", el.broker, el.session)
}

// RequestApplied records that incarnation (sim.World.Incarnation of the
// broker's process) of broker applied a control request api (APILeaderAndIsr,
// APIUpdateMetadata or APIStopReplica) of controller epoch controllerEpoch,
// and checks NoStaleRequestApplied. The scenario calls it when the broker
// reports the request applied, not when it reports it rejected.
// Kafka 2.6 keeps one controller epoch per broker for the three (ReplicaManager.controllerEpoch).
// It panics on another api, or on an incarnation older than one reported
// before (API misuse).
func (k *KafkaWatch) RequestApplied(broker int32, incarnation uint32, api string, controllerEpoch int32) {
	switch api {
	case APILeaderAndIsr, APIUpdateMetadata, APIStopReplica:
	default:
		panic(fmt.Sprintf("invariants: RequestApplied(%d, %d, %q, %d): not a control request (want %s, %s or %s)",
			broker, incarnation, api, controllerEpoch, APILeaderAndIsr, APIUpdateMetadata, APIStopReplica))
	}
	b := k.broker(broker, incarnation)
	if b.seen && controllerEpoch < b.controllerEpoch {
		k.c.Safety(NoStaleRequestApplied, "broker %d (incarnation %d) applied %s of controller epoch %d after %s of controller epoch %d",
			broker, incarnation, api, controllerEpoch, b.api, b.controllerEpoch)
		return
	}
	b.controllerEpoch, b.api, b.seen = controllerEpoch, api, true
}

// PartitionApplied records that incarnation of broker made topic's
// partition leader or follower at leaderEpoch, and checks
// NoStaleRequestApplied: an incarnation never applies a leader epoch below
// one it applied to that partition. Kafka 2.6 applies only a newer epoch
// (ReplicaManager.becomeLeaderOrFollower); a report of the same epoch again
// is allowed. A topic whose znode is deleted starts over on every broker.
// It panics on an incarnation older than one reported before.
func (k *KafkaWatch) PartitionApplied(broker int32, incarnation uint32, topic string, partition, leaderEpoch int32) {
	b := k.broker(broker, incarnation)
	parts := b.leaderEpochs[topic]
	if parts == nil {
		parts = map[int32]int32{}
		b.leaderEpochs[topic] = parts
	}
	if prev, ok := parts[partition]; ok && leaderEpoch < prev {
		k.c.Safety(NoStaleRequestApplied, "broker %d (incarnation %d) applied leader epoch %d to partition %s-%d after leader epoch %d",
			broker, incarnation, leaderEpoch, topic, partition, prev)
		return
	}
	parts[partition] = leaderEpoch
}

// broker returns what incarnation of broker applied, forgetting an older
// incarnation's: a restarted broker starts from its disk, with no epochs.
func (k *KafkaWatch) broker(broker int32, incarnation uint32) *brokerApplied {
	b := k.brokers[broker]
	switch {
	case b != nil && incarnation < b.incarnation:
		panic(fmt.Sprintf("invariants: broker %d reported incarnation %d after incarnation %d", broker, incarnation, b.incarnation))
	case b == nil || incarnation > b.incarnation:
		b = &brokerApplied{incarnation: incarnation, leaderEpochs: map[string]map[int32]int32{}}
		k.brokers[broker] = b
	}
	return b
}
