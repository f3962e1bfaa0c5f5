package algo

import "slices"

// NoLeader is the leader of a partition that has none (Kafka 2.6
// `LeaderAndIsr.NoLeader`).
const NoLeader int32 = -1

// LeaderAndIsr is the part of a partition's state znode that elections
// change: the leader (NoLeader for none), its epoch and the in-sync replicas
// in stored order (Kafka 2.6 `kafka.api.LeaderAndIsr`, without the zkVersion,
// which the caller keeps beside it).
type LeaderAndIsr struct {
	Leader      int32
	LeaderEpoch int32
	ISR         []int32
}

// next is Kafka's `newLeaderAndIsr`: the given leader and ISR at the next
// leader epoch.
func (s LeaderAndIsr) next(leader int32, isr []int32) LeaderAndIsr {
	return LeaderAndIsr{Leader: leader, LeaderEpoch: s.LeaderEpoch + 1, ISR: isr}
}

// Liveness is which brokers the controller currently counts as live: those
// registered under /brokers/ids (Live), and among them those in controlled
// shutdown (ShuttingDown). Kafka 2.6 `ControllerContext.isReplicaOnline`
// counts a replica online when its broker is live and not shutting down;
// only the controlled-shutdown election also accepts shutting-down brokers.
//
// Simplification: Kafka also requires the replica's log directory to be
// online (JBOD, KIP-112); every replica on a live broker counts as online
// here.
type Liveness struct {
	Live         map[int32]bool
	ShuttingDown map[int32]bool
}

// Online reports whether broker b's replicas count as online for every
// election but controlled shutdown: live and not shutting down.
func (l Liveness) Online(b int32) bool { return l.Live[b] && !l.ShuttingDown[b] }

// OnlineOrShuttingDown reports whether broker b is live, shutting down or
// not (Kafka's `includeShuttingDownBrokers = true`).
func (l Liveness) OnlineOrShuttingDown(b int32) bool { return l.Live[b] }

// Election is the outcome of one partition's leader election.
type Election struct {
	// Elected is false when no leader could be chosen: the state znode is
	// left untouched and State is the zero value.
	Elected bool
	// State is the new leader and ISR at the next leader epoch.
	State LeaderAndIsr
	// Unclean is true when the leader was not in the ISR (offline
	// election with unclean election enabled): records may be lost.
	Unclean bool
	// Recipients are the brokers Kafka sends the resulting LeaderAndIsr
	// to, in assignment order (Kafka 2.6 `ElectionResult.liveReplicas`,
	// which despite its name is the whole target set for a reassignment
	// and the whole assignment for a preferred election). The caller drops
	// those not live-or-shutting-down, as `ControllerChannelManager` does.
	Recipients []int32
}

// first returns the first replica of order that satisfies ok.
func first(order []int32, ok func(int32) bool) (int32, bool) {
	for _, r := range order {
		if ok(r) {
			return r, true
		}
	}
	return NoLeader, false
}

// filter returns the members of s that satisfy ok, in order, as a fresh
// non-nil slice.
func filter(s []int32, ok func(int32) bool) []int32 {
	out := make([]int32, 0, len(s))
	for _, r := range s {
		if ok(r) {
			out = append(out, r)
		}
	}
	return out
}

// InitialLeaderAndIsr is the state a New partition gets when it goes Online
// (Kafka 2.6 `PartitionStateMachine.initializeLeaderAndIsrForPartitions`):
// the leader is the first online replica in assignment order, the ISR every
// online replica in assignment order, the leader epoch 0. ok is false when
// no replica is online; the partition then stays New.
func InitialLeaderAndIsr(assignment []int32, l Liveness) (LeaderAndIsr, bool) {
	live := filter(assignment, l.Online)
	if len(live) == 0 {
		return LeaderAndIsr{}, false
	}
	return LeaderAndIsr{Leader: live[0], LeaderEpoch: 0, ISR: live}, true
}

// ElectOffline is the election for an offline partition, on broker failure,
// controller start-up or a new partition whose state znode exists (Kafka 2.6
// `Election.leaderForOffline`, `offlinePartitionLeaderElection`): the first
// replica in assignment order that is online and in the ISR leads, and the
// ISR keeps its online members in ISR order. Failing that, if uncleanEnabled
// (the topic's `unclean.leader.election.enable`), the first online replica
// in assignment order leads with an ISR of itself alone, and the result is
// marked Unclean. Otherwise nothing is elected. Recipients are the online
// replicas in assignment order, elected or not.
func ElectOffline(assignment []int32, cur LeaderAndIsr, l Liveness, uncleanEnabled bool) Election {
	recipients := filter(assignment, l.Online)
	inISR := func(r int32) bool { return slices.Contains(cur.ISR, r) }
	if leader, ok := first(assignment, func(r int32) bool { return l.Online(r) && inISR(r) }); ok {
		return Election{Elected: true, State: cur.next(leader, filter(cur.ISR, l.Online)), Recipients: recipients}
	}
	if uncleanEnabled {
		if leader, ok := first(assignment, l.Online); ok {
			return Election{Elected: true, State: cur.next(leader, []int32{leader}), Unclean: true, Recipients: recipients}
		}
	}
	return Election{Recipients: recipients}
}

