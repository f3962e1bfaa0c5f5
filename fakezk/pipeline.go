package fakezk

// Request is one operation of a pipelined batch (Client.Pipeline): a
// *CreateRequest, *SetDataRequest or *DeleteRequest (the types Multi takes),
// a *MultiRequest (a whole multi, check ops included), or a
// *GetDataRequest, *ExistsRequest or *GetChildrenRequest.
type Request interface{ isRequest() }

// GetDataRequest reads a znode in a batch; Watch, if set, is a data watch.
type GetDataRequest struct {
	Path  string
	Watch func(Event)
}

// ExistsRequest checks a znode in a batch; Watch, if set, is an exists watch.
type ExistsRequest struct {
	Path  string
	Watch func(Event)
}

// GetChildrenRequest lists a znode's children in a batch; Watch, if set, is
// a child watch.
type GetChildrenRequest struct {
	Path  string
	Watch func(Event)
}

// MultiRequest is a multi as one element of a batch: Ops run atomically,
// as with Client.Multi (a *CheckVersionRequest among them fails the whole
// multi unless its version matches), as Kafka's controller writes each
// partition's state behind a check of its controller epoch znode.
type MultiRequest struct {
	Ops []Op
}

func (*CreateRequest) isRequest()      {}
func (*MultiRequest) isRequest()       {}
func (*SetDataRequest) isRequest()     {}
func (*DeleteRequest) isRequest()      {}
func (*GetDataRequest) isRequest()     {}
func (*ExistsRequest) isRequest()      {}
func (*GetChildrenRequest) isRequest() {}

// Response is the result of one Request of a batch: Path for a create, Data
// for a read, Stat where the single call returns one, Exists for an exists
// check, Children for a listing, Multi for a multi, and Err.
type Response struct {
	Path     string
	Data     []byte
	Stat     *Stat
	Exists   bool
	Children []string
	Multi    []MultiResponse
	Err      error
}

// Pipeline sends every request at once, in order, without waiting for any
// reply (as Kafka's controller does from 1.1 on), and calls cb once with
// all the responses, in request order, when the last has arrived. Each
// request behaves as its single call does; the batch is not atomic (use
// Multi or a MultiRequest for that). An empty batch calls cb with no
// responses. With ClientConfig.MaxInFlight, requests beyond the bound wait
// in order for earlier ones to complete instead of failing.
func (c *Client) Pipeline(reqs []Request, cb func([]Response)) {
	c.enter()
	defer c.exit()
	out := make([]Response, len(reqs))
	pending := len(reqs)
	if pending == 0 {
		c.run(func() { cb(out) })
		return
	}
	finish := func() {
		pending--
		if pending == 0 {
			cb(out)
		}
	}
	for i, req := range reqs {
		r := &out[i]
		switch q := req.(type) {
		case *CreateRequest:
			c.Create(q.Path, q.Data, q.Flags, q.Acl, func(p string, err error) { r.Path, r.Err = p, err; finish() })
		case *SetDataRequest:
			c.Set(q.Path, q.Data, q.Version, func(st *Stat, err error) { r.Stat, r.Err = st, err; finish() })
		case *MultiRequest:
			if q == nil {
				r.Err = ErrBadArguments
				c.run(finish)
				break
			}
			c.Multi(q.Ops, func(res []MultiResponse, err error) { r.Multi, r.Err = res, err; finish() })
		case *DeleteRequest:
			c.Delete(q.Path, q.Version, func(err error) { r.Err = err; finish() })
		case *GetDataRequest:
			cb := func(d []byte, st *Stat, err error) { r.Data, r.Stat, r.Err = d, st, err; finish() }
			if q.Watch != nil {
				c.GetW(q.Path, cb, q.Watch)
			} else {
				c.Get(q.Path, cb)
			}
		case *ExistsRequest:
			cb := func(ok bool, st *Stat, err error) { r.Exists, r.Stat, r.Err = ok, st, err; finish() }
			if q.Watch != nil {
				c.ExistsW(q.Path, cb, q.Watch)
			} else {
				c.Exists(q.Path, cb)
			}
		case *GetChildrenRequest:
			cb := func(kids []string, st *Stat, err error) { r.Children, r.Stat, r.Err = kids, st, err; finish() }
			if q.Watch != nil {
				c.ChildrenW(q.Path, cb, q.Watch)
			} else {
				c.Children(q.Path, cb)
			}
		default:
			r.Err = ErrBadArguments // a nil request
			c.run(finish)
		}
	}
}
