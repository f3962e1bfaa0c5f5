package history

import (
	"errors"
	"fmt"
	"io"
)

// Writer writes a history: the config line first, then the operations.
// It refuses what Read would refuse (a missing config line, a bad field, a
// send completed twice or by another process, time going back), so a
// history it wrote always reads back.
type Writer struct {
	w   io.Writer
	seq sequence
	buf []byte
	err error
}

// NewWriter returns a Writer onto w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, seq: newSequence()} }

// WriteConfig writes a config line: the run's (the first line), or a later
// one no weaker than the run's.
func (w *Writer) WriteConfig(c Config) error {
	if w.err != nil {
		return w.err
	}
	if err := w.seq.config(c); err != nil {
		return fmt.Errorf("history: config: %w", err)
	}
	return w.line(c.AppendJSON(w.buf[:0]))
}

// Write writes one operation.
func (w *Writer) Write(op Op) error {
	if w.err != nil {
		return w.err
	}
	if err := w.seq.op(op); err != nil {
		return fmt.Errorf("history: %s %s: %w", op.Type, op.F, err)
	}
	return w.line(op.AppendJSON(w.buf[:0]))
}

func (w *Writer) line(b []byte) error {
	b = append(b, '\n')
	w.buf = b
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("history: write: %w", err)
		return w.err
	}
	return nil
}

// errNoConfig is returned for an operation before the config line.
var errNoConfig = errors.New("the first line must be the config")

// sequence checks what spans lines: the config first and no weaker later
// one, time never going back, and each send invoked once and completed at
// most once, by its process, with its topic and key.
type sequence struct {
	first   *Config
	lastNs  int64
	line    int
	invokes map[uint64]*invocation
}

type invocation struct {
	op        Op
	line      int
	completed int // the completing line, 0 if none yet
}

func newSequence() sequence { return sequence{invokes: map[uint64]*invocation{}} }

// config takes a config line; on success it counts the line.
func (s *sequence) config(c Config) error {
	if err := c.validate(); err != nil {
		return err
	}
	if s.first == nil {
		if s.line != 0 {
			return errNoConfig
		}
		s.first = &c
	} else if why := c.weakerThan(*s.first); why != "" {
		return fmt.Errorf("weaker than the first config line (%s)", why)
	}
	s.line++
	return nil
}

// op takes an operation line; on success it counts the line.
func (s *sequence) op(op Op) error {
	if err := s.checkOp(op); err != nil {
		return err
	}
	s.lastNs = op.TimeNs
	s.line++
	return nil
}

// checkOp checks op as line s.line+1; it changes s only on success (the
// send bookkeeping, last of all).
func (s *sequence) checkOp(op Op) error {
	line := s.line + 1
	if s.first == nil {
		return errNoConfig
	}
	if err := op.validate(); err != nil {
		return err
	}
	if op.TimeNs < s.lastNs {
		return fmt.Errorf("field \"t_ns\": %d is before the previous line's %d", op.TimeNs, s.lastNs)
	}
	if op.F != Send {
		return nil
	}
	inv := s.invokes[op.Value]
	if op.Type == Invoke {
		if inv != nil {
			return fmt.Errorf("field \"value\": %d was already sent on line %d", op.Value, inv.line)
		}
		s.invokes[op.Value] = &invocation{op: op, line: line}
		return nil
	}
	switch {
	case inv == nil:
		return fmt.Errorf("field \"value\": %d completes a send never invoked", op.Value)
	case inv.completed != 0:
		return fmt.Errorf("field \"value\": the send of %d already completed on line %d", op.Value, inv.completed)
	case op.Process != inv.op.Process:
		return fmt.Errorf("field \"process\": %q completes the send %q invoked on line %d", op.Process, inv.op.Process, inv.line)
	case op.Topic != inv.op.Topic:
		return fmt.Errorf("field \"topic\": %q, but the send was invoked for %q on line %d", op.Topic, inv.op.Topic, inv.line)
	case op.Keyed != inv.op.Keyed || op.Key != inv.op.Key:
		return fmt.Errorf("field \"key\": differs from the invoke on line %d", inv.line)
	}
	inv.completed = line
	return nil
}
