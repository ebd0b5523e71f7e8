// logs_view.go: which part of a container's log `engine logs` shows, and how.
//
// CmdLogs (logs.go) reads the flags docker's `logs` has into a logView: --tail (the last N lines, found
// by logs_scan.go), --since and --until (the records whose time lies between), -t (each line preceded
// by the time of the record it began in) and -f (go on as the container writes). Times take docker's
// forms: an RFC 3339 time or date, Unix seconds, or a duration back from now ("10m").
package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// timestampFormat is how `docker logs -t` prints a time: RFC 3339 with all nine digits of the
// nanoseconds (docker's RFC3339NanoFixed), in UTC, so that the lines of a log line up.
const timestampFormat = "2006-01-02T15:04:05.000000000Z07:00"

// logView is what part of the log to show, and how.
type logView struct {
	tail       int // the last lines to show; -1: all
	timestamps bool
	since      time.Time // zero: from the start
	until      time.Time // zero: to the end
	follow     bool
}

// parseLogsFlags reads `engine logs`'s flags and returns the view and the container's name.
func parseLogsFlags(session *Session, args []string) (logView, string, error) {
	view := logView{tail: -1}
	tail, since, until := "all", "", ""
	f := newFlags(session, "logs", "[OPTIONS] CONTAINER", "Print a container's output, stdout and stderr in the order written")
	f.Bool(&view.follow, "f", "follow", "Follow the output until the container stops")
	f.String(&tail, "n", "tail", "string", "Show this many lines from the end of the log (default \"all\")")
	f.Bool(&view.timestamps, "t", "timestamps", "Show the time each line was written")
	f.String(&since, "", "since", "string", "Show output since a time (2013-01-02T13:23:37Z), Unix seconds, or a duration back from now (42m)")
	f.String(&until, "", "until", "string", "Show output until a time (2013-01-02T13:23:37Z), Unix seconds, or a duration back from now (42m)")
	names, err := f.Parse(args, 1, 1, true)
	if err != nil {
		return view, "", err
	}
	if view.tail, err = parseTail(tail); err != nil {
		return view, "", err
	}
	now := time.Now()
	if view.since, err = parseLogTime("since", since, now); err != nil {
		return view, "", err
	}
	if view.until, err = parseLogTime("until", until, now); err != nil {
		return view, "", err
	}
	return view, names[0], nil
}

// parseTail reads --tail: "all", or a whole number of lines.
func parseTail(text string) (int, error) {
	if text == "all" {
		return -1, nil
	}
	n, err := parseDecimal(text, 0, math.MaxInt32)
	if err != nil {
		return 0, fmt.Errorf("invalid --tail %s: a number of lines or \"all\"", printable(text))
	}
	return n, nil
}

// parseLogTime reads --since or --until as docker's GetTimestamp does: a duration is that long before
// now; an RFC 3339 time, or a prefix of one down to the date, without a zone is in the local time zone;
// anything else must be Unix seconds, with up to nine decimals. "" is no bound.
func parseLogTime(flag, text string, now time.Time) (time.Time, error) {
	if text == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(text); err == nil && text != "0" {
		return now.Add(-d), nil
	}
	if strings.Contains(text, "-") {
		t, err := parseRFC3339Prefix(text)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid --%s %s: a time like 2013-01-02T13:23:37Z, Unix seconds or a duration like 10m", flag, printable(text))
		}
		return t, nil
	}
	t, err := parseUnixSeconds(text)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid --%s %s: a time like 2013-01-02T13:23:37Z, Unix seconds or a duration like 10m", flag, printable(text))
	}
	return t, nil
}

// parseRFC3339Prefix reads the forms of a time docker's --since takes: 2006-01-02, 2006-01-02T15,
// 2006-01-02T15:04, 2006-01-02T15:04:05 and 2006-01-02T15:04:05.999999999, each with or without a zone
// (Z, or +07:00 / -07:00).
func parseRFC3339Prefix(text string) (time.Time, error) {
	// Docker's rule: a zone is there if the text has a Z or a +, or three dashes (two in the date, one
	// before the zone's hours).
	zoned := strings.ContainsAny(text, "zZ+") || strings.Count(text, "-") == 3
	layout := "2006-01-02"
	if _, clock, ok := strings.Cut(text, "T"); ok {
		colons := strings.Count(clock, ":")
		if zoned && !strings.ContainsAny(clock, "zZ") && colons > 0 {
			colons-- // the zone's own colon, in +07:00
		}
		layout += []string{"T15", "T15:04", "T15:04:05"}[min(colons, 2)]
		if strings.Contains(clock, ".") {
			layout += ".999999999"
		}
	}
	if zoned {
		return time.Parse(layout+"Z07:00", strings.Replace(text, "z", "Z", 1))
	}
	return time.ParseInLocation(layout, text, time.Local)
}

// parseUnixSeconds reads seconds since 1970, with a fraction of up to nine digits: 1700000000.5.
func parseUnixSeconds(text string) (time.Time, error) {
	whole, fraction, _ := strings.Cut(text, ".")
	seconds, err := parseDecimal(whole, 0, math.MaxInt32*4)
	if err != nil || len(fraction) > 9 || strings.Trim(fraction, "0123456789") != "" {
		return time.Time{}, fmt.Errorf("not Unix seconds")
	}
	nanos := 0
	if fraction != "" {
		nanos, _ = strconv.Atoi(fraction + strings.Repeat("0", 9-len(fraction)))
	}
	return time.Unix(int64(seconds), int64(nanos)), nil
}

// shows tells whether a record written at t is in the view's time range.
func (v logView) shows(t time.Time) bool {
	return (v.since.IsZero() || !t.Before(v.since)) && (v.until.IsZero() || !t.After(v.until))
}

// past tells whether a record written at t, and so every record after it, is after --until.
func (v logView) past(t time.Time) bool {
	return !v.until.IsZero() && t.After(v.until)
}
