// Package httpaccept reads the Accept and Accept-Language headers: their
// values with their weights (RFC 9110 §12.4.2), the one rule the API's
// content negotiation and the console's language choice share.
package httpaccept

import (
	"strconv"
	"strings"
)

// Range is one value of the header (a media range, a language tag),
// lowercased, and its weight.
type Range struct {
	Value string
	Q     float64
}

// Parse splits a header into its ranges, in order. A weight that is not a
// number from 0 to 1 counts as 0: that range is not acceptable.
func Parse(header string) []Range {
	var out []Range
	for _, part := range strings.Split(header, ",") {
		value, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		value = strings.ToLower(strings.TrimSpace(value))
		if value == "" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.TrimSpace(k) == "q" {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || !(f >= 0 && f <= 1) {
					f = 0
				}
				q = f
			}
		}
		out = append(out, Range{Value: value, Q: q})
	}
	return out
}
