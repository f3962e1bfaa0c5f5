package sim

import "math"

// Rand is a deterministic pseudo-random stream (xoshiro256**, seeded through
// splitmix64). Its output depends only on its seed, never on the Go release,
// so a seed replays the same run on any machine. A Rand is not safe for
// concurrent use; simulated code runs on one thread.
type Rand struct {
	s [4]uint64
}

// splitmix64 advances *x and returns the next output of SplitMix64, the
// generator recommended for seeding xoshiro.
func splitmix64(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// NewRand returns a stream seeded with seed.
func NewRand(seed uint64) *Rand {
	r := &Rand{}
	x := seed
	for i := range r.s {
		r.s[i] = splitmix64(&x)
	}
	return r
}

// streamSeed derives the seed of the named stream from the run's seed with
// FNV-1a over the name, so streams are independent of each other and of the
// order in which they are first used.
func streamSeed(seed uint64, name string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 1099511628211
	}
	x := seed ^ h
	return splitmix64(&x)
}

func rotl(x uint64, k uint) uint64 { return (x << k) | (x >> (64 - k)) }

// Uint64 returns 64 random bits.
func (r *Rand) Uint64() uint64 {
	s := &r.s
	result := rotl(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = rotl(s[3], 45)
	return result
}

// Uint64n returns a uniform value in [0, n). It panics if n == 0.
func (r *Rand) Uint64n(n uint64) uint64 {
	if n == 0 {
		panic("sim: Rand.Uint64n(0)")
	}
	// Lemire's nearly-divisionless method: unbiased, usually one multiply.
	hi, lo := mul64(r.Uint64(), n)
	if lo < n {
		threshold := -n % n
		for lo < threshold {
			hi, lo = mul64(r.Uint64(), n)
		}
	}
	return hi
}

func mul64(a, b uint64) (hi, lo uint64) {
	const mask32 = 1<<32 - 1
	a0, a1 := a&mask32, a>>32
	b0, b1 := b&mask32, b>>32
	w0 := a0 * b0
	t := a1*b0 + w0>>32
	w1 := t&mask32 + a0*b1
	hi = a1*b1 + t>>32 + w1>>32
	lo = a * b
	return hi, lo
}

// Intn returns a uniform int in [0, n). It panics if n <= 0.
func (r *Rand) Intn(n int) int {
	if n <= 0 {
		panic("sim: Rand.Intn with n <= 0")
	}
	return int(r.Uint64n(uint64(n)))
}

// Float64 returns a uniform value in [0, 1).
func (r *Rand) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }

// Chance reports true with probability p.
func (r *Rand) Chance(p float64) bool { return r.Float64() < p }

// DurationBetween returns a uniform duration in [min, max].
func (r *Rand) DurationBetween(min, max Duration) Duration {
	if max < min {
		panic("sim: DurationBetween with max < min")
	}
	return min + Duration(r.Uint64n(uint64(max-min)+1))
}

// Exp returns an exponentially distributed value with mean 1.
func (r *Rand) Exp() float64 { return -math.Log(1 - r.Float64()) }

// Shuffle permutes n elements with swap, Fisher-Yates.
func (r *Rand) Shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i > 0; i-- {
		swap(i, r.Intn(i+1))
	}
}
