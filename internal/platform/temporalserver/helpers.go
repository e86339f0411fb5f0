package temporalserver

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
)

func durationProto(d time.Duration) *durationpb.Duration { return durationpb.New(d) }

// quietSDKLogger drops the SDK client's logs while registering attributes.
type quietSDKLogger struct{}

func (quietSDKLogger) Debug(string, ...any) {}
func (quietSDKLogger) Info(string, ...any)  {}
func (quietSDKLogger) Warn(string, ...any)  {}
func (quietSDKLogger) Error(string, ...any) {}