// ElectOfflineISROrder is the offline election of Kafka 0.8.0 and 0.8.1
// (0.8.1.1 `OfflinePartitionLeaderSelector`): the first online member of the
// ISR in ISR order leads, not the first in assignment order; KAFKA-1503
// (first tag 0.8.2-beta) switched to assignment order so that the leaders
// of a failed broker's partitions spread over the survivors. The ISR and
// the unclean fallback are as in ElectOffline. Those releases had no
// unclean setting and always fell back: pass uncleanEnabled true for them.
func ElectOfflineISROrder(assignment []int32, cur LeaderAndIsr, l Liveness, uncleanEnabled bool) Election {
	recipients := filter(assignment, l.Online)
	if leader, ok := first(cur.ISR, l.Online); ok {
		return Election{Elected: true, State: cur.next(leader, filter(cur.ISR, l.Online)), Recipients: recipients}
	}
	return ElectOffline(assignment, cur, l, uncleanEnabled)
}

// ElectReassign is the election at the end of a reassignment when the
// leader is not among the target replicas or is offline (Kafka 2.6
// `Election.leaderForReassign`, `reassignPartitionLeaderElection`): the first
// target replica, in target order, that is online and in the ISR; the ISR is
// unchanged. Recipients are all the target replicas.
func ElectReassign(target []int32, cur LeaderAndIsr, l Liveness) Election {
	recipients := slices.Clone(target)
	leader, ok := first(target, func(r int32) bool { return l.Online(r) && slices.Contains(cur.ISR, r) })
	if !ok {
		return Election{Recipients: recipients}
	}
	return Election{Elected: true, State: cur.next(leader, slices.Clone(cur.ISR)), Recipients: recipients}
}

// ElectPreferred is the preferred replica election (Kafka 2.6
// `Election.leaderForPreferredReplica`, `preferredReplicaPartitionLeaderElection`):
// the first replica of the assignment leads if it is online and in the ISR,
// otherwise nothing is elected; the ISR is unchanged. Recipients are the
// whole assignment. Electing the replica that already leads is still an
// election (a new epoch), as in Kafka; callers filter such partitions out
// first, as `KafkaController.onReplicaElection` does.
func ElectPreferred(assignment []int32, cur LeaderAndIsr, l Liveness) Election {
	recipients := slices.Clone(assignment)
	if len(assignment) == 0 || !l.Online(assignment[0]) || !slices.Contains(cur.ISR, assignment[0]) {
		return Election{Recipients: recipients}
	}
	return Election{Elected: true, State: cur.next(assignment[0], slices.Clone(cur.ISR)), Recipients: recipients}
}

// ElectControlledShutdown is the election for a partition whose leader is
// shutting down (Kafka 2.6 `Election.leaderForControlledShutdown`,
// `controlledShutdownPartitionLeaderElection`): the first replica in
// assignment order that is live (shutting-down brokers count), in the ISR
// and not shutting down; the new ISR is the old one minus every
// shutting-down broker (even a dead member stays). Recipients are the live
// replicas, shutting down or not, in assignment order.
func ElectControlledShutdown(assignment []int32, cur LeaderAndIsr, l Liveness) Election {
	recipients := filter(assignment, l.OnlineOrShuttingDown)
	leader, ok := first(assignment, func(r int32) bool {
		return l.OnlineOrShuttingDown(r) && slices.Contains(cur.ISR, r) && !l.ShuttingDown[r]
	})
	if !ok {
		return Election{Recipients: recipients}
	}
	isr := filter(cur.ISR, func(r int32) bool { return !l.ShuttingDown[r] })
	return Election{Elected: true, State: cur.next(leader, isr), Recipients: recipients}
}

// RemoveFromIsr is the state write when replica goes Offline (Kafka 2.6
// `ZkReplicaStateMachine.doRemoveReplicasFromIsr`): if replica is not in the
// ISR nothing is written (changed is false, the epoch stays). Otherwise the
// leader becomes NoLeader if it was replica, the replica leaves the ISR
// unless it is the ISR's only member (KAFKA-5083, 1.1+: the last member is
// kept so that a clean election stays possible when it returns), and the
// leader epoch goes up by one.
func RemoveFromIsr(cur LeaderAndIsr, replica int32) (next LeaderAndIsr, changed bool) {
	if !slices.Contains(cur.ISR, replica) {
		return LeaderAndIsr{Leader: cur.Leader, LeaderEpoch: cur.LeaderEpoch, ISR: slices.Clone(cur.ISR)}, false
	}
	leader := cur.Leader
	if leader == replica {
		leader = NoLeader
	}
	isr := slices.Clone(cur.ISR)
	if len(isr) > 1 {
		isr = filter(isr, func(r int32) bool { return r != replica })
	}
	return cur.next(leader, isr), true
}
