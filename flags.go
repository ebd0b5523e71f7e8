// flags.go: parsing a command's flags the way docker users type them.
//
// Each CmdXxx in commands.go starts by declaring its flags here. Go's flag package does the parsing; this
// file adds what docker's command line has and Go's lacks: a short and a long name for one flag (-a,
// --all), short booleans run together (-aq, -di), repeatable flags (-e A=1 -e B=2), flags after the
// arguments (`rm web -f`), and `--help` printed as docker prints it. What Go's lacks for a hostile
// client: whole numbers in decimal within a range (Int, parseDecimal), so none overflows or wraps
// around, and errors that quote the input on one line (printable).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// errHelpShown ends a command that printed its --help: not an error, exit status 0.
var errHelpShown = errors.New("help shown")

type Flags struct {
	set         *flag.FlagSet
	name        string
	usage       string
	description string
	out         io.Writer
	options     []option
	bools       map[string]bool // single-letter boolean flags, which may be run together
	valued      map[string]bool // flags followed by a value ("-w /tmp"), which expandShorts steps over
}

type option struct {
	short, long, value, usage string
}

func newFlags(session *Session, name, usage, description string) *Flags {
	set := flag.NewFlagSet(name, flag.ContinueOnError)
	set.SetOutput(io.Discard)
	return &Flags{set: set, name: name, usage: usage, description: description, out: session.Stdout, bools: map[string]bool{}, valued: map[string]bool{}}
}

func (f *Flags) define(short, long, value, usage string, define func(name string)) {
	for _, name := range []string{short, long} {
		if name != "" {
			define(name)
			f.valued[name] = value != ""
		}
	}
	f.options = append(f.options, option{short, long, value, usage})
}

func (f *Flags) Bool(p *bool, short, long, usage string) {
	f.define(short, long, "", usage, func(name string) { f.set.BoolVar(p, name, *p, usage) })
	if short != "" {
		f.bools[short] = true
	}
}

func (f *Flags) String(p *string, short, long, value, usage string) {
	f.define(short, long, value, usage, func(name string) { f.set.StringVar(p, name, *p, usage) })
}

// Int is a whole number written in decimal that must lie from min to max. Anything else (a sign
// where none may be, "0x10", an overflow, a value out of range) is an error naming the flag, so no
// number wraps around on its way to the kernel. (Go's flag.Int would take "0x10" and "010" as 16 and 8.)
func (f *Flags) Int(p *int, short, long string, min, max int, usage string) {
	f.define(short, long, "int", usage, func(name string) {
		f.set.Func(name, usage, func(value string) error {
			n, err := parseDecimal(value, min, max)
			if err == nil {
				*p = n
			}
			return err
		})
	})
}

// parseDecimal reads a whole number within [min, max] written in decimal digits, after a "-" only
// where negative numbers are allowed (min < 0): "-0" is no port, CPU or signal.
func parseDecimal(text string, min, max int) (int, error) {
	digits := text
	if min < 0 {
		digits = strings.TrimPrefix(text, "-")
	}
	n, err := strconv.Atoi(text)
	if digits == "" || strings.Trim(digits, "0123456789") != "" || err != nil || n < min || n > max {
		return 0, fmt.Errorf("a whole number from %d to %d expected", min, max)
	}
	return n, nil
}

// List is a flag that may be repeated; each use appends a value.
func (f *Flags) List(p *[]string, short, long, usage string) {
	f.define(short, long, "list", usage, func(name string) {
		f.set.Func(name, usage, func(value string) error { *p = append(*p, value); return nil })
	})
}

// Changed tells whether the flag with this long name was given, as docker's flags.Changed: `run
// --entrypoint ""` says something that leaving the flag out does not.
func (f *Flags) Changed(long string) bool {
	changed := false
	f.set.Visit(func(fl *flag.Flag) { changed = changed || fl.Name == long })
	return changed
}

// Parse parses args and checks the number of arguments left. With interspersed, flags may also follow
// arguments; run and create say false, since everything after the image is the container's command.
func (f *Flags) Parse(args []string, minArgs, maxArgs int, interspersed bool) ([]string, error) {
	var positional []string
	args = f.expandShorts(args)
	for {
		if err := f.set.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.PrintUsage()
				return nil, errHelpShown
			}
			// printable: the flag package repeats an unknown flag as it was given, newlines and all.
			return nil, fmt.Errorf("%s (see 'engine %s --help')", printable(err.Error()), f.name)
		}
		consumed := len(args) - len(f.set.Args())
		endOfFlags := consumed > 0 && args[consumed-1] == "--"
		args = f.set.Args()
		if !interspersed || len(args) == 0 || endOfFlags {
			positional = append(positional, args...)
			break
		}
		positional = append(positional, args[0])
		args = f.expandShorts(args[1:])
	}
	if len(positional) < minArgs || (maxArgs >= 0 && len(positional) > maxArgs) {
		return nil, fmt.Errorf("%q requires %s (see 'engine %s --help')", "engine "+f.name, argCount(minArgs, maxArgs, len(positional)), f.name)
	}
	return positional, nil
}

func argCount(min, max, given int) string {
	switch {
	case min == max:
		return fmt.Sprintf("exactly %d argument(s)", min)
	case given < min:
		return fmt.Sprintf("at least %d argument(s)", min)
	default:
		return fmt.Sprintf("at most %d argument(s)", max)
	}
}

// expandShorts turns "-aq" into "-a -q" when every letter is a boolean flag, up to the first argument.
func (f *Flags) expandShorts(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" || arg == "-" || !strings.HasPrefix(arg, "-") {
			return append(out, args[i:]...)
		}
		if f.valued[strings.TrimLeft(arg, "-")] && i+1 < len(args) {
			out = append(out, arg, args[i+1])
			i++
			continue
		}
		letters := arg[1:]
		if len(letters) > 1 && !strings.HasPrefix(letters, "-") && !strings.Contains(letters, "=") && f.allBools(letters) {
			for _, letter := range letters {
				out = append(out, "-"+string(letter))
			}
			continue
		}
		out = append(out, arg)
	}
	return out
}

func (f *Flags) allBools(letters string) bool {
	for _, letter := range letters {
		if !f.bools[string(letter)] {
			return false
		}
	}
	return true
}

func (f *Flags) PrintUsage() {
	fmt.Fprintf(f.out, "Usage:  engine %s %s\n\n%s\n", f.name, f.usage, f.description)
	if len(f.options) == 0 {
		return
	}
	fmt.Fprintf(f.out, "\nOptions:\n")
	for _, o := range f.options {
		names := "    --" + o.long
		if o.short != "" && o.long != "" {
			names = "-" + o.short + ", --" + o.long
		} else if o.long == "" {
			names = "-" + o.short
		}
		fmt.Fprintf(f.out, "  %-28s %s\n", strings.TrimRight(names+" "+o.value, " "), o.usage)
	}
}

// parseSignal reads a signal as docker does: a name with or without "SIG" (TERM, SIGKILL) or a number
// from 1 to 64, the kernel's signals (_NSIG).
func parseSignal(name string) (int, error) {
	if n, err := parseDecimal(name, 1, 64); err == nil {
		return n, nil
	}
	if n, ok := signalNumbers[strings.TrimPrefix(strings.ToUpper(name), "SIG")]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("invalid signal: %s", printable(name))
}

var signalNumbers = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
	"USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17,
	"CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25,
	"VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "PWR": 30, "SYS": 31,
}

// printable returns user input for an error message: as it is if it is plain text, else quoted with
// Go's escapes, so that the error stays one line and shows what was given.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	return strconv.Quote(s)
}
