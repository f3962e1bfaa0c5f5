package algo

import "slices"

// ReplicaAssignment is a partition's replica sets as the topic znode holds
// them from Kafka 2.4 on (KIP-455; Kafka 2.6 `ReplicaAssignment`): Replicas
// is the full set RS in order (its first member is the preferred replica),
// Adding and Removing are empty unless a reassignment is in flight.
type ReplicaAssignment struct {
	Replicas []int32
	Adding   []int32
	Removing []int32
}

// without returns the members of s not in drop, in order.
func without(s, drop []int32) []int32 {
	return filter(s, func(r int32) bool { return !slices.Contains(drop, r) })
}

// Origin is ORS, the replicas before the reassignment: RS minus the adding
// replicas (Kafka's `originReplicas`).
func (a ReplicaAssignment) Origin() []int32 { return without(a.Replicas, a.Adding) }

// Target is TRS, the replicas after it: RS minus the removing replicas
// (Kafka's `targetReplicas`).
func (a ReplicaAssignment) Target() []int32 { return without(a.Replicas, a.Removing) }

// Reassigning reports whether a reassignment is in flight.
func (a ReplicaAssignment) Reassigning() bool { return len(a.Adding) > 0 || len(a.Removing) > 0 }

// ReassignTo returns the assignment while moving to target (Kafka 2.6
// `ReplicaAssignment.reassignTo`): RS is target followed by the origin
// replicas not in it (so RS's head, the preferred replica, is target's head
// throughout), Adding is RS minus the origin (AR = TRS − ORS) and Removing
// is RS minus the target (RR = ORS − TRS). The origin is that of a, so
// replacing a running reassignment keeps the replicas of before the first.
//
// Target must hold distinct brokers; Kafka validates the request before
// this point, and so must the caller.
func (a ReplicaAssignment) ReassignTo(target []int32) ReplicaAssignment {
	origin := a.Origin()
	rs := slices.Clone(target)
	for _, r := range origin {
		if !slices.Contains(rs, r) {
			rs = append(rs, r)
		}
	}
	return ReplicaAssignment{Replicas: rs, Adding: without(rs, origin), Removing: without(rs, target)}
}

// Complete returns the assignment once the reassignment has finished: RS
// is the target, with nothing adding or removing (phase B of Kafka 2.6
// `KafkaController.onPartitionReassignment`).
func (a ReplicaAssignment) Complete() ReplicaAssignment {
	return ReplicaAssignment{Replicas: a.Target()}
}

// ReassignmentDone reports whether every target replica is in isr, the ISR
// read from the state znode: the test that moves a reassignment from phase
// A to phase B (Kafka 2.6 `KafkaController.isReassignmentComplete`). An
// assignment with no reassignment in flight is done whatever the ISR.
func ReassignmentDone(a ReplicaAssignment, isr []int32) bool {
	if !a.Reassigning() {
		return true
	}
	for _, r := range a.Target() {
		if !slices.Contains(isr, r) {
			return false
		}
	}
	return true
}
