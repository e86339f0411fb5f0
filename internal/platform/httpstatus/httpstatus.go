// Package httpstatus records what a handler answered, the status and
// whether anything was written, for the access log, panic recovery and
// the request metrics, which each wrap the response writer.
package httpstatus

import "net/http"

// Recorder is a ResponseWriter that remembers the first status written.
type Recorder struct {
	http.ResponseWriter
	Status int  // 200 until a handler writes another
	Wrote  bool // a status or a body was written
}

// New wraps w.
func New(w http.ResponseWriter) *Recorder {
	return &Recorder{ResponseWriter: w, Status: http.StatusOK}
}

func (r *Recorder) WriteHeader(code int) {
	if !r.Wrote {
		r.Status, r.Wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *Recorder) Write(b []byte) (int, error) {
	r.Wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
