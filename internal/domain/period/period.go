// Package period parses and applies ISO-8601 durations such as P1M, P1Y,
// P30D or PT72H. Calendar parts (years, months, days) are applied with
// time.AddDate so that a monthly term that starts on 31 January ends on the
// last day Go's calendar arithmetic gives, not after a fixed 30 days.
package period

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Period is an ISO-8601 duration split into its calendar and clock parts.
type Period struct {
	Years, Months, Days int
	Clock               time.Duration // the part after 'T'
}

// Parse reads a duration such as "P1Y", "P1M", "P7D", "PT60S" or "P1DT12H".
// Weeks ("P2W") are accepted; fractions and negative values are not.
func Parse(s string) (Period, error) {
	var p Period
	if len(s) < 3 || s[0] != 'P' {
		return p, fmt.Errorf("period %q: want an ISO-8601 duration such as P1M or PT72H", s)
	}
	rest, inClock, seen := s[1:], false, false
	for rest != "" {
		if rest[0] == 'T' {
			if inClock {
				return p, fmt.Errorf("period %q: 'T' appears twice", s)
			}
			inClock, rest = true, rest[1:]
			if rest == "" {
				return p, fmt.Errorf("period %q: nothing after 'T'", s)
			}
			continue
		}
		end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if end <= 0 {
			return p, fmt.Errorf("period %q: expected a number at %q", s, rest)
		}
		n, err := strconv.Atoi(rest[:end])
		if err != nil || n > 100000 {
			return p, fmt.Errorf("period %q: number %q out of range", s, rest[:end])
		}
		unit := rest[end]
		rest = rest[end+1:]
		seen = true
		switch {
		case !inClock && unit == 'Y':
			p.Years += n
		case !inClock && unit == 'M':
			p.Months += n
		case !inClock && unit == 'W':
			p.Days += 7 * n
		case !inClock && unit == 'D':
			p.Days += n
		case inClock && unit == 'H':
			p.Clock += time.Duration(n) * time.Hour
		case inClock && unit == 'M':
			p.Clock += time.Duration(n) * time.Minute
		case inClock && unit == 'S':
			p.Clock += time.Duration(n) * time.Second
		default:
			return p, fmt.Errorf("period %q: unexpected unit %q", s, string(unit))
		}
	}
	if !seen || p.IsZero() {
		return p, fmt.Errorf("period %q: must be longer than zero", s)
	}
	return p, nil
}

// MustParse is Parse for literals known to be valid.
func MustParse(s string) Period {
	p, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return p
}

// IsZero reports whether the period has no length.
func (p Period) IsZero() bool {
	return p.Years == 0 && p.Months == 0 && p.Days == 0 && p.Clock == 0
}

// AddTo returns t moved forward by the period.
func (p Period) AddTo(t time.Time) time.Time {
	return t.AddDate(p.Years, p.Months, p.Days).Add(p.Clock)
}

// TotalMonths is the calendar part in months, or 0 when the period has a
// day or clock part (such periods are not whole months).
func (p Period) TotalMonths() int {
	if p.Days != 0 || p.Clock != 0 {
		return 0
	}
	return p.Years*12 + p.Months
}

// String renders the canonical ISO-8601 form.
func (p Period) String() string {
	var b strings.Builder
	b.WriteByte('P')
	if p.Years != 0 {
		fmt.Fprintf(&b, "%dY", p.Years)
	}
	if p.Months != 0 {
		fmt.Fprintf(&b, "%dM", p.Months)
	}
	if p.Days != 0 {
		fmt.Fprintf(&b, "%dD", p.Days)
	}
	if p.Clock != 0 {
		b.WriteByte('T')
		rest := p.Clock
		if h := rest / time.Hour; h != 0 {
			fmt.Fprintf(&b, "%dH", h)
			rest -= h * time.Hour
		}
		if m := rest / time.Minute; m != 0 {
			fmt.Fprintf(&b, "%dM", m)
			rest -= m * time.Minute
		}
		if s := rest / time.Second; s != 0 {
			fmt.Fprintf(&b, "%dS", s)
		}
	}
	return b.String()
}

// MarshalJSON writes the canonical string form.
func (p Period) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

// UnmarshalJSON reads the string form.
func (p *Period) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	parsed, err := Parse(s)
	if err != nil {
		return err
	}
	*p = parsed
	return nil
}
