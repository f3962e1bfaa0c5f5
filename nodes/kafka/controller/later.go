package controller

import (
	"github.com/kzsim/kzsim/nodes/kafka/proto"
)

// Features not built yet: each is a no-op that continues.

func (c *Controller) initTopicDeletion(then func())    { then() }
func (c *Controller) tryTopicDeletion(then func())     { then() }
func (c *Controller) resumeDeletions([]int32)          {}
func (c *Controller) failReplicaDeletion([]replicaRef) {}
func (c *Controller) processTopicDeletion()            {}
func (c *Controller) processStopReplicaDeletionResponse(int32, *proto.StopReplicaRequest, *proto.StopReplicaResponse) {
}

func (c *Controller) resumeDeletionOf(int32) {}
