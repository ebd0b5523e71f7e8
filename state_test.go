// state_test.go covers state.go: State.String (the STATUS column), the state transitions and humanDuration.
package main

import (
	"testing"
	"time"
)

func TestStateString(t *testing.T) {
	now := time.Now()
	tests := []struct {
		state State
		want  string
	}{
		{State{Status: "created"}, "Created"},
		{State{Status: "running", Running: true, StartedAt: now.Add(-5 * time.Second)}, "Up 5 seconds"},
		{State{Status: "running", Running: true, StartedAt: now.Add(-3 * time.Hour)}, "Up 3 hours"},
		{State{Status: "exited", ExitCode: 0, FinishedAt: now.Add(-90 * time.Second)}, "Exited (0) About a minute ago"},
		{State{Status: "exited", ExitCode: 137, FinishedAt: now.Add(-3 * 24 * time.Hour)}, "Exited (137) 3 days ago"},
		{State{Status: "exited", ExitCode: 255, FinishedAt: now}, "Exited (255) Less than a second ago"},
	}
	for _, tt := range tests {
		if got := tt.state.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.state, got, tt.want)
		}
	}
}

func TestStateTransitions(t *testing.T) {
	s := State{Status: "created", ExitCode: 127, Error: "not found", OOMKilled: true}
	s.setRunning(1234, 99)
	if s.Status != "running" || !s.Running || s.Pid != 1234 || s.PidStart != 99 || s.ExitCode != 0 || s.Error != "" || s.OOMKilled {
		t.Errorf("after setRunning: %+v", s)
	}
	if s.StartedAt.IsZero() || !s.FinishedAt.IsZero() || s.StartedAt.Location() != time.UTC {
		t.Errorf("after setRunning: StartedAt %v, FinishedAt %v", s.StartedAt, s.FinishedAt)
	}
	if got := s.String(); got != "Up Less than a second" {
		t.Errorf("running String() = %q", got)
	}
	s.setStopped(3)
	if s.Status != "exited" || s.Running || s.Pid != 0 || s.PidStart != 0 || s.ExitCode != 3 || s.FinishedAt.IsZero() {
		t.Errorf("after setStopped: %+v", s)
	}
	if got := s.String(); got != "Exited (3) Less than a second ago" {
		t.Errorf("exited String() = %q", got)
	}
}

func TestStateHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "Less than a second"},
		{0, "Less than a second"},
		{999 * time.Millisecond, "Less than a second"},
		{time.Second, "1 second"},
		{1999 * time.Millisecond, "1 second"},
		{2 * time.Second, "2 seconds"},
		{59 * time.Second, "59 seconds"},
		{60 * time.Second, "About a minute"},
		{119 * time.Second, "About a minute"},
		{2 * time.Minute, "2 minutes"},
		{59*time.Minute + 59*time.Second, "59 minutes"},
		{time.Hour, "About an hour"},
		{119 * time.Minute, "About an hour"},
		{2 * time.Hour, "2 hours"},
		{47 * time.Hour, "47 hours"},
		{48 * time.Hour, "2 days"},
		{13 * 24 * time.Hour, "13 days"},
		{14 * 24 * time.Hour, "2 weeks"},
		{100 * 24 * time.Hour, "14 weeks"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
